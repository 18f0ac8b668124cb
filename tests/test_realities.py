"""Telegram as it really is: careless and hostile input, pages, limits, unreadable updates.

Each test tries to break one guarantee through the real Application and the fake Bot API.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.runtime.logs import ThrottleRepeats
from bot.ui import render
from tests.conftest import ADMIN, ALICE, Harness
from tests.fakes import CHANNEL_ID, FakeUser
from tests.helpers import answered, button, next_question, quiet, settled

pytestmark = pytest.mark.e2e

PAGE = "The bot hit an error"


def texts_to(h: Harness, chat_id: int) -> list[str]:
    return [c.params["text"] for c in h.fake.sent_to(chat_id)]


async def says(h: Harness, user: FakeUser, text: str, chat_id: int | None = None) -> str:
    chat = user.id if chat_id is None else chat_id
    before = len(texts_to(h, chat))
    h.fake.send_text(user, text, chat=None if chat_id is None else h.fake.chats[chat_id])
    await h.fake.wait_until(lambda: len(texts_to(h, chat)) > before)
    return texts_to(h, chat)[-1]


def refused(h: Harness) -> list[str]:
    """What Telegram refused, bar the admin menu and a repeated edit (both expected)."""
    return [
        c.error
        for c in h.fake.rejected
        if c.method != "setMyCommands" and "not modified" not in c.error
    ]


def pages(h: Harness) -> list[str]:
    return [t for t in texts_to(h, ADMIN.id) if PAGE in t]


# ---------------------------------------------------------------- bad input: usage, no page


@pytest.mark.parametrize(
    ("user", "command", "expect"),
    [
        (ALICE, "/quiz ²", "Usage: /quiz"),
        (ALICE, "/quiz asyncio １０", "Usage: /quiz"),
        (ADMIN, "/queue ²", "Usage: /queue"),
        (ADMIN, "/unschedule ²", "extra posts"),
        (ADMIN, "/post_now conc-gil-what conc-gil-what", "one question at a time"),
        (ADMIN, "/timezone localtime", "don't know the time zone"),
        (ADMIN, "/timezone posixrules", "don't know the time zone"),
        (ADMIN, "/schedule 9999-12-31 23:59", "too far ahead"),
        (ADMIN, "/schedule ２０２７-01-01 10:00", "use /schedule"),
    ],
)
async def test_bad_input_gets_a_usage_reply_never_a_page(
    harness: Harness, user: FakeUser, command: str, expect: str
) -> None:
    # West of UTC, 9999-12-31 23:59 local is past datetime.max in UTC (an OverflowError).
    await harness.start(timezone="America/New_York")
    await says(harness, ADMIN, "/start")
    reply = await says(harness, user, command)
    assert expect in reply, reply
    await settled(harness)
    assert not pages(harness)
    assert not refused(harness)


async def test_a_real_zone_is_still_taken(bot: Harness) -> None:
    assert "Done" in await says(bot, ALICE, "/timezone Europe/Berlin")


async def test_late_press_is_logged_not_paged(bot: Harness) -> None:
    await says(bot, ADMIN, "/start")
    bot.fake.send_text(ALICE, "/quiz 1")
    question = await next_question(bot, ALICE.id, 1)
    data = question.buttons()[0]["callback_data"]
    query_id = bot.fake.press(ALICE, question, data)
    # Telegram already gave up on this query: answering it is refused as too old.
    bot.fake.answered_queries.add(query_id)
    await bot.fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params["callback_query_id"]) == query_id
    )
    await settled(bot)
    assert not pages(bot)


async def test_a_database_error_pages_the_admins(bot: Harness) -> None:
    await says(bot, ADMIN, "/start")
    # Every query on answers now fails inside the database, as on a damaged file.
    await bot.data.store.database.write("ALTER TABLE answers RENAME TO answers_gone")
    bot.fake.send_text(ALICE, "/score")
    await bot.fake.wait_until(lambda: bool(pages(bot)))


async def test_double_tap_on_forget_never_reaches_the_error_handler(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await says(bot, ALICE, "/forget")
    message = bot.fake.last_message(ALICE.id)
    data = button(message, "f1:")["callback_data"]
    first = bot.fake.press(ALICE, message, data)
    second = bot.fake.press(ALICE, message, data)
    await answered(bot, first)
    await answered(bot, second)
    await settled(bot)
    assert "unhandled error" not in caplog.text


# ---------------------------------------------------------------- messages within 4096


async def test_seventy_long_names_answering_one_group_question(bot: Harness) -> None:
    fake = bot.fake
    group = fake.group()
    members = [FakeUser(5000 + i, f"{i:02d}" + "W" * 62) for i in range(70)]
    fake.send_text(members[0], "/quiz 1", chat=group)
    question = await next_question(bot, group.id, 1)
    data = question.buttons()[0]["callback_data"]
    queries = [fake.press(m, question, data) for m in members]
    for query_id in queries:
        await answered(bot, query_id)
    shown = fake.messages_in(group.id)[0]
    # Everyone is named (or counted): the last refresh came through.
    await fake.wait_until(
        lambda: "69WWW" in shown.text or ("more" in shown.text and not bot.data.group_edits)
    )
    fake.press(members[1], question, button(question, "n1:")["callback_data"])
    summary = await fake.wait_for("sendMessage", lambda c: "Quiz over" in c.params["text"])
    assert "Right:" in shown.text
    assert "70." in summary.params["text"] or "more" in summary.params["text"]
    assert not refused(bot)


def test_names_are_isolated_and_bounded() -> None:
    evil = "\u202eevil<b>" + "x" * 100
    shown = render.name(evil)
    assert shown.startswith(render.FSI)
    assert shown.endswith(render.PDI)
    assert "\u202e" not in shown
    assert "&lt;b&gt;" in shown
    assert len(shown) <= render.MAX_NAME + 10
    assert render.name("") == f"{render.FSI}someone{render.PDI}"


def test_capped_lines_fit_and_say_how_many_more() -> None:
    lines = [f"line {i} " + "&" * 50 for i in range(500)]
    kept = render.capped(lines, 4000)
    assert sum(len(x) + 1 for x in kept) <= 4000
    assert kept[-1].startswith("… and ")
    assert int(kept[-1].split()[2]) == 500 - (len(kept) - 1)
    assert render.capped(["a", "b"], 100) == ["a", "b"]


async def test_schedule_lists_and_caps_extra_posts(harness: Harness) -> None:
    await harness.start()
    store, now = harness.data.store, harness.data.clock()
    for i in range(130):
        await store.channel.add_extra(now + timedelta(days=1, minutes=i), None, ADMIN.id, now)
    reply = await says(harness, ADMIN, "/schedule")
    assert "… and " in reply
    full = await says(harness, ADMIN, "/schedule 2026-12-24 10:00")
    assert "already 50" in full
    assert not refused(harness)


# ---------------------------------------------------------------- unreadable updates, logs


async def test_an_unreadable_update_is_skipped_and_the_bot_goes_on(bot: Harness) -> None:
    bot.fake.push_raw({"message": {"message_id": 1, "text": "no chat, no date"}})
    before = len(bot.fake.calls_to("getUpdates"))
    assert "/help" in await says(bot, ALICE, "/start")
    # Past it at once: not the same batch asked for again and again.
    assert len(bot.fake.calls_to("getUpdates")) - before < 10


def test_repeated_log_lines_are_throttled() -> None:
    now = [0.0]
    throttle = ThrottleRepeats(window=60, clock=lambda: now[0])

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, msg, None, None)

    assert throttle.filter(record("boom"))
    assert not any(throttle.filter(record("boom")) for _ in range(1000))
    assert throttle.filter(record("other"))
    now[0] = 61
    again = record("boom")
    assert throttle.filter(again)
    assert "1000 more" in again.getMessage()


# ---------------------------------------------------------------- the signature


async def test_numeric_channel_without_username_signs_with_its_title(
    harness: Harness,
) -> None:
    harness.fake.channel.username = None
    await harness.start(channel_id=str(CHANNEL_ID))
    assert "Posted" in await says(harness, ADMIN, "/post_now conc-gil-what")
    post = harness.fake.channel_posts()[-1].text
    assert post.endswith("\nBy: Python Interview Questions ✨"), post[-80:]
    assert "&lt;channel&gt;" not in post


# ---------------------------------------------------------------- forum topics


async def test_a_quiz_asked_in_a_forum_topic_stays_in_that_topic(bot: Harness) -> None:
    fake = bot.fake
    forum = fake.group(-100888, "Forum", forum=True)
    forum.general_closed = True  # anything sent to General is refused
    fake.send_text(ALICE, "/quiz 2", chat=forum, thread_id=42)
    first = await next_question(bot, forum.id, 1)
    assert first.thread_id == 42
    fake.press(ALICE, first, first.buttons()[0]["callback_data"])
    fake.press(ALICE, first, button(first, "n1:")["callback_data"])
    second = await next_question(bot, forum.id, 2)
    assert second.thread_id == 42
    fake.press(ALICE, second, button(second, "n1:")["callback_data"])
    await fake.wait_for("sendMessage", lambda c: "Quiz over" in c.params["text"])
    fake.send_text(ALICE, "/leaderboard", chat=forum, thread_id=42)
    await fake.wait_for("sendMessage", lambda c: "in this group" in c.params["text"])
    fake.send_text(ALICE, "/quiz ²", chat=forum, thread_id=42)
    await fake.wait_for("sendMessage", lambda c: "Usage: /quiz" in c.params["text"])
    assert all(m.thread_id == 42 for m in fake.messages_in(forum.id))
    assert not refused(bot)


# ---------------------------------------------------------------- membership and migration


async def test_removed_from_the_channel_pages_once_and_pauses_tallies(bot: Harness) -> None:
    fake = bot.fake
    await says(bot, ADMIN, "/start")
    assert "Posted" in await says(bot, ADMIN, "/post_now conc-gil-what")
    post = fake.channel_posts()[-1]
    fake.channel_posting_allowed = False
    fake.bot_membership(fake.channel, "left", ADMIN)
    await fake.wait_until(lambda: any("no longer post" in t for t in texts_to(bot, ADMIN.id)))
    await answered(bot, fake.press(ALICE, post, post.buttons()[0]["callback_data"]))
    # The tally flush runs now, as it does every interval, and any run under way finishes.
    assert bot.app is not None and bot.app.job_queue is not None
    (tallies,) = bot.app.job_queue.get_jobs_by_name("tallies")
    await tallies.run(bot.app)
    await quiet(bot)
    edits = [c for c in fake.calls_to("editMessageText") if c.params["chat_id"] == CHANNEL_ID]
    assert not edits  # no edit tried while the bot cannot post
    await settled(bot, update_id=fake.bot_membership(fake.channel, "kicked", ADMIN))
    assert sum("no longer post" in t for t in texts_to(bot, ADMIN.id)) == 1  # told once
    fake.channel_posting_allowed = True
    fake.bot_membership(fake.channel, "administrator", ADMIN)
    await fake.wait_until(lambda: "1 answered" in post.text)
    assert any("works again" in t for t in texts_to(bot, ADMIN.id))
    assert not pages(bot)


async def test_kicked_from_a_group_ends_its_quiz_quietly(bot: Harness) -> None:
    fake = bot.fake
    group = fake.group()
    fake.send_text(ALICE, "/quiz 3", chat=group)
    await next_question(bot, group.id, 1)
    sent = len(fake.sent_to(group.id))
    await settled(bot, update_id=fake.bot_membership(group, "kicked", ALICE))
    store = bot.data.store
    assert await store.quizzes.active_session(group.id, None) is None
    assert len(fake.sent_to(group.id)) == sent
    assert not refused(bot)


async def test_a_group_upgraded_to_a_supergroup_keeps_its_quiz(bot: Harness) -> None:
    fake = bot.fake
    old = fake.group(-4242, "Small group")
    old.type = "group"
    fake.send_text(ALICE, "/quiz 2", chat=old)
    first = await next_question(bot, old.id, 1)
    new = fake.migrate_group(old, -1004242)
    fake.service_message(ALICE, old, migrate_to_chat_id=new.id)
    last = fake.service_message(ALICE, new, migrate_from_chat_id=old.id)
    await settled(bot, update_id=last)
    await answered(bot, fake.press(ALICE, first, first.buttons()[0]["callback_data"]))
    fake.press(ALICE, first, button(first, "n1:")["callback_data"])
    second = await next_question(bot, new.id, 2)
    assert second.chat.id == new.id
    fake.send_text(ALICE, "/leaderboard", chat=new)
    board = await fake.wait_for("sendMessage", lambda c: "in this group" in c.params["text"])
    assert board.params["chat_id"] == new.id
    assert not pages(bot)


async def test_a_send_to_an_upgraded_group_follows_it(bot: Harness) -> None:
    fake = bot.fake
    old = fake.group(-4343, "Small group")
    old.type = "group"
    new = fake.migrate_group(old, -1004343)
    # A command sent just before the upgrade: the bot's send meets ChatMigrated.
    fake.send_text(ALICE, "/quiz 1", chat=old)
    question = await next_question(bot, new.id, 1)
    assert question.chat.id == new.id
    assert not pages(bot)
