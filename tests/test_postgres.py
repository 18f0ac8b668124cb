"""PostgreSQL itself (CONTRACT §10): bad DATABASE_URLs at start, faults, migrations, copy-db.

Over 300 lines: one file for everything only PostgreSQL has. The rest of the suite runs on
PostgreSQL too, unchanged, in the BOT_TEST_DATABASE=postgres pass (tests/pg.py).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from bot.db import Store
from bot.db import postgres as pgdb
from bot.db.connection import Database, DatabaseUnavailable
from bot.db.migrations import MIGRATIONS
from bot.db.settings import Key
from tests import pg
from tests.conftest import CONTENT, TOKEN, Harness
from tests.fakes import FakeUser
from tests.helpers import answer_buttons, answered, run_cli
from tests.test_aggregates import _expected, _fill, _kept, _rec, _rows_of

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _start(url: str, tmp_path: Path) -> Any:
    return run_cli(
        "run",
        cwd=tmp_path,
        env={"BOT_TOKEN": TOKEN, "DATABASE_URL": url, "CONTENT_DIR": str(CONTENT)},
    )


# ------------------------------------------------------------------ bad input at start


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bot:pw@db.example:notaport/bot",
        "postgresql:///nohost",
        "mysql://bot@localhost/bot",
        "sqlite://relative-without-third-slash",
    ],
)
def test_malformed_database_url_is_one_sentence(url: str, tmp_path: Path) -> None:
    result = _start(url, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("DATABASE_URL must be"), result.stderr
    assert ":pw@" not in result.stderr  # a password is never echoed


def test_unreachable_server_is_one_sentence(tmp_path: Path) -> None:
    result = _start("postgresql://bot:s3cret@127.0.0.1:9/bot", tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Cannot reach PostgreSQL at postgresql://bot:***@127.0.0.1:9/bot")
    assert "s3cret" not in result.stderr + result.stdout


@pytest.mark.postgres_only
def test_wrong_password_is_one_sentence(tmp_path: Path) -> None:
    parts = urlsplit(pg.SERVER)
    wrong = parts._replace(netloc=f"postgres:wrong-pw@{parts.hostname}:{parts.port}").geturl()

    async def refused() -> bool:
        try:
            con = await asyncpg.connect(wrong, timeout=5)
        except asyncpg.exceptions.InvalidPasswordError:
            return True
        await con.close()
        return False

    if not pg.run_sync(refused()):
        pytest.skip("the test server trusts every password (.ci/postgres.sh asks for them)")
    result = _start(wrong, tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "refused the user name or password in DATABASE_URL" in last, result.stderr
    assert "wrong-pw" not in result.stderr


@pytest.mark.postgres_only
def test_wrong_user_and_missing_database_are_one_sentence(tmp_path: Path) -> None:
    parts = urlsplit(pg.SERVER)
    wrong_user = parts._replace(netloc=f"nobody_here:pw@{parts.hostname}:{parts.port}").geturl()
    result = _start(wrong_user, tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "refused the user" in result.stderr.strip().splitlines()[-1], result.stderr
    assert ":pw@" not in result.stderr
    result = _start(pg.url_of("no_such_database_here"), tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has no such database" in result.stderr.strip().splitlines()[-1], result.stderr


async def test_server_older_than_14_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class OldServer:
        closed = False

        def get_server_version(self) -> Any:
            return asyncpg.types.ServerVersion(13, 9, 0, "final", 0)

        async def close(self) -> None:
            self.closed = True

    server = OldServer()

    async def connect(*args: Any, **kwargs: Any) -> OldServer:
        return server

    monkeypatch.setattr(asyncpg, "connect", connect)
    with pytest.raises(DatabaseUnavailable, match=r"version 13\.9; the bot needs 14 or newer"):
        await pgdb.check_server("postgresql://bot@db.example/bot")
    assert server.closed


# ------------------------------------------------------------------ faults


@pytest.mark.postgres_only
async def test_failed_commit_applies_nothing_and_later_writes_land(tmp_path: Path) -> None:
    """Attack: COMMIT itself fails (a deferred constraint): no answer, no total, no user
    may stay, and the pool's connection is usable for the next press."""
    store = await Store.open(tmp_path / "x.sqlite3")
    try:
        await store.database.write(
            "CREATE FUNCTION refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.user_id = 666 THEN RAISE EXCEPTION 'refused at commit'; END IF; "
            "RETURN NULL; END $$"
        )
        await store.database.write(
            "CREATE CONSTRAINT TRIGGER refuse_666 AFTER INSERT ON answers "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_666()"
        )
        asking = await store.quizzes.create_asking(
            kind="quiz", question_id="q0", order=[0, 1], choices_sig="s", now=NOW
        )
        bad = _rec(asking, 666, chat=666, source="quiz", day="2026-03-04", ok=True)
        with pytest.raises(asyncpg.exceptions.RaiseError, match="refused at commit"):
            await store.answers.record_answer(bad)
        with pytest.raises(asyncpg.exceptions.RaiseError):  # the group commit too
            await store.answers.record_channel_answer(bad)
        for table in ("answers", "score_totals", "asking_totals", "question_totals", "users"):
            row = await store.database.one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            assert row is not None and row[0] == 0, table
        good = _rec(asking, 7, chat=7, source="quiz", day="2026-03-04", ok=True)
        assert await store.answers.record_answer(good)
        assert await store.answers.record_channel_answer(
            _rec(asking, 8, chat=-100, source="channel", day="2026-03-04", ok=False)
        )
        assert await store.stats.score(7) == (2, 1, 1)
        assert await store.stats.tally(asking) == (2, 1)
    finally:
        await store.close()


