"""FSRS reviews, the coloured and inert choices after an answer, copy code, folded
explanations, streak sources, and the migration that turns answer logs into FSRS cards."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db import AnswerRecord, Database, Store, totals
from bot.db import migrations as mig
from bot.handlers.quiz import ALREADY
from bot.services.presses import NOT_VALID, NOT_YOURS
from bot.ui import callback_data as cd
from tests.conftest import ALICE, BOB, Harness
from tests.fakes import StoredMessage
from tests.helpers import answer_buttons, answered, next_question, press_answer

CODE_FITS = "algo-sort-stability"  # code <= 256 characters, explanation > 100
CODE_TOO_LONG = "algo-recursion-vs-loop"  # code > 256: no copy button


def done_buttons(message: StoredMessage) -> list[dict[str, object]]:
    return [b for b in message.buttons() if str(b.get("callback_data", "")).startswith("d1:")]


@pytest.mark.e2e
async def test_answered_choices_stay_coloured_and_pressing_them_changes_nothing(
    bot: Harness,
) -> None:
    fake, store = bot.fake, bot.data.store
    fake.send_text(ALICE, "/quiz 2")
    first = await next_question(bot, ALICE.id, 1)
    await answered(bot, await press_answer(bot, ALICE, first, right=False))
    stacked = await next_question(bot, ALICE.id, 2)  # the same message, edited
    assert stacked.message_id == first.message_id
    # Above the next question only its own choices: right and wrong are said in the text.
    assert done_buttons(stacked) == []
    second = [b["text"] for b in answer_buttons(stacked)]
    assert 2 <= len(second) <= 6
    assert "You chose:" in stacked.text and "Answer: <b>" in stacked.text
    assert [b["text"] for b in stacked.buttons()][-2:] == [
        "📖 Full answer ↑",
        "⚑ Report a mistake ↑",
    ]
    assert "Back in /review in 10 minutes" in stacked.text  # a miss: FSRS's 10-minute step

    # The last answer has the message to itself: its choices stay, coloured and inert.
    rows = await store.stats.count("answers")
    await answered(bot, await press_answer(bot, ALICE, stacked, right=True))
    await fake.wait_for("sendMessage", lambda c: "1/2 right" in c.params["text"])
    assert await store.stats.count("answers") == rows + 1
    old = done_buttons(stacked)
    assert len(old) == len(second) and not answer_buttons(stacked)
    styles = [b.get("style") for b in old]
    assert styles.count("success") == 1 and styles.count("danger") == 0  # a right answer
    assert all(s in (None, "success") for s in styles)
    green = next(b for b in old if b.get("style") == "success")
    assert str(green["text"]).startswith("✅ ")
    assert "Back in /review in 2 days" in stacked.text  # a first right answer: days

    # Pressing an inert choice: "already answered", nothing recorded, nothing edited.
    rows, edits = await store.stats.count("answers"), stacked.edits
    reply = await answered(bot, fake.press(ALICE, stacked, str(green["callback_data"])))
    assert reply.get("text") == ALREADY
    # Forged: someone else, and a d1 naming an asking not shown on this message.
    reply = await answered(bot, fake.press(BOB, stacked, str(green["callback_data"])))
    assert reply.get("text") == NOT_YOURS
    reply = await answered(bot, fake.press(ALICE, stacked, cd.done(999_999)))
    assert reply.get("text") == NOT_VALID
    assert await store.stats.count("answers") == rows
    assert stacked.edits == edits
    assert not fake.rejected or all(c.method == "setMyCommands" for c in fake.rejected)


@pytest.mark.e2e
async def test_copy_code_fits_or_is_left_out_and_long_explanations_fold(bot: Harness) -> None:
    fake = bot.fake
    q = bot.data.bank.questions[CODE_FITS]
    fake.send_text(ALICE, f"/start q_{q.id}")
    question = await next_question(bot, ALICE.id, 1)
    copies = [b for b in question.buttons() if "copy_text" in b]
    assert copies == [{"text": "📋 Copy code", "copy_text": {"text": q.code}}]
    await answered(bot, await press_answer(bot, ALICE, question, right=True))
    await fake.wait_until(lambda: "<blockquote expandable>" in question.text)
    assert q.explanation is not None and len(q.explanation) > 100
    assert not [b for b in question.buttons() if "copy_text" in b]  # the feedback has none

    long_code = bot.data.bank.questions[CODE_TOO_LONG]
    assert long_code.code is not None and len(long_code.code) > 256
    fake.send_text(ALICE, f"/start q_{long_code.id}")
    await fake.wait_until(
        lambda: any(answer_buttons(m) and m is not question for m in fake.messages_in(ALICE.id))
    )
    asked = [m for m in fake.messages_in(ALICE.id) if answer_buttons(m)][-1]
    assert not [b for b in asked.buttons() if "copy_text" in b]
    assert not fake.rejected or all(c.method == "setMyCommands" for c in fake.rejected)


def test_the_fake_refuses_what_telegram_refuses() -> None:
    from tests.fakes import check_markup
    from tests.telegram_html import check_message_text

    def kb(**button: object) -> dict[str, object]:
        return {"inline_keyboard": [[{"text": "x", **button}]]}

    assert check_markup(kb(callback_data="d1:1", style="success")) == ""
    assert check_markup(kb(callback_data="d1:1", style="green")) != ""  # an alias PTB maps
    assert check_markup(kb(copy_text={"text": "x" * 256})) == ""
    assert check_markup(kb(copy_text={"text": "x" * 257})) != ""
    assert check_markup(kb(copy_text={"text": ""})) != ""
    assert check_markup(kb(style="danger")) != ""  # a style alone does nothing: refused
    assert check_markup(kb(callback_data="d1:1", copy_text={"text": "x"})) != ""
    assert check_message_text("<blockquote expandable>a</blockquote>", "HTML") == ""
    assert check_message_text('<blockquote class="x">a</blockquote>', "HTML") != ""


async def test_streak_days_are_scored_answers_only(tmp_path: Path) -> None:
    """A channel press earns no points, so it makes no streak day; quiz and daily do."""
    store = await Store.open(tmp_path / "s.sqlite3")
    try:
        db = store.database
        async with db.tx() as con:
            await con.execute(
                "INSERT INTO askings (id, kind, question_id, choice_order, choices_sig, "
                "created_at) VALUES (1, 'quiz', 'q', '[0]', '', '2026-01-01')"
            )
            for i, (source, day) in enumerate(
                [("channel", "2026-03-01"), ("quiz", "2026-03-02"), ("daily", "2026-03-03")]
            ):
                cur = await con.execute(
                    "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, "
                    "choice, correct, points, answered_at, local_day) "
                    "VALUES (1, ?, 1, 'q', ?, 0, 1, 1, '2026-03-01T00:00:00+00:00', ?)",
                    (ALICE.id + i, source, day),
                )
                assert cur.lastrowid is not None
                record = AnswerRecord(1, ALICE.id + i, "A", 1, "q", source, 0, True, 1, T, day)
                await totals.add_answers(con, [(cur.lastrowid, record)])
        assert await store.stats.answer_days(ALICE.id) == []
        assert await store.stats.answer_days(ALICE.id + 1) == ["2026-03-02"]
        assert await store.stats.answer_days(ALICE.id + 2) == ["2026-03-03"]
    finally:
        await store.close()


# ---------------------------------------------------------------- the migration

CARDS_AT = next(i for i, m in enumerate(mig.MIGRATIONS) if isinstance(m, str) and "cards" in m)
T = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def old_database(path: Path) -> None:
    """A file as the bot left it before FSRS: answers and SM-2 review rows."""
    con = sqlite3.connect(path)
    for script in mig.MIGRATIONS[:CARDS_AT]:
        assert isinstance(script, str)
        con.executescript(script)
    con.execute(f"PRAGMA user_version = {CARDS_AT}")
    con.execute(
        "INSERT INTO askings (id, kind, question_id, choice_order, choices_sig, created_at) "
        "VALUES (1, 'quiz', 'x', '[0]', '', '2026-01-01')"
    )
    log = [  # user, question, source, correct, when
        (1, "missed-last", "quiz", 1, T),
        (1, "missed-last", "quiz", 0, T + timedelta(days=3)),
        (1, "right-thrice", "quiz", 1, T),
        (1, "right-thrice", "quiz", 1, T + timedelta(days=2)),
        (1, "right-thrice", "quiz", 1, T + timedelta(days=13)),
        (1, "channel-only", "channel", 0, T),
        (2, "missed-last", "quiz", 1, T),
    ]
    for n, (user, qid, source, correct, at) in enumerate(log, start=1):
        con.execute(
            "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, "
            "correct, points, answered_at, local_day) VALUES (?, ?, ?, ?, ?, 0, ?, 0, ?, ?)",
            (1 if n == 1 else n, user, user, qid, source, correct, at.isoformat(), "2026-02-01"),
        )
        con.execute(
            "INSERT OR IGNORE INTO askings (id, kind, question_id, choice_order, choices_sig, "
            "created_at) VALUES (?, 'quiz', ?, '[0]', '', '2026-01-01')",
            (n, qid),
        )
    con.execute(
        "INSERT INTO reviews VALUES (1, 'right-thrice', 3, 15.0, 2.8, 0, ?, ?)",
        ((T + timedelta(days=28)).isoformat(), (T + timedelta(days=13)).isoformat()),
    )
    con.commit()
    con.close()


@pytest.mark.sqlite_only  # builds the old file with sqlite3; PG: test_postgres.py
async def test_migration_replays_every_answer_log_into_fsrs_cards(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old_database(path)
    store = await Store.open(path)
    try:
        due = await store.answers.due_dates(1)
        assert set(due) == {"missed-last", "right-thrice"}  # channel answers make no card
        assert due["missed-last"] - (T + timedelta(days=3)) <= timedelta(minutes=10)
        assert due["right-thrice"] - (T + timedelta(days=13)) >= timedelta(days=5)
        assert set(await store.answers.due_dates(2)) == {"missed-last"}
        assert await store.stats.count("answers") == 7  # no answer lost
        # The card is FSRS's own and goes on from where the log left it.
        card = await store.answers.card(1, "right-thrice")
        assert card is not None and '"state": 2' in card
    finally:
        await store.close()
    # The old SM-2 table, which held a row, is gone: FSRS cards replaced it (migration 12).
    con = sqlite3.connect(path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        con.close()
    assert "reviews" not in tables and "cards" in tables


@pytest.mark.sqlite_only  # builds the old file with sqlite3; PG: test_postgres.py
async def test_a_failing_migration_step_leaves_nothing_half_done(tmp_path: Path) -> None:
    """The Python step runs inside its migration's transaction: a failure rolls it back."""
    path = tmp_path / "old.sqlite3"
    old_database(path)
    step = mig.MIGRATIONS.index(mig._answers_to_fsrs_cards)

    async def half_then_fail(db: object) -> None:
        await mig._answers_to_fsrs_cards(db)  # type: ignore[arg-type]
        raise RuntimeError("disk on fire")

    patched = list(mig.MIGRATIONS)
    patched[step] = half_then_fail
    with pytest.raises(RuntimeError, match="disk on fire"):
        await Database.open(path, migrations=patched)
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == step  # stopped before it
        assert con.execute("SELECT COUNT(*) FROM cards").fetchone()[0] == 0
        assert con.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 7
    finally:
        con.close()
    store = await Store.open(path)  # the next start finishes the job
    try:
        assert set(await store.answers.due_dates(1)) == {"missed-last", "right-thrice"}
    finally:
        await store.close()
