"""The composition root: ``build_application`` wires settings, bank, store, handlers and jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from telegram import BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, BaseUpdateProcessor, Defaults
from telegram.request import BaseRequest

from bot.config import Settings
from bot.core.models import QuestionBank
from bot.db import Store
from bot.handlers import ALLOWED_UPDATES, register
from bot.runtime.context import BotApp, BotData, context_types
from bot.runtime.errors import error_handler
from bot.runtime.ratelimit import FloodLimiter
from bot.runtime.request import RetryingRequest
from bot.runtime.updates import UpdatesRequest
from bot.services import channel, jobs
from bot.ui.commands import bot_commands

log = logging.getLogger(__name__)


PTB_SLOTS = 4096


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent updates, but one user's updates in order.

    PTB's ``concurrent_updates(True)`` runs every update concurrently, so a fast double tap
    could race itself. Here updates from different users run side by side (up to
    ``max_concurrent_updates``), while each user's (or chat's) updates queue behind each other.

    Button presses get their own pool of slots: a command whose reply waits in the flood
    limiter holds a slot meanwhile, and presses must never queue behind those.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        # PTB's own semaphore (process_update is final) is made wide; ours below do the work.
        super().__init__(max(PTB_SLOTS, 2 * max_concurrent_updates))
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}
        self._presses = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._others = asyncio.BoundedSemaphore(max_concurrent_updates)

    @staticmethod
    def _key(update: object) -> int:
        if isinstance(update, Update):
            if update.effective_user is not None:
                return update.effective_user.id
            if update.effective_chat is not None:
                return update.effective_chat.id
        return 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        press = isinstance(update, Update) and update.callback_query is not None
        try:
            async with lock, self._presses if press else self._others:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def build_application(
    settings: Settings,
    bank: QuestionBank,
    *,
    clock: Callable[[], datetime] | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> BotApp:
    """Build the Application; ``post_init`` opens the store and restores the schedule."""
    data = BotData(settings=settings, bank=bank)
    if clock is not None:
        data.clock = clock

    async def post_init(app: BotApp) -> None:
        data.store_ = await Store.open(
            settings.database_path, busy_timeout=settings.db_busy_timeout
        )
        data.user_zones = await data.store_.users.user_timezones()
        await jobs.restore(app, data)
        await _set_commands(app, settings)
        if settings.channel_id:
            log.info("channel posts are signed %r", await channel.signature(data, app.bot))
        log.info(
            "bot @%s ready: %d questions, channel=%s, admins=%d",
            app.bot.username,
            len(data.bank),
            settings.channel_id or "none",
            len(settings.admin_ids),
        )

    async def post_shutdown(_: BotApp) -> None:
        if data.store_ is not None:
            await data.store_.close()
            data.store_ = None
        log.info("bot stopped; database closed")

    builder: Any = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(settings.base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.zone))
        .context_types(context_types(data))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .concurrent_updates(PerChatUpdateProcessor(settings.concurrent_updates))
        .request(
            request
            or RetryingRequest(connection_pool_size=settings.connection_pool_size, pool_timeout=10)
        )
        .get_updates_request(updates_request or UpdatesRequest(read_timeout=30))
    )
    builder = builder.rate_limiter(FloodLimiter(enabled=settings.rate_limit))
    app: BotApp = builder.build()
    register(app)
    app.add_error_handler(error_handler)
    return app


async def _set_commands(app: BotApp, settings: Settings) -> None:
    """The / menu for everyone, and a longer one in each admin's chat. Failure is not fatal."""
    try:
        await app.bot.set_my_commands(bot_commands(admin=False))
    except TelegramError as exc:
        log.warning("could not register the command list: %s", exc)
    for admin in sorted(settings.admin_ids):
        try:
            await app.bot.set_my_commands(
                bot_commands(admin=True), scope=BotCommandScopeChat(admin)
            )
        except TelegramError as exc:
            # An admin who never opened the bot: Telegram answers "chat not found".
            log.warning("could not set the admin menu for %s: %s", admin, exc)


def run_bot(settings: Settings, bank: QuestionBank) -> None:
    """Long polling until SIGINT/SIGTERM; then in-flight updates finish and the DB closes."""
    app = build_application(settings, bank)
    # Only what the bot handles: fewer updates to fetch, and none of a type it cannot read.
    app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
