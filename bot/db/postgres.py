"""PostgreSQL behind the same ``Database`` interface as SQLite (asyncpg; CONTRACT §10).

Over 300 lines on purpose: the whole dialect is here, so that every other db/ module stays one
SQL text for both databases.

The db/ modules write one SQL text for both backends. Everything PostgreSQL needs differently
is here, in one place:

- placeholders: ``?`` becomes ``$1, $2, ...`` (translated once per statement text, cached);
- ``cursor.lastrowid``: an INSERT into a table with an identity ``id`` gets ``RETURNING id``;
  ``rowcount`` comes from the command tag (``UPDATE 3``); ``INSERT OR IGNORE`` becomes
  ``ON CONFLICT DO NOTHING``;
- the schema version: a ``schema_version`` table instead of ``PRAGMA user_version``;
  migrations' DDL mapped (``INTEGER`` is ``BIGINT``: Telegram ids pass 2^31; ``id INTEGER
  PRIMARY KEY`` an identity; no ``WITHOUT ROWID``), SQLite's ``date()``/``strftime()`` in old
  migrations provided as session-local functions;
- locking: migrations run under an advisory lock, each in its own transaction (PostgreSQL's
  DDL is transactional: a failed step leaves nothing behind), so processes started together
  migrate once; a running bot holds a shared advisory lock for its life (``copy-db`` asks for
  it exclusively to tell that a bot is running);
- many connections (a pool) instead of one behind a lock: what must stay exactly-once under
  concurrency rests on unique constraints and ``ON CONFLICT``, never on a read-then-write;
- a lost connection (server restart, network cut): the pool opens a new one; a transaction
  that could not start is retried until ``RECONNECT_FOR`` runs out; reads are retried; a write
  that failed in flight is reported (its outcome is unknown), never retried blindly here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bot.core.limits import SQL_CACHE_BOUND
from bot.db.connection import Conn, Database, DatabaseUnavailable, Row, _statements
from bot.db.migrations import MIGRATIONS, PythonStep

log = logging.getLogger(__name__)

MIN_SERVER = 140000  # PostgreSQL 14 (server_version_num)
LOCK_MIGRATE = 0x71756931  # advisory lock keys: any two constants the bot alone uses
LOCK_RUNNING = 0x71756932
RECONNECT_FOR = 20.0  # seconds a transaction waits for a restarting server before failing
CONNECT_TIMEOUT = 10.0
POOL_SIZE = 8  # presses run 16 at a time; most hold a connection for one short statement

# Errors that mean "the connection is gone or the server cannot take one now": the
# operation did not happen (at start or acquire) or its outcome is unknown (in flight).
LOST: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def is_lost(exc: BaseException) -> bool:
    return isinstance(exc, LOST)


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    try:
        parts = urlsplit(url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
    except ValueError:
        return "the DATABASE_URL"
    return url


# ------------------------------------------------------------------ statement translation


def placeholders(sql: str) -> str:
    """``?`` -> ``$n`` outside quoted strings and identifiers."""
    out: list[str] = []
    n = 0
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            n += 1
            out.append(f"${n}")
            continue
        out.append(ch)
    return "".join(out)


_INSERT = re.compile(r"^\s*INSERT\s+(OR\s+IGNORE\s+)?INTO\s+(\w+)", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b", re.IGNORECASE)


class Dialect:
    """Statement text as PostgreSQL takes it; ``id_tables``: tables with an identity id."""

    def __init__(self, id_tables: Iterable[str] = ()) -> None:
        self.id_tables = frozenset(id_tables)
        self._cache: dict[str, tuple[str, bool, bool]] = {}

    def translate(self, sql: str) -> tuple[str, bool, bool]:
        """(text, returns rows, returns the new id)."""
        hit = self._cache.get(sql)
        if hit is not None:
            return hit
        text = placeholders(sql.strip().rstrip(";"))
        returns_id = False
        insert = _INSERT.match(text)
        if insert is not None:
            if insert.group(1):  # INSERT OR IGNORE
                text = text[: insert.start(1)] + text[insert.end(1) :]
                ret = _RETURNING.search(text)
                at = ret.start() if ret else len(text)
                text = f"{text[:at].rstrip()} ON CONFLICT DO NOTHING {text[at:]}".rstrip()
            if not _RETURNING.search(text) and insert.group(2).lower() in self.id_tables:
                text += " RETURNING id"
                returns_id = True
        rows = returns_id or bool(_ROWS.match(text) or _RETURNING.search(text))
        if len(self._cache) >= SQL_CACHE_BOUND:
            self._cache.clear()
        self._cache[sql] = hit = (text, rows, returns_id)
        return hit


_DDL = [
    (
        re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY\b", re.IGNORECASE),
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    ),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bAUTOINCREMENT\b", re.IGNORECASE), ""),
    (re.compile(r"\)\s*WITHOUT\s+ROWID", re.IGNORECASE), ")"),
    (re.compile(r"\bdate\(", re.IGNORECASE), "pg_temp.sqlite_date("),
    (re.compile(r"\bstrftime\(", re.IGNORECASE), "pg_temp.sqlite_strftime("),
]

# What the migrations written for SQLite call, for this session only (pg_temp: nothing is
# left in the operator's schema). Dates are ISO text, as the bot keeps them.
_SHIMS = [
    "CREATE OR REPLACE FUNCTION pg_temp.sqlite_date(d text) RETURNS text LANGUAGE sql "
    "IMMUTABLE AS $$ SELECT to_char(d::date, 'YYYY-MM-DD') $$",
    "CREATE OR REPLACE FUNCTION pg_temp.sqlite_date(d text, modifier text) RETURNS text "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT to_char(d::date + modifier::interval, 'YYYY-MM-DD') $$",
    "CREATE OR REPLACE FUNCTION pg_temp.sqlite_strftime(fmt text, d text) RETURNS text "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT CASE fmt "
    "WHEN '%w' THEN extract(dow FROM d::timestamp)::int::text "
    "WHEN '%Y-%m-%d' THEN to_char(d::timestamp, 'YYYY-MM-DD') "
    "WHEN '%H:%M' THEN to_char(d::timestamp, 'HH24:MI') "
    "ELSE NULL END $$",
]


def ddl(sql: str) -> str:
    """A migration statement written for SQLite, as PostgreSQL takes it."""
    for pattern, replacement in _DDL:
        sql = pattern.sub(replacement, sql)
    return sql


# ------------------------------------------------------------------ connection and cursor


class PgCursor:
    """The part of a DB-API cursor the db/ modules use, over rows already fetched."""

    __slots__ = ("_at", "_rows", "lastrowid", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    async def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        row: Row = self._rows[self._at - 1]
        return row

    async def fetchall(self) -> list[Row]:
        rows, self._at = self._rows[self._at :], len(self._rows)
        return rows


def _count(status: str) -> int:
    """Rows changed, from a command tag: ``INSERT 0 1``, ``UPDATE 3``, ``DELETE 0``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgConn:
    """A transaction's connection, with aiosqlite's ``execute``/``executemany`` shape."""

    __slots__ = ("_con", "_dialect")

    def __init__(self, con: asyncpg.Connection, dialect: Dialect) -> None:
        self._con = con
        self._dialect = dialect

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None, /) -> PgCursor:
        text, rows, returns_id = self._dialect.translate(sql)
        args = tuple(parameters) if parameters is not None else ()
        if rows:
            records = await self._con.fetch(text, *args)
            last = int(records[-1][0]) if returns_id and records else None
            return PgCursor(records, len(records), last)
        status = await self._con.execute(text, *args)
        return PgCursor([], _count(status), None)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]], /) -> PgCursor:
        """Pipelined (one round trip for all rows); PostgreSQL reports no count then: -1."""
        text, _, _ = self._dialect.translate(sql)
        args = [tuple(p) for p in parameters]
        if args:
            await self._con.executemany(text, args)
        return PgCursor([], -1, None)