@pytest.mark.postgres_only
async def test_migration_of_a_populated_database(tmp_path: Path) -> None:
    """A database of the schema before FSRS cards and the running totals, with answers in it:
    the Python step (cards from the answer log) and the SQL backfill (SQLite's date() and
    strftime() as PostgreSQL runs them) give what the answers say."""
    path = tmp_path / "old.sqlite3"
    old = await Database.open(path, migrations=MIGRATIONS[:3])
    rnd = random.Random(7)
    store = Store(old)
    askings = [
        await store.quizzes.create_asking(
            kind="quiz", question_id=f"q{i % 5}", order=[0, 1], choices_sig="s", now=NOW
        )
        for i in range(20)
    ]
    days = ["2026-03-01", "2026-03-02", "2026-03-04", "2026-03-08", "2026-03-09"]
    seen: set[tuple[int, int]] = set()
    async with old.tx() as con:
        for _ in range(400):
            asking, user = rnd.choice(askings), rnd.randint(1, 15)
            if (asking, user) in seen:
                continue
            seen.add((asking, user))
            source = rnd.choice(["quiz", "channel"])
            ok = rnd.random() < 0.5
            await con.execute(
                "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, "
                "correct, points, answered_at, local_day) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                (
                    asking,
                    user,
                    rnd.choice([user, -1001]),
                    f"q{asking % 5}",
                    source,
                    int(ok),
                    2 if ok and source == "quiz" else 0,
                    f"{rnd.choice(days)}T10:00:00+00:00",
                    rnd.choice(days),
                ),
            )
    await old.close()

    store = await Store.open(path)  # migrates to the current version
    try:
        rows = _rows_of(store)
        assert await _kept(rows) == await _expected(rows)
        pairs = await rows(
            "SELECT COUNT(*) FROM (SELECT DISTINCT user_id, question_id FROM answers "
            "WHERE source = 'quiz') AS p"
        )
        assert await rows("SELECT COUNT(*) FROM cards") == pairs
        version = await rows("SELECT version FROM schema_version")
        assert version == [(len(MIGRATIONS),)]
        # The old SM-2 table is dropped there too (migration 12: DROP TABLE passes ddl()).
        reviews = await rows(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name = 'reviews'"
        )
        assert reviews == [(0,)]
    finally:
        await store.close()


@pytest.mark.postgres_only
async def test_processes_starting_together_migrate_once(tmp_path: Path) -> None:
    url = pg.create_database()
    try:
        opened = await asyncio.gather(*(Database.open(url) for _ in range(4)))
        for database in opened:
            assert await database.one("SELECT version FROM schema_version") is not None
            await database.close()
    finally:
        pg.drop_database(url)


@pytest.fixture
def own_pg_server(pg_databases: pg.Databases) -> Iterator[None]:
    """This test's databases on a server of its own, which it may restart (tests/pg.py)."""
    with pg.own_server(pg_databases):
        yield


