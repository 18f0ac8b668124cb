"""The update processor: one user's updates in order, users side by side, fair under overload.

(One module past 300 lines: the queues, the slots lent while waiting and the stop that cuts
them share their state, and split apart each would reach into the others.)

- One user's (or chat's) updates run one after another: a fast double tap never races itself.
  Updates of a chat rather than a person (an anonymous group admin, a message sent on behalf
  of a channel, a linked channel's post) are keyed by their chat: every anonymous admin of
  every group is the same placeholder user, and one group's must not queue behind another's.
- Nothing waits while holding PTB's own semaphore. ``BaseUpdateProcessor.process_update``
  (final) holds one of its ``max_concurrent_updates`` permits around ``do_process_update``;
  ours only files the update in its key's queue and returns, so a group reply waiting minutes
  in its group's limit holds no permit, and a private /start or a press is never queued
  behind thousands of those. One worker task per key runs the key's queue.
- A slot (``max_concurrent_updates`` for presses, as many again for the rest) bounds the work
  done at once. It is *lent back* while the update waits on Telegram (``lend_slot``, used by
  the flood limiter around every request).
- The backlog is bounded, and what is dropped is said: past ``MAX_PENDING_PER_USER`` updates
  of one key, past ``MAX_PENDING_PER_GROUP`` commands waiting in one group (a group gets 20
  messages a minute: later replies would come minutes late) and past ``MAX_BACKLOG`` in all,
  a new update is dropped. A dropped press is answered ("Too many presses…"), a flooding
  private chat is told once per flood, a group is not told (the notice would be noise).
  Those answers are bounded too (``MAX_NOTICES`` in flight; past that a press's spinner
  simply times out), so a flood cannot turn into a flood of requests.
- At stop (``stop``) the backlog runs until a deadline; what has not started by then (or has
  had no request answered) is handed back, to be kept and run at the next start.

Fairness between chats is then the flood limiter's: each chat passes its own limit (one a
second per private chat, 20 a minute per group) before it queues, first come first served, for
the overall 30 a second, so no chat has more than a message or two in that queue and every
chat's wait there is about (active chats / 30) s.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.constants import ChatID, ChatType
from telegram.error import TelegramError
from telegram.ext import BaseUpdateProcessor

from bot.core.limits import (
    MAX_BACKLOG,
    MAX_NOTICES,
    MAX_PENDING_PER_GROUP,
    MAX_PENDING_PER_USER,
)
from bot.runtime import metrics

__all__ = [
    "FLOOD_NOTICE",
    "IN_FLIGHT_GRACE",
    "MAX_PENDING_PER_USER",
    "PRESS_FLOOD_NOTICE",
    "FairUpdateProcessor",
    "fairness_key",
    "lend_slot",
    "on_the_wire",
]

log = logging.getLogger(__name__)

# PTB's semaphore is held only while an update is filed (microseconds): its width no longer
# matters, it only has to exceed the updates PTB hands over at once.
PTB_SLOTS = 4096
FLOOD_NOTICE = "Slow down a little: I skipped some of your messages. Send it again in a moment."
PRESS_FLOOD_NOTICE = "Too many presses, try again in a moment."
# The placeholder senders Telegram puts in ``from`` when a chat, not a person, sent the message
# (python-telegram-bot's ``telegram.constants.ChatID``): @GroupAnonymousBot for anonymous
# admins, @Channel_Bot for messages on behalf of a channel, 777000 for a linked channel's post.
PLACEHOLDER_SENDERS = frozenset(int(c) for c in ChatID)
# At stop: after the deadline, an update whose request is on the wire gets this long to hear
# the answer (cutting it would leave its outcome unknown), then everything is cut.
IN_FLIGHT_GRACE = 1.0


@dataclass(eq=False)
class _Slot:
    """One update's hold on a slot, which it can lend back while it waits on Telegram."""

    semaphore: asyncio.Semaphore
    update: object
    owner: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task)
    held: bool = False
    sent: bool = False  # a request of this update was answered: run again, it would repeat
    in_flight: int = 0  # its requests on the wire now

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


@asynccontextmanager
async def on_the_wire() -> AsyncIterator[None]:
    """Around a request, from the moment it goes out (after every limiter). Once one has been
    answered (or failed), the update has had an effect Telegram saw: a stop that cuts it does
    not run it again. One cut while its request is on the wire is run again at the next start:
    its message may then arrive twice, which is better than never (as CONTRACT §7 says of a
    send in flight when the process dies)."""
    slot = _SLOT.get()
    if slot is None:
        yield
        return
    slot.in_flight += 1
    heard = False
    try:
        yield
        heard = True
    except asyncio.CancelledError:
        raise
    except BaseException:
        heard = True
        raise
    finally:
        slot.in_flight -= 1
        slot.sent = slot.sent or heard


@dataclass(eq=False)
class _Item:
    update: object
    coroutine: Awaitable[Any]
    group: int | None  # the group whose command count this item holds, if any


