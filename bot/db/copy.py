"""``python -m bot copy-db TARGET_URL``: the whole database, SQLite <-> PostgreSQL (CONTRACT §10).

The source is the database the bot is configured with. Both sides are brought to this bot's
schema version first (the same migrations as at start), then every table is copied in an
order where a row's references exist before it, in batches, in one transaction on the target:
a copy that fails half way leaves the target as empty as it was. Counts are compared table by
table at the end.

Refused, with nothing written: a target that holds any row, a source a running bot holds
(its lock: ``<file>.lock`` for SQLite, an advisory lock for PostgreSQL), a copy between two
databases of the same kind (``python -m bot backup`` copies a SQLite file).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.db.connection import Database, is_postgres_url, sqlite_in_use


class CopyRefused(Exception):
    """One sentence: why nothing was copied."""


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int


def describe(location: Path | str) -> str:
    if isinstance(location, str) and is_postgres_url(location):
        from bot.db.postgres import redact  # noqa: PLC0415 - asyncpg only when used

        return redact(location)
    return str(location)


def target_location(url: str) -> Path | str:
    """TARGET_URL: ``postgresql://...``, ``sqlite:///path``, or a plain file path."""
    if is_postgres_url(url):
        return url
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:")
        if not path.startswith("///") or len(path) == 3:
            raise CopyRefused(f"{url!r} is not sqlite:///path/to/file or postgresql://...")
        return Path(path[3:])
    if "://" in url:
        raise CopyRefused(f"TARGET_URL must be postgresql://... or sqlite:///path, not {url!r}.")
    return Path(url)


def _order(tables: dict[str, set[str]]) -> list[str]:
    """Referenced tables first (a foreign key's row must exist before the row naming it)."""
    done: list[str] = []
    left = dict(tables)
    while left:
        ready = sorted(t for t, refs in left.items() if not (refs & left.keys()))
        if not ready:  # a cycle: copy the rest as they come (none in this schema)
            ready = sorted(left)
        for t in ready:
            done.append(t)
            del left[t]
    return done


async def _in_use(location: Path | str) -> bool:
    if isinstance(location, Path):
        return sqlite_in_use(location)
    from bot.db.postgres import in_use  # noqa: PLC0415

    return await in_use(location)


async def _row_counts(database: Database, tables: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in tables:
        row = await database.one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - schema names
        counts[table] = int(row[0]) if row else 0
    return counts


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return all(
            con.execute(f'SELECT 1 FROM "{n}" LIMIT 1').fetchone() is None  # noqa: S608
            for n in names
        )
    finally:
        con.close()


def _missing(path: Path) -> bool:
    return not path.exists()


async def _target_is_empty(location: Path | str) -> bool:
    """Looked at before anything is created or migrated there: the target stays untouched."""
    if isinstance(location, Path):
        return _sqlite_is_empty(location)
    import asyncpg  # noqa: PLC0415

    from bot.db.postgres import _connect  # noqa: PLC0415

    con2: asyncpg.Connection = await _connect(location)
    try:
        names = [
            r[0]
            for r in await con2.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema() AND table_type = 'BASE TABLE' "
                "AND table_name != 'schema_version'"
            )
        ]
        for n in names:
            if await con2.fetchval(f'SELECT 1 FROM "{n}" LIMIT 1') is not None:  # noqa: S608
                return False
        return True
    finally:
        await con2.close()


async def copy_database(source: Path | str, target: Path | str) -> list[TableCount]:
    """Copy every table; the per-table counts of both sides (equal when it worked)."""
    if isinstance(source, Path) == isinstance(target, Path):
        raise CopyRefused(
            "copy-db copies between SQLite and PostgreSQL; for a copy of a SQLite file, "
            "use python -m bot backup PATH."
        )
    if isinstance(source, Path) and _missing(source):
        raise CopyRefused(f"There is no database at {source} to copy.")
    if await _in_use(source):
        raise CopyRefused(
            f"A bot is running against {describe(source)}: stop it first, so that the copy "
            "is of a database nobody is changing."
        )
    if not await _target_is_empty(target):
        raise CopyRefused(
            f"The target {describe(target)} already holds data: copy-db only fills an empty "
            "database (nothing was written)."
        )
    src = await Database.open(source)
    try:
        dst = await Database.open(target)
        try:
            tables = await src.tables()
            targets = await dst.tables()
            order = [t for t in _order(tables) if t in targets]
            columns: dict[str, list[str]] = {}
            for table in order:  # read before the target's transaction holds its connection
                wanted = set(await dst.columns(table))
                columns[table] = [c for c in await src.columns(table) if c in wanted]
            async with dst.tx() as con:
                for table in order:
                    names = columns[table]
                    insert = (
                        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608
                        f"VALUES ({', '.join('?' * len(names))})"
                    )
                    async for rows in src.stream(table, names):
                        await con.executemany(insert, rows)
            if dst.dialect == "postgres":
                from bot.db.postgres import PgDatabase  # noqa: PLC0415

                assert isinstance(dst, PgDatabase)
                await dst.after_copy()
            before = await _row_counts(src, order)
            after = await _row_counts(dst, order)
        finally:
            await dst.close()
    finally:
        await src.close()
    return [TableCount(t, before[t], after[t]) for t in order]
