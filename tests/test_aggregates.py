"""Running totals (db/totals.py): always equal to the answers they sum, built for an old
database by its migration, and read by every hot path through an index, never a scan."""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.db import AnswerRecord, Store
from bot.db import totals as t
from bot.db.connection import _statements
from bot.db.migrations import MIGRATIONS

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
GROUP = -1001
DAYS = ["2026-03-01", "2026-03-02", "2026-03-04"]  # a Sunday, then the next week


def _rec(asking: int, user: int, *, chat: int, source: str, day: str, ok: bool) -> AnswerRecord:
    return AnswerRecord(
        asking_id=asking,
        user_id=user,
        first_name=f"U{user}",
        chat_id=chat,
        question_id=f"q{asking % 5}",
        source=source,
        choice=0,
        correct=ok,
        points=(2 if ok else 0) if source == "quiz" else 0,
        now=NOW,
        local_day=day,
    )


async def _fill(store: Store, seed: int, answers: int = 300) -> None:
    """Private and group quiz answers and a channel burst, over three days in two weeks."""
    rnd = random.Random(seed)
    askings = [
        await store.quizzes.create_asking(
            kind="quiz", question_id=f"q{i % 5}", order=[0, 1], choices_sig="s", now=NOW
        )
        for i in range(40)
    ]
    for _ in range(answers):
        user = rnd.randint(1, 12)
        chat = rnd.choice([user, GROUP, GROUP - 1])
        await store.answers.record_answer(
            _rec(
                rnd.choice(askings),
                user,
                chat=chat,
                source="quiz",
                day=rnd.choice(DAYS),
                ok=rnd.random() < 0.6,
            )
        )
    post = askings[0]
    presses = [
        _rec(
            post,
            rnd.randint(1, 30),
            chat=-100,
            source="channel",
            day=DAYS[2],
            ok=rnd.random() < 0.5,
        )
        for _ in range(200)
    ]
    await asyncio.gather(*(store.answers.record_channel_answer(p) for p in presses))


Rows = Callable[[str], Awaitable[list[tuple[Any, ...]]]]


def _rows_of(store: Store) -> Rows:
    """Read through the store's own connection: the same on SQLite and PostgreSQL."""

    async def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await store.database.all(sql)]

    return rows


def _rows_sqlite(con: sqlite3.Connection) -> Rows:
    async def rows(sql: str) -> list[tuple[Any, ...]]:
        return con.execute(sql).fetchall()

    return rows


async def _expected(rows: Rows) -> dict[str, Counter[tuple[object, ...]]]:
    """The totals recomputed from the answers in Python (independent of the migration's SQL)."""
    hidden: dict[object, int] = {
        r[0]: r[1] for r in await rows("SELECT user_id, hidden FROM users")
    }
    scores: dict[tuple[object, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 1 << 62])
    askings: Counter[tuple[object, ...]] = Counter()
    questions: Counter[tuple[object, ...]] = Counter()
    for aid, ask, user, chat, qid, source, ok, pts, day in await rows(
        "SELECT id, asking_id, user_id, chat_id, question_id, source, correct, points, "
        "local_day FROM answers"
    ):
        d = date.fromisoformat(day)
        monday = (d - timedelta(days=d.weekday())).isoformat()
        scopes = [0, chat] if source == "quiz" and chat < 0 else [0]
        for scope in scopes:
            for period in ("all", "d" + day, "w" + monday):
                acc = scores[user, scope, period, source]
                acc[0] += pts
                acc[1] += 1
                acc[2] += ok
                acc[3] = min(acc[3], aid)
        askings[ask, "n"] += 1
        askings[ask, "r"] += ok
        questions[qid, "n"] += 1
        questions[qid, "r"] += ok
    return {
        "scores": Counter({(*k, *v, hidden.get(k[0], 0)): 1 for k, v in scores.items()}),
        "askings": +askings,
        "questions": +questions,
    }


async def _kept(rows: Rows) -> dict[str, Counter[tuple[object, ...]]]:
    askings: Counter[tuple[object, ...]] = Counter()
    for ask, n, r in await rows("SELECT asking_id, answered, right_count FROM asking_totals"):
        askings[ask, "n"] += n
        askings[ask, "r"] += r
    questions: Counter[tuple[object, ...]] = Counter()
    for qid, n, r in await rows("SELECT question_id, answered, right_count FROM question_totals"):
        questions[qid, "n"] += n
        questions[qid, "r"] += r
    scores = Counter(
        tuple(r)
        for r in await rows(
            "SELECT user_id, scope, period, source, points, answered, right_count, first_id, "
            "hidden FROM score_totals"
        )
    )
    return {"scores": scores, "askings": +askings, "questions": +questions}


