"""The update processor: one user's updates in order, users side by side, fair under overload.

- One user's (or chat's) updates run one after another: a fast double tap never races itself.
- A slot (``max_concurrent_updates`` for presses, as many again for the rest) bounds the work
  done at once. It is taken only after the user's turn has come, and it is *lent back* while
  the update waits on Telegram (``lend_slot``, used by the flood limiter around every
  request): a reply that waits 3 s in a group's 20-a-minute limit no longer keeps a private
  /start waiting behind it.
- A user's pending updates are bounded (``MAX_PENDING_PER_USER``): past that, updates are
  dropped, and the user hears of it once per flood. One account sending thousands of
  commands costs a few queued updates, not a task and a coroutine each.

Fairness between chats is then the flood limiter's: each chat passes its own limit (one a
second per private chat, 20 a minute per group) before it queues, first come first served, for
the overall 30 a second, so no chat has more than a message or two in that queue and every
chat's wait there is about (active chats / 30) s.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot.runtime import metrics

log = logging.getLogger(__name__)

PTB_SLOTS = 4096
MAX_PENDING_PER_USER = 16  # far above a human's taps in flight at once; a flood keeps only these
FLOOD_NOTICE = "Slow down a little: I skipped some of your messages. Send it again in a moment."


class _Slot:
    """One update's hold on a slot, which it can lend back while it waits on Telegram."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self.semaphore = semaphore
        self.owner = asyncio.current_task()
        self.held = False

    async def take(self) -> None:
        await self.semaphore.acquire()
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


_SLOT: contextvars.ContextVar[_Slot | None] = contextvars.ContextVar("update_slot", default=None)


@asynccontextmanager
async def lend_slot() -> AsyncIterator[None]:
    """Give the current update's slot back for the duration (a request to Telegram, which may
    wait long in a flood limiter), and take one again after."""
    slot = _SLOT.get()
    # Only the update's own task lends: a task it started shares the context, not the slot.
    if slot is None or not slot.held or slot.owner is not asyncio.current_task():
        yield
        return
    slot.give_back()
    try:
        yield
    finally:
        await slot.take()


class _User:
    __slots__ = ("lock", "noticed", "pending")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.pending = 0
        self.noticed = False


class FairUpdateProcessor(BaseUpdateProcessor):
    """Concurrent updates, one user's in order, bounded per user, slots lent while waiting."""

    def __init__(
        self, max_concurrent_updates: int, *, max_pending: int = MAX_PENDING_PER_USER
    ) -> None:
        # PTB's own semaphore (process_update is final) is made wide; ours below do the work.
        super().__init__(max(PTB_SLOTS, 2 * max_concurrent_updates))
        self._users: dict[int, _User] = {}
        self._max_pending = max_pending
        # Presses get their own slots: they are short, and must never queue behind commands.
        self._presses = asyncio.Semaphore(max_concurrent_updates)
        self._others = asyncio.Semaphore(max_concurrent_updates)
        self.dropped = 0

    @staticmethod
    def _key(update: object) -> int:
        if isinstance(update, Update):
            if update.effective_user is not None:
                return update.effective_user.id
            if update.effective_chat is not None:
                return update.effective_chat.id
        return 0

    def pending(self, key: int) -> int:
        """Updates of one user admitted and not finished (for tests and logs)."""
        user = self._users.get(key)
        return user.pending if user else 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        metrics.UPDATES.inc()
        metrics.BACKLOG.inc()
        try:
            await self._process(update, coroutine)
        finally:
            metrics.BACKLOG.dec()

    async def _process(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        user = self._users.get(key)
        if user is None:  # only users with updates in flight are kept
            user = self._users[key] = _User()
        if key != 0 and user.pending >= self._max_pending:
            if isinstance(coroutine, Coroutine):
                coroutine.close()  # never run: no "was never awaited" warning
            self.dropped += 1
            if not user.noticed:
                user.noticed = True
                log.warning("update flood from %s: dropping updates past %d", key, user.pending)
                await _notice(update)
            return
        user.pending += 1
        press = isinstance(update, Update) and update.callback_query is not None
        slot = _Slot(self._presses if press else self._others)
        try:
            async with user.lock:
                await slot.take()
                token = _SLOT.set(slot)
                try:
                    await coroutine
                finally:
                    _SLOT.reset(token)
                    slot.give_back()
        finally:
            user.pending -= 1
            if user.pending == 0:
                del self._users[key]  # a later flood is told again

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


async def _notice(update: object) -> None:
    """Tell a flooding user once: as the press's alert, or in their private chat (never in a
    group, where the notice would be noise for everyone else)."""
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(FLOOD_NOTICE, show_alert=True)
        elif update.effective_chat is not None and update.effective_chat.type == "private":
            await update.get_bot().send_message(update.effective_chat.id, FLOOD_NOTICE)
    except TelegramError as exc:
        log.info("flood notice not delivered: %s", exc)