# ------------------------------------------------------------------ the database


async def _connect(url: str) -> asyncpg.Connection:
    """One connection, or DatabaseUnavailable with one sentence saying why."""
    where = redact(url)
    try:
        con: asyncpg.Connection = await asyncpg.connect(url, timeout=CONNECT_TIMEOUT)
    except asyncpg.exceptions.InvalidPasswordError as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} refused the user name or password in DATABASE_URL."
        ) from exc
    except asyncpg.exceptions.InvalidAuthorizationSpecificationError as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} refused the user in DATABASE_URL ({exc})."
        ) from exc
    except asyncpg.exceptions.InvalidCatalogNameError as exc:
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} has no such database: create it first (createdb)."
        ) from exc
    except (OSError, TimeoutError, asyncpg.exceptions.PostgresConnectionError) as exc:
        raise DatabaseUnavailable(
            f"Cannot reach PostgreSQL at {where}: {exc or type(exc).__name__}."
        ) from exc
    except (ValueError, asyncpg.exceptions.ClientConfigurationError) as exc:
        raise DatabaseUnavailable(f"DATABASE_URL is not a usable PostgreSQL URL: {exc}.") from exc
    except asyncpg.exceptions.PostgresError as exc:
        raise DatabaseUnavailable(f"PostgreSQL at {where} refused the connection: {exc}.") from exc
    version = con.get_server_version()
    if version.major * 10000 < MIN_SERVER:
        await con.close()
        raise DatabaseUnavailable(
            f"PostgreSQL at {where} is version {version.major}.{version.minor}; "
            "the bot needs 14 or newer."
        )
    return con


