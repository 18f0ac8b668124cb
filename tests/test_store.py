"""The SQLite store on a real file: schema, migrations, exactly-once answers, backup, forget."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core import srs
from bot.db import AnswerRecord, Store, backup_database, iso
from bot.db.migrations import SCHEMA_VERSION

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.sqlite_only
async def test_blank_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "bot.sqlite3"
    store = await Store.open(path)
    await store.close()
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {
            "users",
            "answers",
            "askings",
            "quiz_sessions",
            "cards",
            "channel_posts",
            "extra_posts",
            "kv",
        } <= tables
        assert "reviews" not in tables  # the old SM-2 table is dropped (migration 12)
    finally:
        con.close()
    store = await Store.open(path)  # reopening applies nothing twice
    assert await store.migrate() == SCHEMA_VERSION
    await store.close()


@pytest.mark.sqlite_only
async def test_newer_database_is_refused_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(RuntimeError, match="newer than this bot"):
        await Store.open(path)


def record(asking_id: int, user_id: int, correct: bool = True) -> AnswerRecord:
    return AnswerRecord(
        asking_id=asking_id,
        user_id=user_id,
        first_name="U",
        chat_id=user_id,
        question_id="q",
        source="quiz",
        choice=0,
        correct=correct,
        points=2,
        now=NOW,
        local_day="2026-03-01",
    )


async def test_answer_recorded_exactly_once(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        asking = await store.quizzes.create_asking(
            kind="quiz", question_id="q", order=[1, 0], choices_sig="s", now=NOW
        )
        assert await store.answers.record_answer(record(asking, 1))
        assert not await store.answers.record_answer(record(asking, 1, correct=False))
        assert await store.answers.record_answer(record(asking, 2))
        assert await store.stats.score(1) == (2, 1, 1)
        assert await store.integrity_check() == "ok"
    finally:
        await store.close()


@pytest.mark.sqlite_only
async def test_backup_is_a_consistent_copy(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "live.sqlite3")
    try:
        asking = await store.quizzes.create_asking(
            kind="quiz", question_id="q", order=[0, 1], choices_sig="s", now=NOW
        )
        await store.answers.record_answer(record(asking, 7))
        await backup_database(tmp_path / "live.sqlite3", tmp_path / "copy" / "b.sqlite3")
    finally:
        await store.close()
    con = sqlite3.connect(tmp_path / "copy" / "b.sqlite3")
    try:
        assert con.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


async def test_forget_deletes_every_row_about_a_user(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        sid = await store.quizzes.start_session(
            chat_id=5, user_id=5, kind="quiz", topic=None, question_ids=["q"], now=NOW
        )
        asking = await store.quizzes.create_asking(
            kind="quiz",
            question_id="q",
            order=[0, 1],
            choices_sig="s",
            now=NOW,
            session_id=sid,
            position=0,
        )
        await store.answers.record_answer(record(asking, 5))
        await store.users.set_timezone(5, "U", "Europe/Berlin", NOW)
        other = await store.quizzes.create_asking(
            kind="quiz", question_id="q", order=[0, 1], choices_sig="s", now=NOW
        )
        await store.answers.record_answer(record(other, 6))
        # A row in each table another module owns: each goes through its owner's forget step.
        db = store.database
        for user in (5, 6):
            await db.write(
                "INSERT INTO keyboards (chat_id, message_id, user_id, data, created_at) "
                "VALUES (?, ?, ?, 'd', ?)",
                (user, 1, user, iso(NOW)),
            )
            await db.write(
                "INSERT INTO daily_subscriptions (user_id, at, since) VALUES (?, NULL, ?)",
                (user, iso(NOW)),
            )
            await db.write(
                "INSERT INTO daily_deliveries (day, user_id, question_id, due_at, status, "
                "updated_at) VALUES ('2026-01-01', ?, 'q', ?, 'sent', ?)",
                (user, iso(NOW), iso(NOW)),
            )
            await db.write(
                "INSERT INTO reports (user_id, question_id, sent_at) VALUES (?, 'q', ?)",
                (user, iso(NOW)),
            )
        game = await db.insert(
            "INSERT INTO games (chat_id, starter_id, question_ids, seconds, started_at) "
            "VALUES (-100, 5, '[]', 30, ?)",
            (iso(NOW),),
        )
        for user in (5, 6):
            await db.write(
                "INSERT INTO game_answers (asking_id, user_id, game_id, position, correct, "
                "points, elapsed_ms) VALUES (?, ?, ?, 0, 1, 10, 100)",
                (asking, user, game),
            )
        assert await store.users.rows_about_user(5) > 0
        await store.users.forget_user(5)
        assert await store.users.rows_about_user(5) == 0
        assert await store.users.rows_about_user(6) > 0
        for table in (
            "keyboards",
            "daily_subscriptions",
            "daily_deliveries",
            "reports",
            "game_answers",
        ):
            counts = await db.all(
                f"SELECT user_id, COUNT(*) FROM {table} GROUP BY user_id",  # noqa: S608 - fixed
            )
            assert {int(r[0]): int(r[1]) for r in counts} == {6: 1}, table
        # The game they started goes on, started by nobody.
        starters = await db.all("SELECT starter_id FROM games WHERE id = ?", (game,))
        assert [int(r[0]) for r in starters] == [0]
    finally:
        await store.close()


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "pre-3.35"])
async def test_group_commit_records_each_press_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, returning: bool
) -> None:
    import asyncio

    import bot.db.answers

    monkeypatch.setattr(bot.db.answers, "RETURNING", returning)
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        asking = await store.quizzes.create_asking(
            kind="channel", question_id="q", order=[0, 1], choices_sig="s", now=NOW
        )

        def press(user: int) -> AnswerRecord:
            return AnswerRecord(
                asking_id=asking,
                user_id=user,
                first_name=f"U{user}",
                chat_id=-100,
                question_id="q",
                source="channel",
                choice=0,
                correct=user % 2 == 0,
                points=0,
                now=NOW,
                local_day="2026-03-01",
            )

        users = [u % 700 for u in range(1200)]  # 500 users press twice, all at once
        results = await asyncio.gather(
            *(store.answers.record_channel_answer(press(u)) for u in users)
        )
        firsts = {u: r for u, r in zip(users, results, strict=True) if r}
        assert sorted(firsts) == list(range(700))  # each user's press counted exactly once
        assert sum(results) == 700
        assert await store.stats.tally(asking) == (700, 350)
        again = await store.answers.record_channel_answer(press(3))
        assert again is False
        assert await store.stats.count("users") == 700
    finally:
        await store.close()


async def test_two_answers_to_one_question_at_once_review_its_card_one_after_the_other(
    tmp_path: Path,
) -> None:
    """The FSRS card is read, reviewed and written in the answer's own transaction: two
    answers to one question at once (two askings of it) are both in the card."""
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        first, second = [
            await store.quizzes.create_asking(
                kind="quiz", question_id="q", order=[1, 0], choices_sig="s", now=NOW
            )
            for _ in range(2)
        ]
        wrong = replace(record(first, 1, correct=False), review=True)
        right = replace(record(second, 1), review=True, now=NOW + timedelta(minutes=1))
        done = await asyncio.gather(
            store.answers.record_answer(wrong), store.answers.record_answer(right)
        )
        both = srs.review(srs.review(None, False, wrong.now).card_json, True, right.now)
        assert await store.answers.card(1, "q") == both.card_json
        assert done[0] is not None
        assert done[1] is not None
        assert done[1].due_at == both.due_at
        assert await store.answers.record_answer(right) is None  # once: nothing reviewed again
        assert await store.answers.card(1, "q") == both.card_json
    finally:
        await store.close()


async def test_a_forgotten_user_answering_again_has_a_users_row_again(tmp_path: Path) -> None:
    """Answers upsert their user only while the name is not known to be stored (db.answers'
    cache); /forget deletes the row, and with it what the cache knew."""
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        asking = await store.quizzes.create_asking(
            kind="quiz", question_id="q", order=[1, 0], choices_sig="s", now=NOW
        )
        assert await store.answers.record_answer(record(asking, 5))
        assert await store.users.get_user(5) is not None
        await store.users.forget_user(5)
        assert await store.users.get_user(5) is None
        again = await store.quizzes.create_asking(
            kind="quiz", question_id="q", order=[1, 0], choices_sig="s", now=NOW
        )
        assert await store.answers.record_channel_answer(
            replace(record(again, 5), source="channel")
        )
        user = await store.users.get_user(5)
        assert user is not None
        assert user.first_name == "U"
    finally:
        await store.close()


async def test_forget_drops_the_users_kept_updates_and_no_one_elses(tmp_path: Path) -> None:
    """Updates kept at a stop (db.pending) are the user's too: /forget deletes them, so a
    stopped worker's backlog cannot bring the user's rows back at its next start."""
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        press = {"id": "q", "from": {"id": 5, "first_name": "Eve"}, "data": "a1:1:0"}
        await store.pending.keep(
            [
                (10, {"update_id": 10, "message": {"text": "/quiz", "from": {"id": 5}}}),
                (11, {"update_id": 11, "callback_query": press}),
                (12, {"update_id": 12, "message": {"text": "/score", "from": {"id": 6}}}),
                (13, {"update_id": 13, "channel_post": {"text": "no sender"}}),
            ]
        )
        await store.users.forget_user(5)
        assert [u["update_id"] for u in await store.pending.take()] == [12, 13]
    finally:
        await store.close()
