"""Pruning what no button can reach any more, without losing a single answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.db import AnswerRecord, Store

OLD = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
NOW = OLD + timedelta(days=60)


async def asking(store: Store, kind: str, session_id: int | None, at: datetime) -> int:
    return await store.quizzes.create_asking(
        kind=kind,
        question_id="q",
        order=[0, 1],
        choices_sig="s",
        now=at,
        session_id=session_id,
        position=0 if session_id else None,
        chat_id=7,
    )


async def test_prune_keeps_every_answer_and_what_buttons_still_reach(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        q = store.quizzes
        done = await q.start_session(
            chat_id=7, user_id=7, kind="quiz", topic=None, question_ids=["q"], now=OLD
        )
        assert done is not None  # a private session always opens
        answered = await asking(store, "quiz", done, OLD)
        unanswered = await asking(store, "quiz", done, OLD)
        await store.answers.record_answer(
            AnswerRecord(answered, 7, "A", 7, "q", "quiz", 0, True, 2, OLD, "2026-01-01")
        )
        await q.end_session(done, "finished", OLD)
        empty = await q.start_session(
            chat_id=8, user_id=8, kind="quiz", topic=None, question_ids=["q"], now=OLD
        )
        assert empty is not None  # a private session always opens
        empty_asking = await asking(store, "quiz", empty, OLD)
        await q.end_session(empty, "stopped", OLD)
        live = await q.start_session(
            chat_id=9, user_id=9, kind="quiz", topic=None, question_ids=["q"], now=OLD
        )
        assert live is not None  # a private session always opens
        live_asking = await asking(store, "quiz", live, OLD)
        channel = await asking(store, "channel", None, OLD)
        preview = await asking(store, "preview", None, OLD)
        fresh_preview = await asking(store, "preview", None, NOW)
        await store.keyboards.remember(7, 1, 7, ["f1:yes"], OLD)
        await store.keyboards.remember(7, 2, 7, ["f1:yes"], NOW)
        answers_before = await store.stats.count("answers")

        pruned = await q.prune(NOW - timedelta(days=30))

        assert pruned == (3, 1, 1)  # unanswered, empty session's, old preview; one session
        assert await store.stats.count("answers") == answers_before == 1
        for kept in (answered, live_asking, channel, fresh_preview):
            assert await q.get_asking(kept) is not None
        for gone in (unanswered, empty_asking, preview):
            assert await q.get_asking(gone) is None
        assert await q.get_session(done) is not None  # an answered asking still points at it
        assert await q.get_session(empty) is None
        assert await q.get_session(live) is not None
        assert await store.keyboards.find(7, 1) is None
        assert await store.keyboards.find(7, 2) is not None
        assert await q.prune(NOW - timedelta(days=30)) == (0, 0, 0)
    finally:
        await store.close()