async def id_tables(con: asyncpg.Connection) -> list[str]:
    rows = await con.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND column_name = 'id' AND is_identity = 'YES'"
    )
    return [str(r[0]) for r in rows]


async def schema_version(con: asyncpg.Connection) -> int:
    await con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    value = await con.fetchval("SELECT version FROM schema_version")
    if value is None:
        await con.execute("INSERT INTO schema_version (version) VALUES (0)")
        return 0
    return int(value)


async def migrate(con: asyncpg.Connection, migrations: Sequence[str | PythonStep]) -> int:
    """Apply pending migrations, each in its own transaction, under an advisory lock: a
    second process starting at the same moment waits, then finds nothing left to do."""
    target = len(migrations)
    await con.execute("SELECT pg_advisory_lock($1)", LOCK_MIGRATE)
    try:
        version = await schema_version(con)
        if version > target:
            raise RuntimeError(
                f"the database is schema version {version}, newer than this bot "
                f"({target}): upgrade the bot instead of downgrading the data"
            )
        if version < target:
            for shim in _SHIMS:
                await con.execute(shim)
        for number in range(version, target):
            step = migrations[number]
            async with con.transaction():
                if callable(step):
                    await step(PgConn(con, Dialect(await id_tables(con))))
                else:
                    for statement in _statements(step):
                        await con.execute(ddl(statement))
                await con.execute("UPDATE schema_version SET version = $1", number + 1)
            log.info("database migrated to schema version %d", number + 1)
        return target
    finally:
        await con.execute("SELECT pg_advisory_unlock($1)", LOCK_MIGRATE)


