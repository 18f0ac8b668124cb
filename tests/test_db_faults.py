"""The database under faults: a COMMIT that fails, and migrations that rebuild a table or
leave a dangling reference. Real files, closed and reopened to prove what is durable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.db import Store
from bot.db.connection import Database
from bot.db.migrations import MIGRATIONS
from bot.db.settings import Key

ANSWER_SQL = (
    "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, correct, "
    "points, answered_at, local_day) VALUES (?, ?, 1, 'q', 'quiz', 0, 1, 1, "
    "'2026-01-01T00:00:00+00:00', '2026-01-01')"
)
ASKING_SQL = (
    "INSERT INTO askings (id, kind, question_id, choice_order, choices_sig, created_at) "
    "VALUES (?, 'channel', 'q', '[0,1]', 's', '2026-01-01T00:00:00+00:00')"
)


@pytest.mark.sqlite_only
async def test_failed_commit_is_rolled_back_and_later_writes_are_durable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    db = store.database

    async def dangling_answer() -> None:
        async with db.tx() as con:
            await con.execute("PRAGMA defer_foreign_keys = ON")
            await con.execute(ANSWER_SQL, (999, 1))  # no asking 999

    # A constraint checked only at COMMIT: the COMMIT itself fails (as on a full disk).
    with pytest.raises(sqlite3.IntegrityError):
        await dangling_answer()
    await store.settings.set_kv(Key.CYCLE, "7")  # a single autocommitted write
    async with db.tx() as con:  # and a transaction: not "within a transaction"
        await con.execute(ASKING_SQL, (1,))
        await con.execute(ANSWER_SQL, (1, 2))
    await store.close()

    store = await Store.open(path)  # what was reported written survived the restart
    try:
        assert await store.settings.get_kv(Key.CYCLE) == "7"
        rows = await store.database.all("SELECT asking_id, user_id FROM answers")
        assert [tuple(r) for r in rows] == [(1, 2)]  # the failed one left nothing behind
        assert await store.integrity_check() == "ok"
    finally:
        await store.close()


def rebuild_askings() -> str:
    """SQLite's documented table rebuild (create new, copy, drop old, rename), with a ';'
    inside a string literal and a trigger body to split correctly."""
    return """
    CREATE TABLE askings_new (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        session_id INTEGER REFERENCES quiz_sessions (id) ON DELETE CASCADE,
        position INTEGER,
        question_id TEXT NOT NULL,
        chat_id INTEGER,
        message_id INTEGER,
        choice_order TEXT NOT NULL,
        choices_sig TEXT NOT NULL,
        created_at TEXT NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT 'rebuilt; kept'
    );
    INSERT INTO askings_new (id, kind, session_id, position, question_id, chat_id, message_id,
        choice_order, choices_sig, created_at, closed)
        SELECT id, kind, session_id, position, question_id, chat_id, message_id,
        choice_order, choices_sig, created_at, closed FROM askings;
    DROP TABLE askings;
    ALTER TABLE askings_new RENAME TO askings;
    CREATE INDEX askings_session ON askings (session_id);
    CREATE TRIGGER askings_note AFTER INSERT ON askings BEGIN
        UPDATE askings SET note = 'new; trigger' WHERE id = NEW.id;
    END;
    """


async def populated(path: Path) -> int:
    database = await Database.open(path)
    async with database.tx() as con:
        for asking in range(1, 11):
            await con.execute(ASKING_SQL, (asking,))
            for user in range(20):
                await con.execute(ANSWER_SQL, (asking, user))
    await database.close()
    return 200


def count(path: Path, sql: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


@pytest.mark.sqlite_only
async def test_table_rebuild_migration_keeps_every_referencing_row(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    rows = await populated(path)
    old = len(MIGRATIONS)
    database = await Database.open(path, migrations=[*MIGRATIONS, rebuild_askings()])
    try:
        assert (await database.one("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
        note = await database.one("SELECT note FROM askings WHERE id = 1")
        assert note is not None and note[0] == "rebuilt; kept"
    finally:
        await database.close()
    assert count(path, "SELECT COUNT(*) FROM answers") == rows  # no cascade delete
    assert count(path, "PRAGMA user_version") == old + 1
    backup = path.with_name(f"{path.name}.before-v{old + 1}.bak")
    assert count(backup, "PRAGMA user_version") == old
    assert count(backup, "SELECT COUNT(*) FROM answers") == rows


@pytest.mark.sqlite_only
async def test_migration_leaving_a_dangling_reference_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    rows = await populated(path)
    old = len(MIGRATIONS)
    bad = "DELETE FROM askings WHERE id = 3; CREATE TABLE never (x INTEGER);"
    with pytest.raises(RuntimeError, match="dangling reference"):
        await Database.open(path, migrations=[*MIGRATIONS, bad])
    assert count(path, "PRAGMA user_version") == old  # still the old version
    assert count(path, "SELECT COUNT(*) FROM askings") == 10  # rolled back
    assert count(path, "SELECT COUNT(*) FROM answers") == rows
    assert count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'never'") == 0
    database = await Database.open(path)  # and the bot still opens it as it was
    await database.close()


async def test_blank_database_needs_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    database = await Database.open(path)
    await database.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".bak")] == []