@dataclass(eq=False)
class _Queue:
    """One key's updates: those waiting, the one running, the worker running them."""

    items: deque[_Item] = field(default_factory=deque)
    running: _Slot | None = None
    worker: asyncio.Task[None] | None = None
    noticed: bool = False

    def __len__(self) -> int:
        return len(self.items) + (self.running is not None)


def fairness_key(update: object) -> int:
    """Whose turn an update takes: its sender, or its chat when no person sent it."""
    if not isinstance(update, Update):
        return 0
    if update.callback_query is not None:
        # A press is always a person's (``from`` is who pressed). Its message's sender_chat is
        # the post's author (a channel post has one): keyed by it, every press on the channel
        # would wait in one queue. (Reading it would also build a PressMessage in full.)
        return update.callback_query.from_user.id
    user, chat, message = update.effective_user, update.effective_chat, update.effective_message
    by_chat = message is not None and message.sender_chat is not None
    if chat is not None and (by_chat or user is None or user.id in PLACEHOLDER_SENDERS):
        return chat.id
    return user.id if user is not None else 0


def _is_press(update: object) -> bool:
    return isinstance(update, Update) and update.callback_query is not None


def _sent_by_hand(update: object) -> bool:
    """A press, or a message someone typed: what a flood is made of, and what the per-key and
    per-group bounds may drop. The rest (the bot added to or removed from a chat, a group
    upgraded to a supergroup, members joining) changes what the bot knows, is rare, and is
    never dropped for a flood (only past MAX_BACKLOG, when memory is at stake)."""
    if not isinstance(update, Update):
        return False
    if update.callback_query is not None:
        return True
    message = update.message
    return message is not None and bool(message.text or message.caption)


def _group_of(update: object) -> int | None:
    """The group a typed message waits on (its replies pass the group's limit), if any."""
    if not isinstance(update, Update) or update.callback_query is not None:
        return None
    chat = update.effective_chat
    if chat is None or chat.type in (ChatType.PRIVATE, ChatType.CHANNEL):
        return None
    return chat.id


def _close(coroutine: Awaitable[Any]) -> None:
    if isinstance(coroutine, Coroutine):
        coroutine.close()  # never run: no "was never awaited" warning