class PgDatabase(Database):
    """A pool of asyncpg connections; the same methods as the SQLite ``Database``."""

    dialect = "postgres"

    async def hold(self, db: Conn, space: int, key: int) -> None:
        """A transaction-scoped advisory lock on (space, key): READ COMMITTED lets two
        transactions both see "nothing yet" and both insert, so check-then-insert rules
        (one round per group) take it first. The two-int4 keys are a key space of their own,
        apart from the one-bigint keys above ("these two key spaces do not overlap",
        PostgreSQL's advisory lock functions); ``key`` is folded into an int4."""
        await db.execute("SELECT pg_advisory_xact_lock(?, ?)", (space, key % 0x7FFFFFFF))

    def __init__(  # the SQLite base's connection and lock are not used here
        self, pool: asyncpg.Pool, holder: asyncpg.Connection, dialect: Dialect, url: str
    ) -> None:
        self._pool = pool
        self._holder = holder  # keeps the running lock for the bot's life
        self._dialect = dialect
        self._url = url
        self._closed = False
        self._relock: asyncio.Task[None] | None = None

    @classmethod
    async def open_url(
        cls, url: str, *, migrations: Sequence[str | PythonStep] = MIGRATIONS
    ) -> PgDatabase:
        holder = await _connect(url)
        try:
            await migrate(holder, migrations)
            await holder.execute("SELECT pg_advisory_lock_shared($1)", LOCK_RUNNING)
            dialect = Dialect(await id_tables(holder))
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT
            )
        except BaseException:
            await holder.close()
            raise
        log.info("database: PostgreSQL at %s", redact(url))
        return cls(pool, holder, dialect, url)

    async def close(self) -> None:
        self._closed = True
        if self._relock is not None:
            self._relock.cancel()
            await asyncio.gather(self._relock, return_exceptions=True)
        try:
            await asyncio.wait_for(self._pool.close(), timeout=5)
        except TimeoutError:
            self._pool.terminate()
        if not self._holder.is_closed():
            await self._holder.close()

    def running_pid(self) -> int:
        """The server process holding this bot's running lock (not "another bot")."""
        return int(self._holder.get_server_pid())

    async def migrate(self, migrations: Sequence[str | PythonStep] = MIGRATIONS) -> int:
        async with self._pool.acquire() as con:
            version = await migrate(con, migrations)
            self._dialect = Dialect(await id_tables(con))
            return version

    async def _acquire(self) -> asyncpg.Connection:
        """A connection from the pool, waiting out a server restart up to RECONNECT_FOR."""
        deadline = time.monotonic() + RECONNECT_FOR
        delay = 0.05
        while True:
            try:
                con: asyncpg.Connection = await self._pool.acquire(timeout=CONNECT_TIMEOUT)
            except LOST:
                if self._closed or time.monotonic() + delay > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            self._keep_running_lock()
            return con

    def _keep_running_lock(self) -> None:
        """The running lock went with its connection (a server restart): take it again, in
        the background, so that copy-db still sees this bot."""
        if self._closed or not self._holder.is_closed():
            return
        if self._relock is None or self._relock.done():
            self._relock = asyncio.create_task(self._take_running_lock())

    async def _take_running_lock(self) -> None:
        try:
            holder = await _connect(self._url)
            await holder.execute("SELECT pg_advisory_lock_shared($1)", LOCK_RUNNING)
        except Exception as exc:  # the next acquire tries again
            log.warning("could not take the running lock again: %s", exc)
            return
        self._holder = holder

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        con = await self._acquire()
        try:
            yield con
        finally:
            await self._pool.release(con)

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Conn]:
        """A transaction, committed when the block ends. A connection found dead when it
        starts (the server restarted since it was last used) is replaced and the start
        retried: nothing of the block has run yet."""
        deadline = time.monotonic() + RECONNECT_FOR
        while True:
            con = await self._acquire()
            transaction = con.transaction()
            try:
                await transaction.start()
            except LOST:
                await self._pool.release(con)
                if self._closed or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
                continue
            break
        released = False
        try:
            try:
                yield PgConn(con, self._dialect)
            except BaseException:
                if not con.is_closed():
                    try:
                        await transaction.rollback()
                    except Exception:  # the connection died too: the server rolls back
                        log.debug("rollback failed", exc_info=True)
                raise
            async with self.waiting():
                try:
                    await transaction.commit()  # a failure: the server has rolled it back
                finally:
                    # Back to the pool before the caller takes its update slot again: a
                    # caller waiting for a slot while holding a connection, behind presses
                    # waiting for a connection while holding slots, would never move.
                    released = True
                    await self._pool.release(con)
        finally:
            if not released:
                await self._pool.release(con)

    async def _read(self, sql: str, params: Sequence[Any]) -> list[Any]:
        text, _, _ = self._dialect.translate(sql)
        deadline = time.monotonic() + RECONNECT_FOR
        while True:
            try:
                async with self._connection() as con:
                    rows: list[Any] = await con.fetch(text, *params)
                    return rows
            except LOST:  # a read changes nothing: safe to repeat
                if self._closed or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._read(sql, params)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self._read(sql, params)
        return rows[0] if rows else None

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._connection() as con:
            cur = await PgConn(con, self._dialect).execute(sql, params)
            return cur.rowcount

    async def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._connection() as con:
            cur = await PgConn(con, self._dialect).execute(sql, params)
            assert cur.lastrowid is not None
            return cur.lastrowid

    def lost(self, exc: BaseException) -> bool:
        return is_lost(exc)

    def waiting(self) -> AbstractAsyncContextManager[None]:
        """A COMMIT here waits for a round trip and the server's disk flush (tens of ms on a
        plain disk): the caller's update slot is lent meanwhile, so more presses join the next
        group commit instead of 16 per flush (bench: --database postgres)."""
        return self.lend() if self.lend is not None else nullcontext()

    async def integrity_check(self) -> str:
        row = await self.one("SELECT 1")
        return "ok" if row is not None else "no answer"

    async def ping(self) -> bool:
        """One try, no waiting for a restart: /healthz says what is true now."""
        if self._closed:
            return False
        try:
            async with self._pool.acquire(timeout=3) as con:
                await con.fetchval("SELECT 1", timeout=3)
        except Exception:  # any failure means "not answering"
            return False
        return True

    async def tables(self) -> dict[str, set[str]]:
        rows = await self.all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' AND table_name != 'schema_version'"
        )
        out: dict[str, set[str]] = {str(r[0]): set() for r in rows}
        for child, parent in await self.all(
            "SELECT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.constraint_column_usage ccu "
            "ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema "
            "WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
        ):
            if child in out and parent != child:
                out[child].add(parent)
        return out

    async def columns(self, table: str) -> list[str]:
        rows = await self.all(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [str(r[0]) for r in rows]

    async def stream(
        self, table: str, columns: Sequence[str], batch: int = 5000
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        sql = f"SELECT {', '.join(columns)} FROM {table}"  # noqa: S608 - names from the schema
        async with self._connection() as con, con.transaction():
            cursor = await con.cursor(sql)
            while rows := await cursor.fetch(batch):
                yield [tuple(r) for r in rows]

    async def after_copy(self) -> None:
        """After rows were copied in with their ids: new ids continue after the largest, and
        the planner gets statistics for the tables it just saw filled (ANALYZE)."""
        for table in self._dialect.id_tables:
            await self.write(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
        async with self._connection() as con:
            await con.execute("ANALYZE")


async def check_server(url: str) -> None:
    """Raise DatabaseUnavailable, with one sentence, unless the server takes the bot."""
    con = await _connect(url)
    await con.close()


async def in_use(url: str) -> bool:
    """Does a running bot hold this database (its shared advisory lock)?"""
    con = await _connect(url)
    try:
        got = await con.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_RUNNING)
        if got:
            await con.execute("SELECT pg_advisory_unlock($1)", LOCK_RUNNING)
        return not got
    finally:
        await con.close()
