"""The connection: open, migrate, and the transaction and query helpers every table uses.

Two backends behind one interface (CONTRACT §10): SQLite here, PostgreSQL in ``postgres.py``.
Every db/ module writes one SQL text for both: ``?`` placeholders, ``ON CONFLICT`` upserts,
``RETURNING``; a transaction body sees a ``Conn`` (aiosqlite's own connection on SQLite, so
SQLite pays nothing for the abstraction). What differs between the dialects lives in
``postgres.py`` alone.

Over 300 lines: the interface both backends share, and SQLite's side of it, in one place.

SQLite: one aiosqlite connection, WAL journal (readers never block the writer), foreign keys
on, and an asyncio lock so one coroutine's transaction never interleaves with another's statements.
Methods that write return only after COMMIT: a caller may acknowledge to a user afterwards.
A COMMIT that fails (disk full, a deferred constraint) leaves SQLite's transaction open
(https://www.sqlite.org/lang_transaction.html): we roll it back, so the next write is not
silently swallowed by a transaction that will never commit.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import aiosqlite

from bot.db.migrations import MIGRATIONS, PythonStep

log = logging.getLogger(__name__)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with a fixed offset, so text order is time order."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


# ``iso``'s text back (a stored time): datetime's own parser, under the name the tables use.
from_iso = datetime.fromisoformat


class Row(Protocol):
    """A result row: by position or by column name (sqlite3.Row and asyncpg's Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...


class Cursor(Protocol):
    """What a statement run in a transaction gives back (aiosqlite's Cursor, or PgCursor)."""

    @property
    def rowcount(self) -> int: ...
    @property
    def lastrowid(self) -> int | None: ...
    async def fetchone(self) -> Row | None: ...
    async def fetchall(self) -> Iterable[Row]: ...


class Conn(Protocol):
    """A transaction's connection: aiosqlite's Connection, or PgConn."""

    def execute(
        self, sql: str, parameters: Iterable[Any] | None = None, /
    ) -> Awaitable[Cursor]: ...

    def executemany(
        self, sql: str, parameters: Iterable[Iterable[Any]], /
    ) -> Awaitable[Cursor]: ...


async def changed_by_each(db: Conn, statements: Sequence[str], params: Sequence[Any]) -> int:
    """Run each statement with the same parameters, in the caller's transaction; the rows
    they changed, together (/forget's steps: one user's rows, table by table)."""
    total = 0
    for sql in statements:
        total += (await db.execute(sql, params)).rowcount
    return total


class DatabaseUnavailable(Exception):
    """The database cannot be used at start (unreachable, refused, too old): one sentence."""


def is_database_error(exc: BaseException) -> bool:
    """An error of either backend's driver (an admin is told: contract §6)."""
    if isinstance(exc, sqlite3.Error):
        return True
    asyncpg = sys.modules.get("asyncpg")  # loaded only with DATABASE_URL=postgresql://
    return asyncpg is not None and isinstance(
        exc, (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)
    )


def is_postgres_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


# Database.hold's key spaces. One round per group: a group quiz or a live game, never both.
GROUP_ROUND = 0x71756934
# One learner's reviewed answers, one transaction at a time (their FSRS cards: db.answers).
CARD_REVIEW = 0x71756935


class Database:
    """The connection and its lock. Open with ``await Database.open(path)``.

    ``open`` given a ``postgresql://`` URL returns the PostgreSQL backend instead (a subclass
    with the same methods).
    """

    dialect = "sqlite"
    # Set by the application (runtime.updates.lend_slot): how a caller lets others run while it
    # waits for a COMMIT. Used where a COMMIT is a network round trip and a disk flush
    # (PostgreSQL); a SQLite COMMIT is short and runs as before.
    lend: Callable[[], AbstractAsyncContextManager[None]] | None = None

    async def hold(self, db: Conn, space: int, key: int) -> None:
        """Make transactions that hold the same (space, key) run one at a time, until this
        one ends. SQLite needs nothing: BEGIN IMMEDIATE already runs writers one at a time."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._path: Path | None = None
        self._lockfile: IO[bytes] | None = None

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        busy_timeout: float = 10.0,
        migrations: Sequence[str | PythonStep] = MIGRATIONS,
    ) -> Database:
        if is_postgres_url(path):
            from bot.db.postgres import PgDatabase  # noqa: PLC0415 - a cycle; asyncpg only when used

            assert isinstance(path, str)
            return await PgDatabase.open_url(path, migrations=migrations)
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
        database._path = path
        database._lockfile = running_lock(path)
        try:
            await database.migrate(migrations)
        except BaseException:
            await database.close()
            raise
        return database

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()
        if self._lockfile is not None:
            self._lockfile.close()  # and with it the lock
            self._lockfile = None

    async def migrate(self, migrations: Sequence[str | PythonStep] = MIGRATIONS) -> int:
        """Apply pending migrations, one transaction each; return the schema version.

        Foreign keys are switched off first: inside a transaction the pragma does nothing, and
        SQLite's table rebuild (create new, copy, drop old, rename;
        https://www.sqlite.org/lang_altertable.html#otheralter) would otherwise cascade-delete
        every row that references the dropped table. ``PRAGMA foreign_key_check`` must then
        come back empty before COMMIT, or the step is rolled back. A non-empty database is
        copied to ``<name>.before-v<N>.bak`` first.
        """
        target = len(migrations)
        async with self._lock:
            cur = await self._db.execute("PRAGMA user_version")
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
            if version > target:
                raise RuntimeError(
                    f"the database is schema version {version}, newer than this bot "
                    f"({target}): upgrade the bot instead of downgrading the data"
                )
            if version == target:
                return target
            if version > 0:
                await self._backup(target)
            await self._db.execute("PRAGMA foreign_keys=OFF")
            try:
                for number in range(version, target):
                    await self._migrate_one(number, migrations[number])
            finally:
                await self._db.execute("PRAGMA foreign_keys=ON")
            return target

    async def _migrate_one(self, number: int, step: str | PythonStep) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await _run_step(self._db, step)
            await self._check_references(number + 1)
            await self._db.execute(f"PRAGMA user_version = {number + 1}")
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        log.info("database migrated to schema version %d", number + 1)

    async def _check_references(self, version: int) -> None:
        cur = await self._db.execute("PRAGMA foreign_key_check")
        dangling = list(await cur.fetchall())
        if dangling:
            tables = sorted({str(r[0]) for r in dangling})
            raise RuntimeError(
                f"migration to schema version {version} leaves {len(dangling)} "
                f"row(s) with a dangling reference (in {', '.join(tables)}): not applied"
            )

    async def _backup(self, target: int) -> None:
        """Copy the database with SQLite's online backup API before an upgrade."""
        if self._path is None:
            return
        copy = self._path.with_name(f"{self._path.name}.before-v{target}.bak")
        # The copy is written on aiosqlite's thread, so the connection may not check threads.
        con = sqlite3.connect(copy, check_same_thread=False)
        try:
            await self._db.backup(con)
        finally:
            con.close()
        log.info("database backed up to %s before upgrading to version %d", copy, target)

    async def _rollback(self) -> None:
        """Roll back the open transaction, if any (SQLite may have rolled back already)."""
        if self._db.in_transaction:
            await self._db.execute("ROLLBACK")

    async def _no_stale_transaction(self) -> None:
        """A write outside ``tx`` must autocommit: never join a transaction left open."""
        if self._db.in_transaction:
            log.error("a transaction was left open; rolling it back")
            await self._db.execute("ROLLBACK")

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        async with self._lock:
            await self._no_stale_transaction()
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.execute("COMMIT")
            except BaseException:
                await self._rollback()  # also when COMMIT itself failed
                raise

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return list(await cur.fetchall())

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return await cur.fetchone()

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement, committed on its own (autocommit); returns the rows changed."""
        async with self._lock:
            await self._no_stale_transaction()
            cur = await self._db.execute(sql, params)
            return cur.rowcount

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One INSERT, committed on its own; returns the new rowid."""
        async with self._lock:
            await self._no_stale_transaction()
            cur = await self._db.execute(sql, params)
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def integrity_check(self) -> str:
        row = await self.one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    # Around a wait for a COMMIT (``waiting()``): nothing on SQLite (see ``lend``), where it is
    # the context manager that does nothing itself.
    waiting: Callable[[], AbstractAsyncContextManager[None]] = staticmethod(nullcontext)

    def lost(self, exc: BaseException) -> bool:
        """Was ``exc`` a lost connection (PostgreSQL: a server restart, a network cut)? A
        statement that is safe to repeat may then be tried once more. Never on SQLite."""
        del exc
        return False

    async def ping(self) -> bool:
        """Does the database answer? (GET /healthz)"""
        try:
            await self.one("SELECT 1")
        except Exception:  # any failure means "not answering"
            return False
        return True

    # ---------------------------------------------------------------- for copy-db

    async def tables(self) -> dict[str, set[str]]:
        """Every table of the bot, with the tables its foreign keys reference."""
        rows = await self.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        out: dict[str, set[str]] = {}
        for (name,) in rows:
            refs = await self.all(f"PRAGMA foreign_key_list({name})")
            out[str(name)] = {str(r[2]) for r in refs} - {str(name)}
        return out

    async def columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in await self.all(f"PRAGMA table_info({table})")]

    async def stream(
        self, table: str, columns: Sequence[str], batch: int = 5000
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        """A table's rows, a batch at a time (a big table is never all in memory)."""
        async with self._lock:
            cur = await self._db.execute(
                f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 - names from the schema
            )
            while rows := list(await cur.fetchmany(batch)):
                yield [tuple(r) for r in rows]


class Table:
    """Base of one kept thing's queries: the shared connection's helpers under short names."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._tx = database.tx
        self._all = database.all
        self._one = database.one
        self._write = database.write
        self._insert = database.insert


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def running_lock(path: Path) -> IO[bytes]:
    """A shared lock on ``<file>.lock`` for as long as the bot has the database open, so that
    ``copy-db`` can tell that a bot is running against it (it asks for the lock exclusively).
    The kernel drops the lock with the process, however it ends."""
    handle = lock_path(path).open("ab")
    fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    return handle


def run_lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".run.lock")


class AlreadyRunning(DatabaseUnavailable):
    """Another ``python -m bot`` runs on this SQLite file (CONTRACT §10: one process only)."""


def single_process_lock(path: Path) -> IO[bytes]:
    """An exclusive lock on ``<file>.run.lock`` for the life of ``python -m bot run`` on
    SQLite: a second process refuses to start (CONTRACT §10). A file of its own rather than
    an exclusive ``running_lock``: ``copy-db`` and tests open the database beside a running bot
    with the shared ``running_lock``, which an exclusive one would block; ``sqlite_in_use``
    still sees the bot by the shared one. The kernel drops it with the process (even kill -9)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = run_lock_path(path).open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(
            f"Another bot process is already running on {path}: with SQLite only one may run "
            "(stop it, or use PostgreSQL with DATABASE_URL for several)."
        ) from None
    return handle


def sqlite_in_use(path: Path) -> bool:
    """Does a running bot hold ``path`` open (its ``running_lock``)?"""
    lock = lock_path(path)
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def _run_step(db: Conn, step: str | PythonStep) -> None:
    """One migration's body, inside the transaction ``migrate`` opened: SQL or a Python step."""
    if callable(step):
        await step(db)
        return
    for statement in _statements(step):
        await db.execute(statement)


def _statements(script: str) -> list[str]:
    """Split a migration into complete statements: a ';' inside a string, a comment or a
    trigger body does not end one (``sqlite3.complete_statement`` knows SQLite's grammar)."""
    statements: list[str] = []
    current = ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\n;"):
                statements.append(current.strip())
            current = ""
    if current.strip(" \t\n;"):
        statements.append(current.strip())  # a trailing comment; SQLite refuses anything else
    return statements