async def test_totals_equal_the_answers_after_quiz_channel_hide_and_forget(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    try:
        await _fill(store, seed=1)
        await store.users.set_hidden(3, "U3", True, NOW)
        await store.users.set_hidden(4, "U4", True, NOW)
        await store.users.set_hidden(4, "U4", False, NOW)
        await store.users.forget_user(5)
        await store.users.forget_user(25)  # a channel-only reader
        # A second press on the same asking is no answer, and adds to nothing.
        again = _rec(2, 6, chat=GROUP, source="quiz", day=DAYS[0], ok=True)
        await store.answers.record_answer(again)
        assert not await store.answers.record_answer(again)
        assert not await store.answers.record_channel_answer(again)
        rows = _rows_of(store)
        assert await _kept(rows) == await _expected(rows)
        assert await rows("SELECT COUNT(*) FROM score_totals WHERE user_id = 5") == [(0,)]
        # What the bot shows agrees with the rows.
        board = await store.stats.leaderboard(period=t.ALL, chat_id=None, limit=100)
        assert all(uid != 3 for uid, _, _ in board)  # hidden
        assert await store.stats.rank(3, period=t.ALL, chat_id=None) is None
        points = [p for _, _, p in board]
        assert points == sorted(points, reverse=True)
        for i, (uid, _, pts) in enumerate(board):
            rank = await store.stats.rank(uid, period=t.ALL, chat_id=None)
            assert rank == (1 + sum(1 for p in points if p > pts), pts), i
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_a_failed_commit_leaves_no_total_behind(tmp_path: Path) -> None:
    """Attack: the answer's transaction fails after the totals were added: none may stay."""
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    try:
        asking = await store.quizzes.create_asking(
            kind="quiz", question_id="q0", order=[0, 1], choices_sig="s", now=NOW
        )
        con = sqlite3.connect(path)
        # A trigger makes the statement after the totals (the user upsert) fail.
        con.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
        con.commit()
        try:
            await store.answers.record_answer(
                _rec(asking, 7, chat=7, source="quiz", day=DAYS[0], ok=True)
            )
        except sqlite3.DatabaseError:
            pass
        else:
            raise AssertionError("the trigger did not fire")
        for table in ("answers", "score_totals", "asking_totals", "question_totals"):
            assert con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table  # noqa: S608
        con.close()
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_migration_builds_totals_for_a_database_of_the_old_schema(tmp_path: Path) -> None:
    """A populated database made with the schema before the totals: nothing lost, every board,
    rank, score and tally as the old full-table queries computed them."""
    path = tmp_path / "bot.sqlite3"
    ours = next(
        i
        for i, m in enumerate(MIGRATIONS)
        if isinstance(m, str) and "CREATE TABLE score_totals" in m
    )
    old = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:ours]):
        # A Python step (the FSRS replay) has no answers to replay in this empty database.
        for statement in _statements(script) if isinstance(script, str) else []:
            old.execute(statement)
        old.execute(f"PRAGMA user_version = {number + 1}")
    rnd = random.Random(7)
    old.execute("BEGIN")
    for i in range(1, 41):
        old.execute(
            "INSERT INTO askings (id, kind, question_id, choice_order, choices_sig, created_at) "
            "VALUES (?, 'quiz', ?, '[0,1]', 's', 'x')",
            (i, f"q{i % 5}"),
        )
    for user in range(1, 21):
        old.execute(
            "INSERT INTO users (user_id, first_name, hidden, created_at, last_seen) "
            "VALUES (?, ?, ?, 'x', 'x')",
            (user, f"U{user}", int(user == 4)),
        )
    seen = set()
    for _ in range(600):
        ask, user = rnd.randint(1, 40), rnd.randint(1, 20)
        if (ask, user) in seen:
            continue
        seen.add((ask, user))
        source = "channel" if ask == 1 else "quiz"
        ok = int(rnd.random() < 0.6)
        old.execute(
            "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, "
            "correct, points, answered_at, local_day) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (
                ask,
                user,
                -100 if source == "channel" else rnd.choice([user, GROUP]),
                f"q{ask % 5}",
                source,
                ok,
                2 * ok if source == "quiz" else 0,
                "2026-03-01T10:00:00+00:00",
                rnd.choice(DAYS),
            ),
        )
    old.execute("COMMIT")
    answers_before = old.execute("SELECT * FROM answers ORDER BY id").fetchall()
    board_sql = (
        "SELECT a.user_id, u.first_name, SUM(a.points) AS pts FROM answers a "
        "JOIN users u ON u.user_id = a.user_id WHERE a.source = 'quiz' AND u.hidden = 0 {} "
        "GROUP BY a.user_id HAVING pts > 0 ORDER BY pts DESC, MIN(a.id)"
    )
    old_all = old.execute(board_sql.format("")).fetchall()
    old_group = old.execute(board_sql.format(f"AND a.chat_id = {GROUP}")).fetchall()
    old_day = old.execute(board_sql.format(f"AND a.local_day = '{DAYS[2]}'")).fetchall()
    old.close()

    store = await Store.open(path)  # migrates
    try:
        assert await store.stats.leaderboard(period=t.ALL, chat_id=None, limit=100) == [
            tuple(r) for r in old_all
        ]
        assert await store.stats.leaderboard(period=t.ALL, chat_id=GROUP, limit=100) == [
            tuple(r) for r in old_group
        ]
        assert await store.stats.leaderboard(
            period=t.day_key(DAYS[2]), chat_id=None, limit=100
        ) == [tuple(r) for r in old_day]
        con = sqlite3.connect(path)
        try:
            assert con.execute("SELECT * FROM answers ORDER BY id").fetchall() == answers_before
            assert await _kept(_rows_sqlite(con)) == await _expected(_rows_sqlite(con))
        finally:
            con.close()
    finally:
        await store.close()