@pytest.mark.postgres_only
async def test_server_restart_mid_channel_burst(
    own_pg_server: None, harness: Harness, pg_databases: pg.Databases
) -> None:
    """The server restarts (every connection cut) in the middle of a burst of channel
    presses: every press the bot acknowledged is in the database, and the bot goes on
    answering without a restart of its own."""
    await harness.start(tally_interval=2.0)
    harness.fake.send_text(FakeUser(1001, "Ada", "ada_admin"), "/post_now conc-gil-what")
    await harness.fake.wait_until(lambda: bool(harness.fake.channel_posts()), timeout=20)
    post = harness.fake.channel_posts()[0]
    buttons = answer_buttons(post)
    asking_id = int(buttons[0]["callback_data"].split(":")[1])
    queries: dict[str, int] = {}
    restart: asyncio.Future[None] | None = None
    for i in range(200):
        user = FakeUser(7000 + i, f"R{i}")
        queries[harness.fake.press(user, post, buttons[i % len(buttons)]["callback_data"])] = (
            user.id
        )
        if i == 60:
            restart = asyncio.ensure_future(asyncio.to_thread(pg.restart_server))
        await asyncio.sleep(0.005)
    assert restart is not None
    await restart
    alerts = {q: await answered(harness, q) for q in queries}
    acknowledged = {
        queries[q] for q, a in alerts.items() if "try again" not in str(a.get("text", ""))
    }
    store = harness.data.store
    recorded = {
        r[0]
        for r in await store.database.all(
            "SELECT user_id FROM answers WHERE asking_id = ?", (asking_id,)
        )
    }
    assert acknowledged <= recorded  # no acknowledged answer lost
    assert len(acknowledged) >= 150  # the restart was waited out, not turned into errors
    after = FakeUser(7999, "After")
    alert = await answered(harness, harness.fake.press(after, post, buttons[0]["callback_data"]))
    assert "try again" not in alert["text"]
    assert await store.database.one(
        "SELECT 1 FROM answers WHERE asking_id = ? AND user_id = ?", (asking_id, after.id)
    )
    assert (await store.stats.tally(asking_id))[0] == len(recorded) + 1
    # The running lock was taken again on a new connection: copy-db still sees the bot.
    url = pg_databases.url_for(harness.settings.database_path)
    for _ in range(100):  # polls for the lock, bounded; the answer is expected within ms
        if await pgdb.in_use(url):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the running lock was not taken again after the restart")


