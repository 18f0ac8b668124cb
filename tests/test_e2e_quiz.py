"""End to end: quizzes in private chats and groups, scores, safety, restarts, /forget."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ALICE, BOB, Harness
from tests.helpers import (
    answer_buttons,
    answered,
    next_question,
    press_answer,
    settled,
)

pytestmark = pytest.mark.e2e

SCORE_RE = re.compile(r"^(\d+) points? · (\d+) answered · (\d+) right · (\d+)%$")


async def score_line(h: Harness, user_id_chat: int, user: object) -> tuple[int, ...]:
    before = len(h.fake.sent_to(user_id_chat))
    h.fake.send_text(user, "/score")  # type: ignore[arg-type]
    await h.fake.wait_until(lambda: len(h.fake.sent_to(user_id_chat)) > before)
    text = h.fake.sent_to(user_id_chat)[-1].params["text"]
    match = SCORE_RE.match(text.splitlines()[0])
    assert match, text
    return tuple(int(g) for g in match.groups())


async def test_five_question_quiz_then_score_matches(bot: Harness) -> None:
    fake = bot.fake
    fake.send_text(ALICE, "/quiz")
    pattern = [True, False, True, True, False]
    points = 0
    for i, right in enumerate(pattern, start=1):
        message = await next_question(bot, ALICE.id, i)
        assert f"Question {i}/5" in message.text
        qid = await press_answer(bot, ALICE, message, right=right)
        assert await answered(bot, qid)  # answered at once
        data = answer_buttons(message)[0]["callback_data"]
        asking = await bot.data.store.quizzes.get_asking(int(data.split(":")[1]))
        assert asking is not None
        q = bot.data.bank.questions[asking.question_id]
        points += {"easy": 1, "medium": 2, "hard": 3}[q.difficulty] if right else 0
    summary = await fake.wait_for("sendMessage", lambda c: "right</b>" in c.params["text"])
    assert "3/5 right" in summary.params["text"]
    assert await score_line(bot, ALICE.id, ALICE) == (points, 5, 3, 60)
    assert not fake.rejected or all(c.method == "setMyCommands" for c in fake.rejected)


async def test_double_stale_foreign_and_forged_presses_change_nothing(bot: Harness) -> None:
    fake = bot.fake
    fake.send_text(ALICE, "/quiz 3")
    first = await next_question(bot, ALICE.id, 1)
    first_buttons = [b["callback_data"] for b in answer_buttons(first)]  # before it is edited
    q1 = await press_answer(bot, ALICE, first, right=True)
    q1b = await press_answer(bot, ALICE, first, right=True)  # double press
    await answered(bot, q1)
    second = await next_question(bot, ALICE.id, 2)
    reply = await answered(bot, q1b)
    assert "already" in reply.get("text", "").lower() or "over" in reply.get("text", "").lower()
    # Bob presses on Alice's quiz message (forwarded buttons, or a forged update).
    q_bob = await press_answer(bot, BOB, second, right=True)
    assert "someone else" in (await answered(bot, q_bob)).get("text", "")
    # Forged and malformed callback data.
    for data in ["a1:999999:0", "a1:1:9", "a1:abc:0", "zz", "a1:" + "9" * 60, "a2:1:0"]:
        forged = fake.press(ALICE, second, data)
        assert (await answered(bot, forged)).get("text")
    # A stale press on the first question after it was answered.
    stale = fake.press(ALICE, first, first_buttons[0])
    assert (await answered(bot, stale)).get("text")
    # Meanwhile Bob is served normally.
    fake.send_text(BOB, "/quiz 1")
    bob_q = await next_question(bot, BOB.id, 1)
    await answered(bot, await press_answer(bot, BOB, bob_q, right=True))
    assert (await bot.data.store.stats.score(ALICE.id))[1:] == (1, 1)
    assert (await bot.data.store.stats.score(BOB.id))[1] == 1


async def test_restart_mid_quiz_continues(harness: Harness) -> None:
    await harness.start()
    fake = harness.fake
    fake.send_text(ALICE, "/quiz 3")
    first = await next_question(harness, ALICE.id, 1)
    await answered(harness, await press_answer(harness, ALICE, first, right=True))
    second = await next_question(harness, ALICE.id, 2)
    await harness.restart()
    await answered(harness, await press_answer(harness, ALICE, second, right=False))
    third = await next_question(harness, ALICE.id, 3)
    assert "Question 3/3" in third.text
    await answered(harness, await press_answer(harness, ALICE, third, right=True))
    summary = await fake.wait_for("sendMessage", lambda c: "right</b>" in c.params["text"])
    assert "2/3 right" in summary.params["text"]


async def test_group_quiz_two_members_and_group_leaderboard(bot: Harness) -> None:
    fake = bot.fake
    group = fake.group()
    fake.send_text(ALICE, "/quiz 2", chat=group)
    question = await next_question(bot, group.id, 1)
    qa = await press_answer(bot, ALICE, question, right=True)
    await answered(bot, qa)
    qb = await press_answer(bot, BOB, question, right=False)
    await answered(bot, qb)
    again = await press_answer(bot, BOB, question, right=True)  # a second try counts once
    assert "already" in (await answered(bot, again)).get("text", "").lower()
    await fake.wait_until(lambda: "Bob" in fake.messages_in(group.id)[0].text)
    rows = await bot.data.store.quizzes.asking_answers(
        int(answer_buttons(question)[0]["callback_data"].split(":")[1])
    )
    assert sorted((name, ok) for _, name, ok in rows) == [("Alice", True), ("Bob", False)]
    # Next: the answer is revealed and the second question follows.
    nxt = [b for b in question.buttons() if b["callback_data"].startswith("n1:")][0]
    fake.press(BOB, question, nxt["callback_data"])
    second = await next_question(bot, group.id, 2)
    await answered(bot, await press_answer(bot, BOB, second, right=True))
    fake.send_text(ALICE, "/leaderboard", chat=group)
    board = await fake.wait_for(
        "sendMessage",
        lambda c: (
            c.params["chat_id"] == group.id
            and "leaderboard" not in c.params["text"]
            and "in this group" in c.params["text"]
        ),
    )
    assert "Alice" in board.params["text"] and "Bob" in board.params["text"]


async def test_forget_leaves_no_row(bot: Harness) -> None:
    fake = bot.fake
    fake.send_text(ALICE, "/quiz 2")
    first = await next_question(bot, ALICE.id, 1)
    await answered(bot, await press_answer(bot, ALICE, first, right=True))
    fake.send_text(ALICE, "/timezone Europe/Berlin")
    await fake.wait_for("sendMessage", lambda c: "Europe/Berlin" in c.params["text"])
    assert await bot.data.store.users.rows_about_user(ALICE.id) > 0
    fake.send_text(ALICE, "/forget")
    confirm = await fake.wait_for("sendMessage", lambda c: "Sure?" in c.params["text"])
    message = fake.messages[(ALICE.id, confirm_id(fake, confirm))]
    yes = [b for b in message.buttons() if b["callback_data"] == "f1:yes"][0]
    # Bob pressing Alice's confirmation deletes only Bob's (empty) data.
    fake.press(BOB, message, yes["callback_data"])
    await fake.wait_for("answerCallbackQuery", count=2)
    assert await bot.data.store.users.rows_about_user(ALICE.id) > 0
    fake.press(ALICE, message, yes["callback_data"])
    await fake.wait_for("answerCallbackQuery", count=3)
    await fake.wait_until(lambda: "deleted" in fake.messages[(ALICE.id, message.message_id)].text)
    assert await bot.data.store.users.rows_about_user(ALICE.id) == 0


def confirm_id(fake: object, call: object) -> int:
    for (chat_id, mid), m in fake.messages.items():  # type: ignore[attr-defined]
        if chat_id == ALICE.id and m.text == call.params["text"]:  # type: ignore[attr-defined]
            return int(mid)
    raise AssertionError("confirmation not found")


async def test_user_names_are_escaped(bot: Harness) -> None:
    from tests.fakes import FakeUser

    evil = FakeUser(3003, "<b>&")
    group = bot.fake.group()
    bot.fake.send_text(evil, "/quiz 1", chat=group)
    question = await next_question(bot, group.id, 1)
    await answered(bot, await press_answer(bot, evil, question, right=True))
    await bot.fake.wait_until(lambda: "&lt;b&gt;&amp;" in bot.fake.messages_in(group.id)[0].text)
    assert not [c for c in bot.fake.rejected if c.method != "setMyCommands"]


async def test_hide_from_leaderboard_and_report_a_mistake(bot: Harness) -> None:
    from tests.conftest import ADMIN

    fake = bot.fake
    fake.send_text(ADMIN, "/start")  # the admin opened the bot: reports can reach them
    await fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ADMIN.id)
    fake.send_text(ALICE, "/quiz 2")
    first = await next_question(bot, ALICE.id, 1)
    await answered(bot, await press_answer(bot, ALICE, first, right=True))
    await next_question(bot, ALICE.id, 2)
    fake.send_text(ALICE, "/leaderboard")
    board = await fake.wait_for("sendMessage", lambda c: "All time" in c.params["text"])
    assert "Alice" in board.params["text"]
    message = next(m for m in fake.messages_in(ALICE.id) if "All time" in m.text)
    hide = next(b for b in message.buttons() if b["callback_data"] == "h1:1")
    fake.press(ALICE, message, hide["callback_data"])
    await fake.wait_for("answerCallbackQuery", lambda c: "hidden" in c.params.get("text", ""))
    fake.send_text(ALICE, "/leaderboard")
    board = await fake.wait_for("sendMessage", lambda c: "All time" in c.params["text"], count=2)
    assert "Alice" not in board.params["text"] and "hidden" in board.params["text"]
    # ⚑ Report a mistake: the next private message goes to the admins, escaped.
    report = next(b for b in first.buttons() if b.get("callback_data", "").startswith("r1:"))
    fake.press(ALICE, first, report["callback_data"])
    await fake.wait_for("answerCallbackQuery", lambda c: "note" in c.params.get("text", ""))
    fake.send_text(ALICE, "The key is wrong <script>&")
    note = await fake.wait_for("sendMessage", lambda c: "Mistake report" in c.params["text"])
    assert note.params["chat_id"] == ADMIN.id
    assert "&lt;script&gt;&amp;" in note.params["text"] and "Alice" in note.params["text"]
    await fake.wait_for("sendMessage", lambda c: "Thank you" in c.params["text"])


async def test_deep_links_practise_then_more_on_the_topic(bot: Harness) -> None:
    fake = bot.fake
    fake.send_text(ALICE, "/start a_conc-gil-what")
    full = await fake.wait_for("sendMessage", lambda c: "<pre><code" in c.params["text"])
    assert "GIL" in full.params["text"]
    fake.send_text(ALICE, "/start q_conc-gil-what")
    question = await next_question(bot, ALICE.id, 1)
    assert "Question 1/1" in question.text and "GIL" in question.text
    await answered(bot, await press_answer(bot, ALICE, question, right=True))
    summary = await fake.wait_for("sendMessage", lambda c: "1/1 right" in c.params["text"])
    more = next(
        b
        for row in summary.params["reply_markup"]["inline_keyboard"]
        for b in row
        if b.get("callback_data", "").startswith("m1:")
    )
    assert more["text"] == "More on Concurrency ▶"
    message = fake.last_message(ALICE.id)
    # The summary's buttons are bound to it once its send returns (the door reads that row):
    # a person cannot press sooner, and the test does not either.
    await settled(bot)
    fake.press(ALICE, message, more["callback_data"])
    follow = await next_question(bot, ALICE.id, 1)
    assert "<b>Question 1/5</b> · Concurrency" in follow.text
    fake.send_text(ALICE, "/start q_no-such-question")
    await fake.wait_for("sendMessage", lambda c: "no longer in the bank" in c.params["text"])


async def test_topics_unknown_topic_and_expiry(harness: Harness) -> None:
    from datetime import UTC, datetime

    from tests.fakes import Clock

    harness.clock = Clock(datetime(2026, 5, 1, 10, 0, tzinfo=UTC))
    await harness.start()
    fake = harness.fake
    fake.send_text(ALICE, "/topics")
    topics = await fake.wait_for("sendMessage", lambda c: "<b>Topics</b>" in c.params["text"])
    n = sum(q.quizzable for q in harness.bank.in_topic("Concurrency"))
    assert f"Concurrency: {n} questions" in topics.params["text"]
    fake.send_text(ALICE, "/quiz rust 3")
    nope = await fake.wait_for("sendMessage", lambda c: "No topic matches" in c.params["text"])
    assert "• Concurrency" in nope.params["text"]
    fake.send_text(ALICE, "/quiz async 2")
    question = await next_question(harness, ALICE.id, 1)
    assert "Async and Event Loops" in question.text
    harness.clock.advance(hours=2)  # the learner walked away
    late = await press_answer(harness, ALICE, question, right=True)
    assert "expired" in (await answered(harness, late)).get("text", "")
    assert (await harness.data.store.stats.score(ALICE.id))[1] == 0


async def test_group_burst_is_coalesced_and_the_reveal_is_final(harness: Harness) -> None:
    from tests.fakes import FakeUser

    await harness.start(rate_limit=True)  # 20 messages a minute per group, as in production
    fake = harness.fake
    group = fake.group()
    fake.send_text(ALICE, "/quiz 2", chat=group)
    question = await next_question(harness, group.id, 1)
    members = [FakeUser(4000 + i, f"M{i}") for i in range(6)]
    for member in members:
        await answered(harness, await press_answer(harness, member, question, right=True))
    nxt = next(b for b in question.buttons() if b["callback_data"].startswith("n1:"))
    fake.press(ALICE, question, nxt["callback_data"])
    await next_question(harness, group.id, 2)
    shown = question.text.replace("\u2068", "").replace("\u2069", "")  # names are isolated
    assert "Right: M0, M1, M2, M3, M4, M5" in shown  # the reveal stayed last
    assert not answer_buttons(question)
    assert question.edits <= 4  # six presses, a few coalesced edits, one reveal