class FairUpdateProcessor(BaseUpdateProcessor):
    """Concurrent updates, one key's in order, bounded, slots lent while waiting."""

    def __init__(
        self,
        max_concurrent_updates: int,
        *,
        max_pending: int = MAX_PENDING_PER_USER,
        max_group: int = MAX_PENDING_PER_GROUP,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        super().__init__(max(PTB_SLOTS, 2 * max_concurrent_updates))
        self._queues: dict[int, _Queue] = {}
        self._groups: dict[int, int] = {}  # group chat id -> its commands pending
        self._backlog = 0
        self._max_pending = max_pending
        self._max_group = max_group
        self._max_backlog = max_backlog
        # Presses get their own slots: they are short, and must never queue behind commands.
        self._presses = asyncio.Semaphore(max_concurrent_updates)
        self._others = asyncio.Semaphore(max_concurrent_updates)
        self._notices: set[asyncio.Task[None]] = set()
        self._closed = False
        self._kept: list[object] = []  # arrived after the stop: to run at the next start
        self.dropped = 0
        # Long polling with a standby (runtime/standby.py): told each update handled.
        self.on_done: Callable[[object], Awaitable[None]] | None = None
        # Webhook workers on one PostgreSQL (runtime/order.py): an update waits its turn
        # behind an earlier one of its key that another worker handles; told each one ended.
        self.before: Callable[[object], Awaitable[None]] | None = None
        self.after: Callable[[object], None] | None = None

    def pending(self, key: int) -> int:
        """Updates of one key admitted and not finished (for tests and logs)."""
        queue = self._queues.get(key)
        return len(queue) if queue else 0

    def pending_in_group(self, chat_id: int) -> int:
        """Commands of one group admitted and not finished."""
        return self._groups.get(chat_id, 0)

    @property
    def backlog(self) -> int:
        """Updates admitted and not finished, all keys together."""
        return self._backlog

    @property
    def notices_in_flight(self) -> int:
        """Answers to dropped updates not yet done (bounded by MAX_NOTICES)."""
        return len(self._notices)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        metrics.UPDATES.inc()
        # Files the update and returns at once: PTB's semaphore is held only for this.
        if self._closed:
            _close(coroutine)
            self._kept.append(update)
            return
        key = fairness_key(update)
        queue = self._queues.get(key)
        by_hand = _sent_by_hand(update)
        group = _group_of(update) if by_hand else None
        full = self._backlog >= self._max_backlog or (
            by_hand
            and (
                (key != 0 and queue is not None and len(queue) >= self._max_pending)
                or (group is not None and self._groups.get(group, 0) >= self._max_group)
            )
        )
        if full:
            _close(coroutine)
            self.dropped += 1
            if self.after is not None:
                self.after(update)
            self._drop_notice(key, queue, update)
            return
        if queue is None:  # only keys with updates in flight are kept
            queue = self._queues[key] = _Queue()
        queue.items.append(_Item(update, coroutine, group))
        self._backlog += 1
        metrics.BACKLOG.inc()
        if group is not None:
            self._groups[group] = self._groups.get(group, 0) + 1
        if queue.worker is None:
            queue.worker = asyncio.create_task(self._work(key, queue), name=f"updates:{key}")

    async def _work(self, key: int, queue: _Queue) -> None:
        try:
            while queue.items:
                item = queue.items.popleft()
                slot = _Slot(
                    self._presses if _is_press(item.update) else self._others, item.update
                )
                queue.running = slot
                try:
                    if self.before is not None:
                        await self.before(item.update)
                    await slot.take()
                    token = _SLOT.set(slot)
                    try:
                        await item.coroutine
                    finally:
                        _SLOT.reset(token)
                        slot.give_back()
                    if self.on_done is not None:
                        await self.on_done(item.update)
                except Exception:  # PTB routes handler errors itself; this is a last resort
                    log.exception("update of %s failed outside its handlers", key)
                finally:
                    _close(item.coroutine)  # cancelled before it began: never awaited
                    if self.after is not None:
                        self.after(item.update)
                    queue.running = None
                    self._finished(item)
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]  # a later flood is told again

    def _finished(self, item: _Item) -> None:
        self._backlog -= 1
        metrics.BACKLOG.dec()
        if item.group is not None:
            left = self._groups.get(item.group, 1) - 1
            if left > 0:
                self._groups[item.group] = left
            else:
                self._groups.pop(item.group, None)

    def _drop_notice(self, key: int, queue: _Queue | None, update: object) -> None:
        """Every dropped press is answered (its spinner would turn for seconds otherwise); a
        flooding private chat is told once per flood. Never more than MAX_NOTICES at once."""
        first = queue is not None and not queue.noticed
        if first:
            assert queue is not None
            queue.noticed = True
            log.warning("update flood from %s: dropping updates past %d", key, len(queue))
        if not (first or _is_press(update)) or len(self._notices) >= MAX_NOTICES:
            return
        task = asyncio.create_task(_notice(update))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def stop(self, deadline: float) -> list[object]:
        """Run the backlog until ``deadline`` (event loop time), then cut it: the updates not
        begun, and those cut before any request of theirs went out, are returned (oldest
        first) to be kept for the next start; nothing is admitted to run any more."""
        loop = asyncio.get_running_loop()
        while (workers := self._workers()) and (left := deadline - loop.time()) > 0:
            await asyncio.wait(workers, timeout=left)  # a late arrival may start another
        self._closed = True
        kept: list[object] = []
        for queue in list(self._queues.values()):
            for item in queue.items:
                _close(item.coroutine)
                kept.append(item.update)
                self._finished(item)
            queue.items.clear()
        # A request on the wire (an update's, or a "too many presses" answer) gets a moment
        # to hear its answer; the rest are cut at once.
        for queue in list(self._queues.values()):
            if queue.running is not None and not queue.running.in_flight and queue.worker:
                self._cut(queue, kept)
        if waiting := self._workers() | self._notices:
            await asyncio.wait(waiting, timeout=IN_FLIGHT_GRACE)
        for queue in list(self._queues.values()):
            self._cut(queue, kept)
        for task in self._notices:
            task.cancel()
        if waiting := self._workers() | self._notices:
            await asyncio.wait(waiting)
        kept.extend(self.take_kept())
        if kept:
            log.warning("shutdown: %d update(s) not handled in time are kept", len(kept))
        return sorted(kept, key=lambda u: u.update_id if isinstance(u, Update) else 0)

    def _cut(self, queue: _Queue, kept: list[object]) -> None:
        slot, worker = queue.running, queue.worker
        if slot is None or worker is None or worker.done():
            return
        if not slot.sent:  # nothing Telegram answered yet: run it again at the next start
            kept.append(slot.update)
        else:
            log.info("shutdown: an update was cut short after it had replied")
        queue.running = None  # counted once: kept or not, the worker will not finish it
        worker.cancel()

    def _workers(self) -> set[asyncio.Task[None]]:
        return {q.worker for q in self._queues.values() if q.worker and not q.worker.done()}

    def take_kept(self) -> list[object]:
        """Updates that arrived after ``stop`` cut the backlog (they are not run)."""
        kept, self._kept = self._kept, []
        return kept

    async def initialize(self) -> None:
        """Take updates again (an Application may be initialized again after a shutdown)."""
        self._closed = False

    async def shutdown(self) -> None:
        """Nothing to tear down (``stop`` ended the workers)."""


async def _notice(update: object) -> None:
    """Tell a flooding user: a press with a short answer, a private chat with a message (never
    a group, where the notice would be noise for everyone else)."""
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(PRESS_FLOOD_NOTICE)
        elif update.effective_chat is not None and update.effective_chat.type == "private":
            await update.get_bot().send_message(update.effective_chat.id, FLOOD_NOTICE)
    except TelegramError as exc:
        log.info("flood notice not delivered: %s", exc)
