"""What several processes on one PostgreSQL agree on (CONTRACT §10, issue #21).

- ``claim_update``: an update is acted on once however many workers it reaches (Telegram
  redelivers when our 200 was lost; a balancer may retry on another worker). In the database,
  not in memory: the workers share nothing else.
- ``agree_webhook``: every webhook worker must serve the same URL with the same secret and
  ``allowed_updates``. The first to start (no other bot holds the running lock) records the
  configuration (the secret only as a SHA-256) and calls setWebhook; a later one with a
  different configuration is refused at start, naming what differs.

- ``claim_in_order``: the same, for one user's updates in order across webhook workers: the
  claim records whose update it is, and says whether an earlier one of the same user is still
  being handled by some worker (``runtime/order.py`` explains the scheme).

- ``take_lease``: one process at a time holds a named lease (the long-polling loop) until it
  expires; the holder renews it, and a lease its dead holder no longer renews is taken over.

PostgreSQL only (``pg_locks``, advisory locks): with SQLite one process runs at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.db.connection import Database, Table, iso
from bot.db.settings import Key

log = logging.getLogger(__name__)

LOCK_WEBHOOK = 0x71756933  # advisory lock key: workers agree on the webhook one at a time
KEEP_UPDATES = timedelta(days=1)  # Telegram keeps an undelivered update at most 24 hours
PRUNE_EVERY = 1000  # claims between two prunes of processed_updates


def holder_name() -> str:
    """A process, for lease rows and logs: host, pid and a random tag (a pid may be reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


PROCESS = holder_name()  # this process, as the holder of its leases


def dead_here(holder: str) -> bool:
    """Is ``holder`` (``holder_name``) a process of this host that no longer runs?"""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():  # our pid, another tag: an earlier process (a container restart)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class Workers(Table):
    _claims = 0

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        # This store's process, as the holder of its job leases (tally edits): two stores in
        # one process (tests) are two holders.
        self.holder = holder_name()

    async def claim_update(self, update_id: int, now: datetime) -> bool:
        """True if this process is the first to take ``update_id`` (it acts on it)."""
        changed = await self._write(
            "INSERT INTO processed_updates (update_id, seen_at) VALUES (?, ?) "
            "ON CONFLICT (update_id) DO NOTHING",
            (update_id, iso(now)),
        )
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            await self.prune_updates(now - KEEP_UPDATES)
        return changed == 1

    async def claim_in_order(
        self, update_id: int, key: int, now: datetime, since: datetime
    ) -> tuple[bool, bool]:
        """(claimed, behind): ``claimed`` as ``claim_update``, the update recorded as
        ``key``'s and being handled; ``behind`` when an earlier update of ``key`` claimed
        since ``since`` is still being handled (by any worker): this one must wait for it
        (``update_behind``). One statement, one round trip, as ``claim_update``: the claim is
        on every update's path (a transaction around it doubled the server's CPU per press).
        Its answer is in its row count: no row, not claimed; one, claimed; two, claimed and
        behind (``_write`` gives the count and no rows)."""
        rows = await self._write(
            "WITH claimed AS (INSERT INTO processed_updates "
            "(update_id, seen_at, fair_key, handling) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (update_id) DO NOTHING RETURNING update_id) "
            "SELECT 1 FROM claimed UNION ALL SELECT 1 FROM claimed WHERE EXISTS ("
            "SELECT 1 FROM processed_updates WHERE fair_key = ? AND handling = 1 "
            "AND update_id < ? AND seen_at >= ?)",
            (update_id, iso(now), key, key, update_id, iso(since)),
        )
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            await self.prune_updates(now - KEEP_UPDATES)
        return rows >= 1, rows == 2

    async def update_behind(self, update_id: int, key: int, since: datetime) -> bool:
        """Is an earlier update of ``key``, claimed since ``since``, still being handled?"""
        row = await self._one(
            "SELECT 1 FROM processed_updates WHERE fair_key = ? AND handling = 1 "
            "AND update_id < ? AND seen_at >= ? LIMIT 1",
            (key, update_id, iso(since)),
        )
        return row is not None

    async def finish_updates(self, update_ids: Sequence[int]) -> None:
        """These updates' handling ended (or they were dropped): a later one goes ahead."""
        await self._write(
            "UPDATE processed_updates SET handling = 0 "
            "WHERE update_id = ANY(?::bigint[]) AND handling = 1",
            (list(update_ids),),
        )

    async def mark_done(self, update_id: int, now: datetime) -> None:
        """Long polling: ``update_id`` was handled (a standby that takes over skips it)."""
        await self._write(
            "INSERT INTO processed_updates (update_id, seen_at) VALUES (?, ?) "
            "ON CONFLICT (update_id) DO NOTHING",
            (update_id, iso(now)),
        )
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            await self.prune_updates(now - KEEP_UPDATES)

    async def done_among(self, first: int, last: int) -> set[int]:
        """The update ids from ``first`` to ``last`` already handled."""
        rows = await self._all(
            "SELECT update_id FROM processed_updates WHERE update_id >= ? AND update_id <= ?",
            (first, last),
        )
        return {int(r[0]) for r in rows}

    async def prune_updates(self, before: datetime) -> int:
        return await self._write("DELETE FROM processed_updates WHERE seen_at < ?", (iso(before),))

    async def take_lease(
        self, name: str, holder: str, now: datetime, ttl: timedelta, *, from_the_dead: bool = True
    ) -> datetime | None:
        """Take or renew ``name`` for ``holder`` until ``now + ttl``: the new expiry, or None
        while another holder's lease runs. One statement: two processes cannot both win.
        ``from_the_dead``: a holder of this host whose process is gone (killed, crashed) is
        not waited out (``dead_here``): a restart after a crash takes over at once."""
        until = await self._take_lease(name, holder, now, ttl)
        if until is not None or not from_the_dead:
            return until
        old = await self.lease_holder(name)
        if old is None or not dead_here(old):
            return None
        if await self.take_over_lease(name, old, holder, now + ttl):
            log.info("lease %s: its holder %s is gone; %s takes over", name, old, holder)
            return now + ttl
        return None

    async def _take_lease(
        self, name: str, holder: str, now: datetime, ttl: timedelta
    ) -> datetime | None:
        until = now + ttl
        changed = await self._write(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
            "expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
            (name, holder, iso(until), iso(now)),
        )
        return until if changed == 1 else None

    async def lease_holder(self, name: str) -> str | None:
        row = await self._one("SELECT holder FROM leases WHERE name = ?", (name,))
        return str(row[0]) if row else None

    async def take_over_lease(self, name: str, old: str, new: str, until: datetime) -> bool:
        """Take ``name`` from ``old``, known dead, before its lease runs out."""
        changed = await self._write(
            "UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
            (new, iso(until), name, old),
        )
        return changed == 1

    async def release_lease(self, name: str, holder: str) -> None:
        """Give ``name`` up at a clean stop: a standby takes it at its next try."""
        await self._write("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def reserve_send(self, scope: str, period: float, burst: int = 1) -> float:
        """The bot's one flood budget (CONTRACT §6 across processes): reserve the next send
        of ``scope`` (``overall``, a chat, a group) at one per ``period`` with bursts of
        ``burst`` (GCRA: a virtual "next free time" per scope); the seconds to wait before
        sending. One statement, on the database's clock, so processes on different hosts
        share one schedule."""
        tau = (burst - 1) * period
        row = await self._one(
            "INSERT INTO flood_slots (scope, next_at) "
            "VALUES (?, extract(epoch from clock_timestamp())::float8 + ?::float8) "
            "ON CONFLICT (scope) DO UPDATE SET next_at = GREATEST(flood_slots.next_at, "
            "extract(epoch from clock_timestamp())::float8) + ?::float8 "
            "RETURNING GREATEST(0, next_at - ?::float8 - ?::float8 "
            "- extract(epoch from clock_timestamp())::float8)",
            (scope, period, period, period, tau),
        )
        return float(row[0]) if row else 0.0

    async def prune_flood_slots(self) -> int:
        """Scopes whose next free time has passed hold nothing: removed (a chat a day)."""
        return await self._write(
            "DELETE FROM flood_slots WHERE next_at < extract(epoch from clock_timestamp()) - 60"
        )

    async def agree_webhook(
        self, url: str, secret: str, allowed_updates: Sequence[str], own_pid: int
    ) -> tuple[bool, str | None]:
        """(first, problem): ``first`` when no running worker has agreed on a configuration
        (this one records its own and sets the webhook); ``problem``, one sentence, when a
        running worker serves a different one. The record keeps, with the configuration, the
        server pids of the running-lock connections of the workers that agreed on it: only
        those still holding the lock count, so neither a configuration left by workers that
        have all stopped nor a worker that has not agreed yet (two started together) holds
        a new configuration back. ``own_pid``: this bot's running-lock connection's."""
        mine: dict[str, object] = {
            "WEBHOOK_URL": url,
            "WEBHOOK_SECRET": hashlib.sha256(secret.encode()).hexdigest(),
            "allowed updates": sorted(allowed_updates),
        }
        async with self._tx() as con:
            await con.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_WEBHOOK,))
            cur = await con.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objsubid = 1 AND classid = 0 AND objid = ?::bigint::oid AND pid <> ? "
                "AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())",
                (_running_lock_key(), own_pid),
            )
            running = {int(r[0]) for r in await cur.fetchall()}
            cur = await con.execute("SELECT value FROM kv WHERE key = ?", (Key.WEBHOOK,))
            kept = await cur.fetchone()
            theirs = json.loads(str(kept[0])) if kept is not None else {}
            agreed = running & {int(p) for p in theirs.get("pids", [])}
            if agreed:
                differ = [name for name, value in mine.items() if theirs.get(name) != value]
                if differ:
                    return False, (
                        f"This worker's {' and '.join(differ)} differ from those of the "
                        f"{len(agreed)} worker(s) already running on this database: every "
                        "worker must share WEBHOOK_URL and WEBHOOK_SECRET."
                    )
            mine["pids"] = sorted(agreed | {own_pid})
            await con.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (Key.WEBHOOK, json.dumps(mine)),
            )
            return not agreed, None


def _running_lock_key() -> int:
    from bot.db.postgres import LOCK_RUNNING  # noqa: PLC0415 - asyncpg only on PostgreSQL

    return LOCK_RUNNING
