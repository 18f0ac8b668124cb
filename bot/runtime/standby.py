"""Long polling with several processes on one PostgreSQL: one polls, the others stand by.

Telegram answers a second ``getUpdates`` running beside another with 409 Conflict, and two
pollers would split and race the updates. So each ``getUpdates`` waits here for this process
to hold the ``polling`` lease (``db/workers.py``), with at least the request's long-poll
``timeout`` and a margin left on it: a standby can take the lease only once it has expired,
and by then the old holder's last ``getUpdates`` has ended (or died with its process), so two
never run at once. The holder renews the lease with every ``getUpdates`` (at least every
``timeout`` seconds); a standby tries every ``STANDBY_TRY`` seconds, so after a ``kill -9`` of
the poller one takes over within ``LEASE_TTL + STANDBY_TRY`` (under the contract's 30 s); on
the same host, as soon as it sees the holder's process gone (``dead_here``: a restart after a
crash polls at once). A clean stop releases the lease, and a standby takes over at its next
try, and first runs the updates the stopped poller kept (``on_take``: taken once, by one).

The offset is Telegram's: an update is confirmed by the next ``getUpdates``'s offset, so the
new poller gets every update the old one did not confirm (none is lost). What the old one had
already handled but not yet confirmed would come again: each handled update is marked in
``processed_updates`` when its handling ends, and the new poller drops those from its first
batches (``UpdatesRequest.done``). Only an update whose handling ended in the instant before
the kill, its mark not yet written, can be handled twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.db.workers import PROCESS, Workers

log = logging.getLogger(__name__)

LEASE = "polling"
LEASE_TTL = 20.0  # seconds: a dead poller's lease is free this long after its last renewal
STANDBY_TRY = 2.0  # seconds between a standby's tries
MARGIN = 3.0  # seconds of lease left past a getUpdates' long-poll timeout, for the network


class PollingLease:
    """``wait_turn`` before every ``getUpdates`` (``UpdatesRequest.gate``)."""

    def __init__(self, workers: Workers, holder: str | None = None) -> None:
        self._workers = workers
        self.holder = holder or PROCESS
        self._holding = False
        self._told_standby = False
        # Run when this process takes the lease: the updates a poller that stopped kept in
        # pending_updates (Telegram will not send them again) run here, not at some restart.
        self.on_take: Callable[[], Awaitable[None]] | None = None

    async def wait_turn(self, poll_timeout: float) -> bool | None:
        """Return once this process holds the lease for ``poll_timeout + MARGIN`` more s:
        True when it has just taken it (the batch may hold updates handled before). None:
        skip this request. PTB's last getUpdates at stop (``timeout=0``, to confirm the
        offset) from a process that stood by: it has nothing to confirm, and waiting for
        the lease would hold the stop forever."""
        if poll_timeout <= 0 and not self._holding:
            return None
        # Never more than the lease gives (the bot polls with PTB's 10 s, well inside it).
        need = min(poll_timeout + MARGIN, LEASE_TTL)
        while True:
            now = datetime.now(UTC)
            until = await self._workers.take_lease(
                LEASE, self.holder, now, timedelta(seconds=LEASE_TTL)
            )
            if until is not None and (until - now).total_seconds() >= need:
                taken = not self._holding
                self._holding = True
                if taken:
                    log.info("polling: this process (%s) polls now", self.holder)
                    if self.on_take is not None:
                        await self.on_take()
                return taken
            if self._holding or not self._told_standby:
                log.info("polling: another process polls; standing by (%s)", self.holder)
            self._holding = False
            self._told_standby = True
            await asyncio.sleep(STANDBY_TRY)

    async def release(self) -> None:
        if self._holding:
            self._holding = False
            started = time.monotonic()
            try:
                await self._workers.release_lease(LEASE, self.holder)
            except Exception as exc:  # it expires on its own
                log.warning("polling: could not release the lease: %s", exc)
            else:
                log.info("polling: lease released (%.0f ms)", (time.monotonic() - started) * 1000)
