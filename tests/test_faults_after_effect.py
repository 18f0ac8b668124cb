"""Telegram as it really is: answers lost or refused after the press counted, 5xx answers to
posts that were delivered, and users who blocked the bot. Each test attacks one guarantee of
contract §6 through the real Application and the fake Bot API."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import pytest

from bot.handlers.quiz import ALREADY
from tests.conftest import ADMIN, ALICE, BOB, ROOT, Harness
from tests.fakes import TOO_OLD, FakeBotApi, FakeUser
from tests.helpers import (
    answer_buttons,
    answered,
    integrity_ok,
    next_question,
    press_answer,
    right_position,
    settled,
    start_bot,
)
from tests.helpers import (
    query as db_query,
)

pytestmark = pytest.mark.e2e


def answers_to(fake: FakeBotApi, query_id: str) -> list[int]:
    return [
        c.status
        for c in fake.calls_to("answerCallbackQuery")
        if str(c.params.get("callback_query_id")) == query_id
    ]


def admin_pages(fake: FakeBotApi) -> list[str]:
    return [str(c.params.get("text")) for c in fake.sent_to(ADMIN.id)]


async def admin_opens_bot(h: Harness) -> None:
    h.fake.send_text(ADMIN, "/start")
    await h.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ADMIN.id)


# ------------------------------------------------------------ 1. the answer is best effort


async def test_answer_lost_after_its_effect_is_not_repeated_and_the_quiz_goes_on(
    bot: Harness,
) -> None:
    fake = bot.fake
    await admin_opens_bot(bot)
    pages_before = len(admin_pages(fake))
    fake.send_text(ALICE, "/quiz 2")
    first = await next_question(bot, ALICE.id, 1)
    data = answer_buttons(first)[await right_position(bot, first)]["callback_data"]
    # The answer reaches Telegram (the user saw it), then the connection drops.
    fake.fail("answerCallbackQuery", 0, after_effect=True)
    query = fake.press(ALICE, first, data)
    await next_question(bot, ALICE.id, 2)  # the follow-up ran
    await settled(bot)
    assert answers_to(fake, query) == [599]  # sent once, never repeated
    assert query in fake.answered_queries
    # A second press on the same button is "already answered" because it is.
    again = fake.press(ALICE, first, data)
    assert (await answered(bot, again))["text"] == ALREADY
    assert (await bot.data.store.stats.score(ALICE.id))[1:] == (1, 1)
    assert len(admin_pages(fake)) == pages_before  # nothing to act on: no page


@pytest.mark.parametrize("status", [502, 504])
async def test_answer_answered_5xx_is_not_repeated(bot: Harness, status: int) -> None:
    fake = bot.fake
    fake.send_text(ALICE, "/quiz 2")
    first = await next_question(bot, ALICE.id, 1)
    fake.fail("answerCallbackQuery", status, after_effect=True)
    query = await press_answer(bot, ALICE, first, right=False)
    await next_question(bot, ALICE.id, 2)
    await settled(bot)
    assert answers_to(fake, query) == [599]
    assert (await bot.data.store.stats.score(ALICE.id))[1:] == (1, 0)


async def test_press_answered_too_late_still_counts_and_nobody_is_paged(bot: Harness) -> None:
    fake = bot.fake
    await admin_opens_bot(bot)
    pages_before = len(admin_pages(fake))
    fake.send_text(ALICE, "/quiz 2")
    first = await next_question(bot, ALICE.id, 1)
    fake.answer_window = 0.0  # every answer arrives after Telegram's window (a backlog)
    query = await press_answer(bot, ALICE, first, right=True)
    second = await next_question(bot, ALICE.id, 2)
    assert [c.error for c in fake.rejected if c.method == "answerCallbackQuery"] == [TOO_OLD]
    assert answers_to(fake, query) == [400]
    await press_answer(bot, ALICE, second, right=True)
    await fake.wait_for("sendMessage", lambda c: "2/2 right" in str(c.params.get("text")))
    assert (await bot.data.store.stats.score(ALICE.id))[1:] == (2, 2)
    await settled(bot)
    assert len(admin_pages(fake)) == pages_before


async def test_group_press_answered_too_late_still_shows_who_answered(bot: Harness) -> None:
    fake = bot.fake
    group = fake.group()
    fake.send_text(ALICE, "/quiz 2", chat=group)
    question = await next_question(bot, group.id, 1)
    fake.answer_window = 0.0
    await press_answer(bot, BOB, question, right=True)
    await fake.wait_until(lambda: "Bob" in fake.messages_in(group.id)[0].text)


async def test_channel_press_answered_too_late_still_feeds_the_tally(bot: Harness) -> None:
    fake = bot.fake
    await admin_opens_bot(bot)
    fake.send_text(ADMIN, "/post_now conc-gil-what")
    await fake.wait_until(lambda: any("Posted" in t for t in admin_pages(fake)))
    post = fake.channel_posts()[0]
    pages_before = len(admin_pages(fake))
    fake.answer_window = 0.0
    fake.press(BOB, post, answer_buttons(post)[0]["callback_data"])
    await fake.wait_until(lambda: "1 answered" in post.text, timeout=10)
    await settled(bot)
    assert len(admin_pages(fake)) == pages_before


# ------------------------------------------------------------ 2. a 5xx is not non-delivery


@pytest.mark.parametrize("after_effect", [True, False])
async def test_channel_post_answered_502_is_unknown_not_repeated(
    bot: Harness, after_effect: bool
) -> None:
    fake = bot.fake
    await admin_opens_bot(bot)
    fake.fail("sendMessage", 502, after_effect=after_effect)
    fake.send_text(ADMIN, "/post_now conc-gil-what")
    await fake.wait_until(lambda: any("/post_now conc-gil-what" in t for t in admin_pages(fake)))
    await settled(bot)
    tries = [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == "@pyinterviewq"]
    assert len(tries) == 1  # no blind repeat
    assert len(fake.channel_posts()) == (1 if after_effect else 0)
    unknown = await bot.data.store.channel.posts_with_status("unknown")
    assert [p.question_id for p in unknown] == ["conc-gil-what"]
    told = [t for t in admin_pages(fake) if "conc-gil-what" in t and "/post_now" in t]
    assert len(told) == 1  # told once, with the id and the command
    # It counts as posted: the next post is another question.
    fake.send_text(ADMIN, "/post_now")
    await fake.wait_until(lambda: any("Posted" in t for t in admin_pages(fake)))
    assert len(fake.channel_posts()) == (2 if after_effect else 1)
    sent = await bot.data.store.channel.posts_with_status("sent")
    assert len(sent) == 1 and sent[0].question_id != "conc-gil-what"


async def test_channel_post_answered_200_that_is_not_json_is_unknown_and_admins_are_told(
    bot: Harness,
) -> None:
    """The post landed, and the answer was a 200 that is not JSON (a proxy's page): the same
    unknown outcome as a 502, not a row left 'sending' with nobody told."""
    fake = bot.fake
    await admin_opens_bot(bot)
    fake.fail("sendMessage", 200, after_effect=True)
    fake.send_text(ADMIN, "/post_now conc-gil-what")
    await fake.wait_until(lambda: any("/post_now conc-gil-what" in t for t in admin_pages(fake)))
    tries = [c for c in fake.calls_to("sendMessage") if c.params["chat_id"] == "@pyinterviewq"]
    assert len(tries) == 1 and len(fake.channel_posts()) == 1  # posted, and not repeated
    unknown = await bot.data.store.channel.posts_with_status("unknown")
    assert [p.question_id for p in unknown] == ["conc-gil-what"]
    assert not await bot.data.store.channel.posts_with_status("sending")
    told = [t for t in admin_pages(fake) if "conc-gil-what" in t and "/post_now" in t]
    assert len(told) == 1


async def test_group_question_answered_502_is_not_sent_twice(bot: Harness) -> None:
    fake = bot.fake
    group = fake.group()
    fake.fail("sendMessage", 502, after_effect=True)
    fake.send_text(ALICE, "/quiz 2", chat=group)
    question = await next_question(bot, group.id, 1)
    await settled(bot)
    assert len([m for m in fake.messages_in(group.id) if "Question 1/" in m.text]) == 1
    # The question the bot never heard about still works: its press is honoured there.
    await press_answer(bot, BOB, question, right=True)
    await fake.wait_until(lambda: "Bob" in fake.messages_in(group.id)[0].text)


# ------------------------------------------------------------ 6. blocked users


async def test_blocked_user_ends_the_quiz_quietly(bot: Harness) -> None:
    fake = bot.fake
    await admin_opens_bot(bot)
    pages_before = len(admin_pages(fake))
    fake.send_text(ALICE, "/quiz 3")
    first = await next_question(bot, ALICE.id, 1)
    fake.block(ALICE)
    await press_answer(bot, ALICE, first, right=True)
    await fake.wait_until(
        lambda: any(c.status == 403 for c in fake.calls if c.params.get("chat_id") == ALICE.id)
    )
    await settled(bot)
    refused = [c for c in fake.calls if c.status == 403 and c.params.get("chat_id") == ALICE.id]
    assert len(refused) == 1  # no retries
    assert await bot.data.store.quizzes.active_session(ALICE.id, ALICE.id) is None
    assert len(admin_pages(fake)) == pages_before
    assert (await bot.data.store.stats.score(ALICE.id))[1:] == (1, 1)  # the press counted


# ------------------------------------------------------------ 5. shutdown


async def test_sigterm_after_a_burst_finishes_every_acknowledged_press(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    fake = fake_api
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT)}
    log_file = (tmp_path / "bot.log").open("wb")
    proc = await start_bot(env, tmp_path, output=log_file.fileno())
    try:
        fake.send_text(ADMIN, "/post_now conc-gil-what")
        await fake.wait_until(lambda: any("Posted" in t for t in admin_pages(fake)), timeout=30)
        post = fake.channel_posts()[0]
        data = answer_buttons(post)[0]["callback_data"]
        learners = [FakeUser(300_000 + i, f"L{i}") for i in range(20)]
        for learner in learners:
            fake.send_text(learner, "/quiz 1")
        await fake.wait_until(
            lambda: all(any(answer_buttons(m) for m in fake.messages_in(u.id)) for u in learners),
            timeout=30,
        )
        quiz_queries = {}
        for learner in learners:
            question = fake.messages_in(learner.id)[0]
            quiz_queries[
                fake.press(learner, question, answer_buttons(question)[0]["callback_data"])
            ] = learner
        readers = [FakeUser(100_000 + i, f"R{i}") for i in range(300)]
        channel_queries = {fake.press(r, post, data) for r in readers}
        await fake.wait_until(
            lambda: len(fake.answered_queries & channel_queries) >= 30, timeout=30
        )
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
        took = time.monotonic() - stopped_at
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log_file.close()
    log_text = (tmp_path / "bot.log").read_text(errors="replace")
    assert code == 0, log_text[-3000:]
    assert took < 10, took
    # Every acknowledged quiz press has its follow-up: the feedback edit and the summary.
    for query, learner in quiz_queries.items():
        if query in fake.answered_queries:
            assert fake.messages_in(learner.id)[0].edits >= 1, learner
            assert any("/1 right" in m.text for m in fake.messages_in(learner.id)), learner
    assert await integrity_ok(env["DATABASE_PATH"])
    recorded = (
        await db_query(
            env["DATABASE_PATH"], "SELECT COUNT(*) FROM answers WHERE source = 'channel'"
        )
    )[0][0]
    assert recorded >= len(fake.answered_queries & channel_queries)
    # The post's tally shows every press recorded, though its batched edit was not due yet.
    shown = re.search(r"(\d+) answered", post.text)
    assert shown is not None and int(shown.group(1)) == recorded, post.text