# ---------------------------------------------------------------- no scan on a hot path

TABLE = re.compile(r"^(SCAN|SEARCH) (answers|users|a|u)\b(.*)$")
# A read of answers or users is bounded only when one user, one asking or one row pins it:
# "SEARCH a USING INDEX answers_time (source=?)" reads every quiz answer, like a scan.
BOUND = re.compile(r"\((user_id|asking_id|rowid|id)=\?")


def scans(con: sqlite3.Connection, sql: str) -> list[str]:
    """Plan lines that read all (or an unbounded share) of answers or users."""
    try:
        plan = con.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    except sqlite3.Error:  # BEGIN, COMMIT, PRAGMA: nothing to plan
        return []
    bad = []
    for row in plan:
        m = TABLE.match(row[3])
        if m and (m[1] == "SCAN" or not BOUND.search(m[3])):
            bad.append(row[3])
    return bad


@pytest.mark.sqlite_only
def test_the_scan_detector_catches_the_old_leaderboard(tmp_path: Path) -> None:
    """The detector below is not blind: the query this replaced is caught."""
    con = sqlite3.connect(tmp_path / "x.sqlite3")
    first = MIGRATIONS[0]
    assert isinstance(first, str)
    for statement in _statements(first):
        con.execute(statement)
    old = (
        "SELECT a.user_id, u.first_name, SUM(a.points) AS pts FROM answers a "
        "JOIN users u ON u.user_id = a.user_id WHERE a.source = 'quiz' AND u.hidden = 0 "
        "GROUP BY a.user_id HAVING pts > 0 ORDER BY pts DESC, MIN(a.id) LIMIT 10"
    )
    assert scans(con, old)
    assert scans(con, "SELECT COUNT(DISTINCT user_id) FROM answers WHERE answered_at >= 'x'")


@pytest.mark.sqlite_only
async def test_no_hot_path_scans_answers_or_users(tmp_path: Path) -> None:
    """Every statement run by: recording a quiz answer (private and group), the channel group
    commit, /score, the three boards and ranks (everywhere and in a group), /stats, the tally,
    and the pictures (/progress, /stats, the weekly recap)."""
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path)
    await _fill(store, seed=2, answers=60)
    con = sqlite3.connect(path)
    con.execute("ANALYZE")  # the planner with statistics, as a long-lived database has them
    con.commit()
    store2 = await Store.open(path)  # reads the statistics
    await store.close()
    store = store2
    seen: list[str] = []
    raw = store.database._db  # the test listens to every statement
    await raw.set_trace_callback(seen.append)
    try:
        asking = await store.quizzes.create_asking(
            kind="quiz", question_id="q1", order=[0, 1], choices_sig="s", now=NOW
        )
        await store.answers.record_answer(
            _rec(asking, 1, chat=1, source="quiz", day=DAYS[2], ok=True)
        )
        await store.answers.record_answer(
            _rec(asking, 2, chat=GROUP, source="quiz", day=DAYS[2], ok=False)
        )
        await asyncio.gather(
            *(
                store.answers.record_channel_answer(
                    _rec(asking, u, chat=-100, source="channel", day=DAYS[2], ok=True)
                )
                for u in range(3, 40)
            )
        )
        for source in ("quiz", "channel"):
            await store.stats.score(1, source)
        await store.stats.answer_days(1)
        await store.stats.per_question(1)
        await store.answers.due_dates(1)
        await store.users.get_user(1)
        for chat in (None, GROUP):
            for period in (t.day_key(DAYS[2]), t.week_key(DAYS[2]), t.ALL):
                await store.stats.leaderboard(period=period, chat_id=chat)
                await store.stats.rank(1, period=period, chat_id=chat)
        await store.stats.post_stats()
        await store.stats.hardest_questions()
        await store.stats.active_users(NOW - timedelta(days=7))
        await store.stats.tally(asking)
        # The pictures: /progress's days, the weekly recap's posts and readers.
        await store.stats.day_totals(1, DAYS[0], DAYS[2])
        await store.stats.posts_between(NOW - timedelta(days=7), NOW)
        await store.stats.readers([asking, asking + 1, asking + 2])
        await store.stats.post_stats(30)
    finally:
        await raw.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None
        await store.close()
    assert len(seen) > 20
    bad = {sql: found for sql in seen if (found := scans(con, sql))}
    con.close()
    assert not bad, bad
