"""The connection: open, migrate, and the transaction and query helpers every table uses.

One aiosqlite connection, WAL journal (readers never block the writer), foreign keys on, and
an asyncio lock so one coroutine's transaction never interleaves with another's statements.
Methods that write return only after COMMIT: a caller may acknowledge to a user afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.db.migrations import MIGRATIONS, SCHEMA_VERSION, PythonStep

log = logging.getLogger(__name__)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with a fixed offset, so text order is time order."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Database:
    """The connection and its lock. Open with ``await Database.open(path)``."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = 10.0) -> Database:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
        # the block we wrote, not whatever the sqlite3 module decides to wrap.
        db = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a COMMIT survives a crash of this process (the WAL write is done
        # before COMMIT returns); only an OS crash or power cut may lose the newest commits.
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        # Another process holding the lock (a backup, an operator's sqlite3 shell) is waited
        # for this long; past that the press fails loudly and the user is asked to retry.
        await db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        database = cls(db)
        try:
            await database.migrate()
        except BaseException:
            await db.close()
            raise
        return database

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    async def migrate(self) -> int:
        """Apply pending migrations, one transaction each; return the schema version."""
        async with self._lock:
            cur = await self._db.execute("PRAGMA user_version")
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the database is schema version {version}, newer than this bot "
                    f"({SCHEMA_VERSION}): upgrade the bot instead of downgrading the data"
                )
            for number in range(version, SCHEMA_VERSION):
                step = MIGRATIONS[number]
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    await _run_step(self._db, step)
                    await self._db.execute(f"PRAGMA user_version = {number + 1}")
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
                log.info("database migrated to schema version %d", number + 1)
            return SCHEMA_VERSION

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return list(await cur.fetchall())

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return await cur.fetchone()

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement, committed on its own (autocommit); returns the rows changed."""
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return cur.rowcount

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One INSERT, committed on its own; returns the new rowid."""
        async with self._lock:
            cur = await self._db.execute(sql, params)
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def integrity_check(self) -> str:
        row = await self.one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"


class Table:
    """Base of one kept thing's queries: the shared connection's helpers under short names."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._tx = database.tx
        self._all = database.all
        self._one = database.one
        self._write = database.write
        self._insert = database.insert


async def _run_step(db: aiosqlite.Connection, step: str | PythonStep) -> None:
    """One migration's body, inside the transaction ``migrate`` opened: SQL or a Python step."""
    if callable(step):
        await step(db)
        return
    for statement in _statements(step):
        await db.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (ours never put ';' inside a string)."""
    return [s.strip() for s in script.split(";") if s.strip()]