@pytest.mark.postgres_only
async def test_preview_and_backup_with_a_database_url(tmp_path: Path) -> None:
    url = pg.create_database()
    try:
        store = await Store.open(url)
        await store.settings.set_kv(Key.QUEUE_SEED, "7")
        await store.close()
        env = {"DATABASE_URL": url, "CONTENT_DIR": str(CONTENT)}
        result = run_cli("preview", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "next in the queue (cycle 1)" in result.stdout
        result = run_cli("backup", str(tmp_path / "b.sqlite3"), cwd=tmp_path, env=env)
        assert result.returncode == 1 and "pg_dump" in result.stderr
    finally:
        pg.drop_database(url)


# ------------------------------------------------------------------ copy-db


def _sqlite_counts(path: Path) -> Counter[str]:
    con = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return Counter(
            {n: con.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}  # noqa: S608
        )
    finally:
        con.close()


async def _populate(store: Store) -> None:
    """Quizzes, a channel burst, totals, FSRS cards, /daily, settings."""
    await _fill(store, seed=3, answers=150)
    await store.settings.set_kv(Key.QUEUE_SEED, "12345")
    await store.settings.set_kv(Key.CYCLE, "2")
    post = await store.channel.claim_slot(slot="2026-03-04", question_id="q1", cycle=2, now=NOW)
    assert post is not None
    await store.daily.subscribe(2001, "08:30", NOW)
    await store.daily.choose("2026-03-04", "q2", 2, NOW)
    await store.daily.plan("2026-03-04", "q2", [(2001, NOW)], NOW)
    await store.database.write(
        "INSERT INTO cards (user_id, question_id, card, due_at, last_at) VALUES (?, ?, ?, ?, ?)",
        (2001, "q2", "{}", "2026-03-05T10:00:00+00:00", "2026-03-04T10:00:00+00:00"),
    )


async def _view(store: Store) -> tuple[Any, ...]:
    """What /score, /leaderboard and /queue read."""
    return (
        [await store.stats.score(u) for u in range(1, 13)],
        await store.stats.leaderboard(period="all", chat_id=None, limit=50),
        await store.stats.leaderboard(period="all", chat_id=-1001, limit=50),
        [await store.stats.rank(u, period="all", chat_id=None) for u in range(1, 13)],
        await store.settings.get_kv(Key.QUEUE_SEED),
        await store.channel.done_in_cycle(2),
        await store.daily.day_question("2026-03-04"),
    )


async def _score_reply(harness: Harness, user: FakeUser) -> str:
    before = len(harness.fake.sent_to(user.id))
    harness.fake.send_text(user, "/score")
    await harness.fake.wait_until(lambda: len(harness.fake.sent_to(user.id)) > before, 20)
    return str(harness.fake.sent_to(user.id)[-1].params["text"]).splitlines()[0]


@pytest.mark.postgres_only
async def test_copy_db_round_trip(
    tmp_path: Path, pg_databases: pg.Databases, harness: Harness
) -> None:
    assert pg_databases.open_sqlite is not None
    source = tmp_path / "source.sqlite3"
    store = Store(await pg_databases.open_sqlite(source))
    try:
        await _populate(store)
        before = await _view(store)
    finally:
        await store.close()
    url = pg.create_database()
    back = tmp_path / "back.sqlite3"
    try:
        env = {"DATABASE_PATH": str(source)}
        result = run_cli("copy-db", url, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert "every count matches" in lines[-1]
        printed = {line.split()[0]: int(line.split()[1]) for line in lines[:-1]}
        assert printed == dict(_sqlite_counts(source))
        assert printed["answers"] > 100 and printed["daily_deliveries"] == 1

        # The bot started on the copy: /score as the numbers say (contract §5's first line).
        await harness.start(database_url=url)
        best = max(range(1, 13), key=lambda u: before[0][u - 1][0])
        points, answered_, right = before[0][best - 1]
        line = await _score_reply(harness, FakeUser(best, f"U{best}"))
        assert line.startswith(f"{points} points · {answered_} answered · {right} right"), line
        await harness.stop()

        copied = await Store.open(url)
        try:
            assert await _view(copied) == before
            # New rows get new ids after the copied ones.
            asking = await copied.quizzes.create_asking(
                kind="quiz", question_id="q0", order=[0, 1], choices_sig="s", now=NOW
            )
            assert asking > 40
        finally:
            await copied.close()

        # A target that holds data is refused, and left as it was.
        again = run_cli("copy-db", url, cwd=tmp_path, env=env)
        assert again.returncode == 1
        assert "already holds data" in again.stderr and "Traceback" not in again.stderr

        # Back to a SQLite file: the same rows.
        result = run_cli("copy-db", f"sqlite:///{back}", cwd=tmp_path, env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        expected = _sqlite_counts(source)
        expected["askings"] += 1  # the one made above
        expected["keyboards"] += 1  # /score's picture button, bound to the bot's reply above
        expected["processed_updates"] += 1  # that /score, handled once (several processes)
        assert _sqlite_counts(back) == expected
    finally:
        pg.drop_database(url)


@pytest.mark.postgres_only
async def test_copy_db_refuses_a_source_a_bot_is_running_against(
    tmp_path: Path, pg_databases: pg.Databases
) -> None:
    assert pg_databases.open_sqlite is not None
    source = tmp_path / "live.sqlite3"
    store = Store(await pg_databases.open_sqlite(source))  # a running bot holds its lock
    url = pg.create_database()
    try:
        result = run_cli("copy-db", url, cwd=tmp_path, env={"DATABASE_PATH": str(source)})
        assert result.returncode == 1
        assert f"A bot is running against {source}" in result.stderr
    finally:
        await store.close()
    try:
        # ... and the other way: a bot on the PostgreSQL source.
        live = await Store.open(url)
        try:
            result = run_cli(
                "copy-db",
                f"sqlite:///{tmp_path / 'out.sqlite3'}",
                cwd=tmp_path,
                env={"DATABASE_URL": url},
            )
            assert result.returncode == 1
            assert "A bot is running against postgresql://" in result.stderr
            assert not (tmp_path / "out.sqlite3").exists()
        finally:
            await live.close()
    finally:
        pg.drop_database(url)
