"""The composition root: ``build_application`` wires settings, bank, store, handlers and jobs."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from telegram import BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, Defaults
from telegram.request import BaseRequest

from bot.config import Settings
from bot.core.limits import CACHE_BOUND
from bot.core.models import QuestionBank
from bot.db import Store
from bot.handlers import ALLOWED_UPDATES, register
from bot.handlers.errors import error_handler
from bot.runtime.lifecycle import BotApplication
from bot.runtime.metrics import MetricsServer
from bot.runtime.parse import PressBot
from bot.runtime.polling import UpdatesRequest
from bot.runtime.ratelimit import FloodLimiter
from bot.runtime.request import RetryingRequest
from bot.runtime.standby import PollingLease
from bot.runtime.updates import FairUpdateProcessor, lend_slot
from bot.runtime.webhook import run_webhook
from bot.services import channel, game, jobs
from bot.state.context import BotApp, BotData, context_types
from bot.ui.commands import bot_commands

log = logging.getLogger(__name__)


def build_application(
    settings: Settings,
    bank: QuestionBank,
    *,
    clock: Callable[[], datetime] | None = None,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
) -> BotApp:
    """Build the Application; ``post_init`` opens the store and restores the schedule."""
    # PTB 22.2 deprecated integer ``RetryAfter.retry_after`` (it becomes a timedelta in v23).
    # Opt in here, not at import (importing the package must not change the environment):
    # PTB reads the variable each time the value is read (telegram/_utils/datetime.py,
    # get_timedelta_value), and nothing reads it before an application is built. PTB's rate
    # limiter and network loop take either type; runtime/webhook.py handles both too.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    data = BotData(settings=settings, bank=bank)
    if clock is not None:
        data.clock = clock

    metrics_server: list[MetricsServer] = []
    polling_lease: list[PollingLease] = []
    updates_request = updates_request or UpdatesRequest(read_timeout=30, pause=settings.poll_pause)
    app_ref: list[BotApp] = []  # the Application, built below

    async def health() -> str | None:
        """/healthz: None while the database answers and updates are being taken."""
        if data.store_ is None or not await data.store_.database.ping():
            return "the database does not answer"
        polling = app_ref[0].updater is not None and app_ref[0].updater.running
        if not app_ref[0].running or not (settings.webhook_url or polling):
            return "updates are not being taken"
        return None

    async def post_init(app: BotApp) -> None:
        data.store_ = await Store.open(
            settings.database_location, busy_timeout=settings.db_busy_timeout
        )
        data.store_.database.lend = lend_slot  # see Database.lend
        if data.store_.database.dialect == "postgres" and isinstance(
            app.bot.rate_limiter, FloodLimiter
        ):  # the flood budget is the bot's, shared by every process (CONTRACT §10)
            app.bot.rate_limiter.shared = data.store_.workers.reserve_send
        if (
            not settings.webhook_url
            and data.store_.database.dialect == "postgres"
            and isinstance(updates_request, UpdatesRequest)
        ):  # several processes may poll this database: one at a time (CONTRACT §10)
            workers = data.store_.workers
            lease = PollingLease(workers)
            updates_request.gate = lease.wait_turn
            updates_request.done = workers.done_among
            polling_lease.append(lease)

            async def replay() -> None:  # a standby taking over runs what the last kept
                await _replay_kept_updates(app, data)

            lease.on_take = replay
            if isinstance(app.update_processor, FairUpdateProcessor):

                async def mark(update: object) -> None:
                    if isinstance(update, Update):
                        await workers.mark_done(update.update_id, data.clock())

                app.update_processor.on_done = mark
        if settings.metrics_port is not None:
            server = MetricsServer(health)
            await server.start(settings.metrics_listen, settings.metrics_port)
            metrics_server.append(server)
            data.metrics_port = server.port
        # Bounded: a learner beyond the most recent CACHE_BOUND zones counts days in TIMEZONE.
        data.user_zones.update(await data.store_.users.user_timezones(CACHE_BOUND))
        await jobs.restore(app, data)
        await game.restore(app.job_queue, data.store_, data.clock())
        await _replay_kept_updates(app, data)
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

    async def post_stop(app: BotApp) -> None:
        while polling_lease:  # polling has stopped (its last offset sent): a standby may take it
            await polling_lease.pop().release()
        # Updates received are answered and recorded (app.stop); now what they started.
        if data.store_ is not None:
            await jobs.drain(data, app.bot)

    async def post_shutdown(_: BotApp) -> None:
        data.drawer.close()
        while metrics_server:
            await metrics_server.pop().stop()
        if data.store_ is not None:
            await data.store_.close()
            data.store_ = None
        log.info("bot stopped; database closed")

    # The bot is built here rather than by the builder only to be a PressBot (a press's
    # update parsed lazily: runtime/parse.py); its arguments are those the builder would pass.
    bot = PressBot(
        settings.token,
        base_url=settings.base_url,
        defaults=Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.zone),
        request=request
        or RetryingRequest(connection_pool_size=settings.connection_pool_size, pool_timeout=10),
        get_updates_request=updates_request,
        rate_limiter=FloodLimiter(enabled=settings.rate_limit),
    )
    builder: Any = (
        ApplicationBuilder()
        .application_class(BotApplication)
        .bot(bot)
        .context_types(context_types(data))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .concurrent_updates(FairUpdateProcessor(settings.concurrent_updates))
    )
    app: BotApp = builder.build()
    if isinstance(app, BotApplication):

        async def keep_updates(updates: Sequence[object]) -> None:
            if data.store_ is not None:
                kept = [(u.update_id, u.to_dict()) for u in updates if isinstance(u, Update)]
                await data.store_.pending.keep(kept)
                log.info("shutdown: %d update(s) kept to run at the next start", len(kept))

        app.keep_updates = keep_updates
    app_ref.append(app)
    register(app)
    app.add_error_handler(error_handler)
    return app


async def _replay_kept_updates(app: BotApp, data: BotData) -> None:
    """Updates the last run took but did not handle in time run first (``runtime.lifecycle``):
    Telegram will not deliver them again."""
    kept = await data.store.pending.take()
    for body in kept:
        try:
            app.update_queue.put_nowait(Update.de_json(body, app.bot))
        except Exception:  # stored by an older PTB in a shape this one cannot read
            log.warning("a kept update could not be read again; skipped", exc_info=True)
    if kept:
        log.info("%d update(s) kept at the last stop run now", len(kept))


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
    """Long polling (or, with WEBHOOK_URL, a webhook server) until SIGINT/SIGTERM; then
    in-flight updates finish and the DB closes."""
    app = build_application(settings, bank)
    if settings.webhook_url:
        asyncio.run(run_webhook(app, settings, ALLOWED_UPDATES))
        return
    # Only what the bot handles: fewer updates to fetch, and none of a type it cannot read.
    app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
