"""One user's updates in order across webhook workers on one PostgreSQL (CONTRACT §10).

Within a process, ``runtime/updates.py`` runs one key's updates (a user's, or a chat's when no
person sent them) one after another. Behind a load balancer two updates of one user can reach
two workers, and each worker alone would run its own at once: a fast double tap, or an answer
sent right after the question, could race. The scheme:

- **What Telegram guarantees.** A webhook delivers one chat's updates in sequence: the next
  goes out only once the previous request has been answered, while different chats' updates
  go out concurrently (grammY's guide, "Ending Webhook Requests in Time":
  https://grammy.dev/guide/deployment-types#ending-webhook-requests-in-time, whose source is
  https://github.com/tdlib/telegram-bot-api/issues/75#issuecomment-755436496). A worker
  claims an update in ``processed_updates`` *before* it answers 200 (``runtime/webhook.py``),
  so by the time Telegram sends a user's later update, the earlier one is claimed in the
  database, by whichever worker got it.
- **The claim records the key** and that the update is being handled (``handling = 1``), and in
  the same round trip asks whether an earlier update of the key is still being handled
  (``Workers.claim_in_order``). Usually not: nothing more is done. If so, the update's turn in
  its key's queue (``wait_turn``, before it takes a slot) waits until no earlier update of the
  key is being handled, polling the database (a partial index holds only updates in flight).
- **When an update ends** (handled, failed, or dropped for a flood), ``finished`` marks it
  done; marks are batched, one UPDATE for all that ended meanwhile.
- **A worker that dies** (``kill -9``) leaves its updates marked as being handled. Only updates
  claimed in the last ``ORDER_WAIT`` seconds hold a later one back, so the user waits at most
  that long once, never forever; the same bounds an update held for long (a group reply
  waiting in the group's flood limit): past it, order is no longer kept.

An update claimed *after* a later one of the same key (possible only for updates Telegram does
not sequence, as it does one chat's) runs when it comes: a worker cannot know of an update
that no worker has claimed yet. SQLite and a single process never come here (one process, one
queue per key: ``runtime/updates.py`` alone keeps the order), and long polling has one poller.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from telegram import Update

from bot.core.limits import CACHE_BOUND
from bot.db.workers import Workers
from bot.runtime.updates import fairness_key

log = logging.getLogger(__name__)

ORDER_WAIT = 10.0  # seconds an earlier update of the same user can hold a later one back
POLL_FIRST = 0.01  # seconds between a waiting update's looks at the database, doubling ...
POLL_MOST = 0.2  # ... up to this


class UpdateOrder:
    """``claim`` in the webhook server, ``wait_turn`` and ``finished`` in the update
    processor (``FairUpdateProcessor.before``/``after``)."""

    def __init__(self, workers: Workers, clock: Callable[[], datetime]) -> None:
        self._workers = workers
        self._clock = clock
        self._behind: set[int] = set()  # update ids claimed behind an unfinished earlier one
        self._ended: list[int] = []  # update ids finished, not yet marked
        self._marking: asyncio.Task[None] | None = None

    async def claim(self, update: Update) -> bool:
        """True when this worker is the first to take ``update`` (it acts on it)."""
        key = fairness_key(update)
        now = self._clock()
        if key == 0:  # no sender, no chat: nothing to keep in order
            return await self._workers.claim_update(update.update_id, now)
        claimed, behind = await self._workers.claim_in_order(
            update.update_id, key, now, now - timedelta(seconds=ORDER_WAIT)
        )
        if claimed and behind:
            if len(self._behind) >= CACHE_BOUND:
                self._behind.clear()  # they then run without waiting: never unbounded
            self._behind.add(update.update_id)
        return claimed

    async def wait_turn(self, update: object) -> None:
        """Return once no earlier update of ``update``'s key is being handled anywhere."""
        if not isinstance(update, Update) or update.update_id not in self._behind:
            return
        self._behind.discard(update.update_id)
        key = fairness_key(update)
        started = time.monotonic()
        pause = POLL_FIRST
        while time.monotonic() - started < ORDER_WAIT:
            since = self._clock() - timedelta(seconds=ORDER_WAIT)
            if not await self._workers.update_behind(update.update_id, key, since):
                break
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MOST)
        log.debug(
            "update %s waited %.0f ms for an earlier one of its user",
            update.update_id,
            (time.monotonic() - started) * 1000,
        )

    def finished(self, update: object) -> None:
        """``update`` ended (handled, failed or dropped): a later one of its key may run."""
        if not isinstance(update, Update):
            return
        self._behind.discard(update.update_id)
        self._ended.append(update.update_id)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark(), name="updates:finished")

    async def _mark(self) -> None:
        while self._ended:
            batch, self._ended = self._ended, []
            try:
                await self._workers.finish_updates(batch)
            except Exception as exc:  # their claims age out of ORDER_WAIT: nothing waits long
                log.warning("could not mark %d update(s) finished: %s", len(batch), exc)
