"""End to end: the channel post, schedule, exactly-once slots, reader answers, admin commands."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.db.settings import Key
from bot.services import channel
from tests.conftest import ADMIN, ALICE, Harness
from tests.fakes import Clock, FakeUser
from tests.helpers import answer_buttons, answered, quiet, settled

pytestmark = pytest.mark.e2e

POST_RE = re.compile(
    r"^<b>❔ Interview Question</b>\n\n<b>.+</b>\n\nAnswer: <tg-spoiler>.+</tg-spoiler>"
    r"(\n\n.+)*\n\ntags: (#\w+ ?)+\n━━━━━━━━━━━━━━━\nBy: @pyinterviewq ✨$",
    re.S,
)


def admin_replies(h: Harness) -> list[str]:
    return [c.params["text"] for c in h.fake.sent_to(ADMIN.id)]


async def admin_opens_bot(h: Harness) -> None:
    """The admin sends /start, so Telegram lets the bot message them (notices, replies)."""
    h.fake.send_text(ADMIN, "/start")
    await h.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ADMIN.id)


async def admin_says(h: Harness, text: str) -> str:
    before = len(admin_replies(h))
    h.fake.send_text(ADMIN, text)
    await h.fake.wait_until(lambda: len(admin_replies(h)) > before)
    return admin_replies(h)[-1]


async def test_post_now_by_admin_posts_in_contract_format(bot: Harness) -> None:
    reply = await admin_says(bot, "/post_now conc-gil-what")
    assert "Posted" in reply
    posts = bot.fake.channel_posts()
    assert len(posts) == 1
    assert POST_RE.match(posts[0].text), posts[0].text
    assert posts[0].parse_mode == "HTML"
    labels = [b["text"] for b in posts[0].buttons()]
    assert "🎯 Practise in the bot" in labels
    practise = [b for b in posts[0].buttons() if b.get("url", "").endswith("q_conc-gil-what")]
    assert practise and practise[0]["url"].startswith("https://t.me/InterviewTestBot?start=")


async def test_post_now_by_non_admin_posts_nothing(bot: Harness) -> None:
    bot.fake.send_text(ALICE, "/post_now")
    call = await bot.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
    assert "admins" in call.params["text"]
    await settled(bot)
    assert bot.fake.channel_posts() == []


async def test_daily_post_once_and_not_again_after_restart(harness: Harness) -> None:
    now = datetime.now(UTC)
    at = (now + timedelta(seconds=2)).time().replace(microsecond=0)
    if at < now.time().replace(microsecond=0):  # about to cross midnight: nothing to test
        pytest.skip("too close to midnight UTC")
    harness.clock = None  # the JobQueue fires on real time: the bot's day must be today
    await harness.start(post_time=at)
    await harness.fake.wait_until(lambda: len(harness.fake.channel_posts()) == 1, timeout=10)
    await harness.restart(post_time=at)
    await quiet(harness)  # the start-time catch-up decided (and done, had it posted)
    assert len(harness.fake.channel_posts()) == 1
    slot = await harness.data.store.channel.slot_post(f"daily:{now.date().isoformat()}")
    assert slot is not None and slot.status == "sent"


async def test_missed_post_arrives_once_when_started_later_that_day(harness: Harness) -> None:
    harness.clock = Clock(datetime(2026, 11, 20, 15, 0, tzinfo=UTC))  # after 09:00 that day
    await harness.start(post_time=time(9, 0))
    await harness.fake.wait_until(lambda: len(harness.fake.channel_posts()) == 1)
    await harness.restart()
    await quiet(harness)
    assert len(harness.fake.channel_posts()) == 1
    # The next day, before its posting time, nothing is caught up.
    harness.clock.advance(hours=12)  # 03:00 on the 21st
    await harness.restart()
    await quiet(harness)
    assert len(harness.fake.channel_posts()) == 1


async def test_missed_post_is_not_posted_days_later(harness: Harness) -> None:
    harness.clock = Clock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))  # before 09:00
    await harness.start(post_time=time(9, 0))
    await quiet(harness)
    assert harness.fake.channel_posts() == []


async def test_walks_the_whole_bank_without_repeats(bot: Harness) -> None:
    bank_size = len(bot.data.bank)
    posted: list[str] = []
    for _ in range(bank_size):
        result = await channel.post(bot.data, bot.data_bot(), slot=None)
        assert result.outcome is channel.Outcome.SENT and result.question_id
        posted.append(result.question_id)
    assert sorted(posted) == sorted(bot.data.bank.questions)
    # The next post opens a new cycle.
    result = await channel.post(bot.data, bot.data_bot(), slot=None)
    assert result.outcome is channel.Outcome.SENT
    assert await bot.data.store.settings.get_kv(Key.CYCLE) == "2"
    assert not bot.fake.rejected or all(c.method == "setMyCommands" for c in bot.fake.rejected)


async def test_channel_press_twice_records_once(bot: Harness) -> None:
    await admin_says(bot, "/post_now conc-gil-what")
    post = bot.fake.channel_posts()[0]
    reader = FakeUser(5001, "Reader")
    buttons = answer_buttons(post)
    first = bot.fake.press(reader, post, buttons[0]["callback_data"])
    alert1 = await answered(bot, first)
    second = bot.fake.press(reader, post, buttons[1]["callback_data"])
    alert2 = await answered(bot, second)
    assert alert1["show_alert"] is True and len(alert1["text"]) <= 200
    assert "already answered" in alert2["text"]
    asking_id = int(buttons[0]["callback_data"].split(":")[1])
    assert await bot.data.store.stats.tally(asking_id) == (
        1,
        int(bot.data.bank.questions["conc-gil-what"].correct == 0),
    )
    # Channel answers earn no leaderboard points.
    assert (await bot.data.store.stats.score(reader.id, "channel"))[0] == 0
    assert (await bot.data.store.stats.score(reader.id, "quiz"))[1] == 0


async def test_hundred_readers_few_edits_right_tally(harness: Harness) -> None:
    await harness.start(tally_interval=4.0)
    await admin_says(harness, "/post_now conc-gil-what")
    post = harness.fake.channel_posts()[0]
    buttons = answer_buttons(post)
    q = harness.data.bank.questions["conc-gil-what"]
    right = 0
    queries = []
    for i in range(100):
        pos = i % len(buttons)
        right += pos == q.correct
        queries.append(
            harness.fake.press(FakeUser(6000 + i, f"R{i}"), post, buttons[pos]["callback_data"])
        )
    for query in queries:
        await answered(harness, query)
    pct = round(100 * right / 100)
    await harness.fake.wait_until(lambda: f"100 answered · {pct}% right" in post.text, timeout=15)
    assert post.edits <= 3


async def test_429_delays_post_but_it_arrives_once(bot: Harness) -> None:
    await admin_opens_bot(bot)
    bot.fake.fail("sendMessage", 429, retry_after=1)
    reply = await admin_says(bot, "/post_now")
    assert "Posted" in reply
    assert len(bot.fake.channel_posts()) == 1
    tries = [c for c in bot.fake.calls_to("sendMessage") if c.params["chat_id"] == "@pyinterviewq"]
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 1.0


async def test_502_is_not_repeated(bot: Harness) -> None:
    # A 5xx may come after delivery (contract §6): counted as posted, the admins told
    # (tests/test_faults_after_effect.py has the rest).
    bot.fake.fail("sendMessage", 502, times=2, after_effect=True)
    bot.fake.send_text(ADMIN, "/post_now")
    await bot.fake.wait_until(lambda: len(bot.fake.channel_posts()) == 1, timeout=15)
    await settled(bot)  # the /post_now and its retries, if any, are done
    assert len(bot.fake.channel_posts()) == 1


async def test_timeout_after_send_is_not_reposted(harness: Harness) -> None:
    await harness.start()
    await admin_opens_bot(harness)
    # The post goes out, but the answer never arrives (connection dropped after the effect).
    harness.fake.fail("sendMessage", 0, after_effect=True)
    reply = await admin_says(harness, "/post_now conc-gil-what")
    assert "may or may not" in reply or "timed out" in reply
    await harness.restart()
    await quiet(harness)
    assert len(harness.fake.channel_posts()) == 1
    unknown = await harness.data.store.channel.posts_with_status("unknown")
    assert [p.question_id for p in unknown] == ["conc-gil-what"]


async def test_schedule_survives_restart_and_reset(harness: Harness) -> None:
    await harness.start(post_time=time(9, 0))
    reply = await admin_says(harness, "/schedule 21:30")
    assert "21:30" in reply
    await harness.restart()
    reply = await admin_says(harness, "/schedule")
    assert "<b>21:30</b>" in reply
    jobs = harness.app.job_queue.get_jobs_by_name("daily")  # type: ignore[union-attr]
    assert len(jobs) == 1
    reply = await admin_says(harness, "/schedule reset")
    assert "<b>09:00</b>" in reply and "POST_TIME" in reply


async def test_extra_post_schedule_and_unschedule(bot: Harness) -> None:
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d 10:00")
    reply = await admin_says(bot, f"/schedule {when} conc-deadlock")
    assert "1. " in reply and "conc-deadlock" in reply
    reply = await admin_says(bot, "/unschedule 1")
    assert "No extra posts" in reply
    reply = await admin_says(bot, "/schedule 2020-01-01 10:00")
    assert "passed" in reply
    reply = await admin_says(bot, "/schedule tomorrow")
    assert "Usage" in reply


async def test_channel_refusing_is_reported_once_and_recovers(bot: Harness) -> None:
    await admin_opens_bot(bot)
    bot.fake.channel_posting_allowed = False
    bot.fake.send_text(ADMIN, "/post_now")
    await bot.fake.wait_until(lambda: any("failed" in t for t in admin_replies(bot)))
    notices = [t for t in admin_replies(bot) if "could not post" in t]
    assert len(notices) == 1 and "admin of the channel" in notices[0]
    bot.fake.send_text(ADMIN, "/post_now")
    await bot.fake.wait_until(lambda: sum("failed" in t for t in admin_replies(bot)) == 2)
    assert len([t for t in admin_replies(bot) if "could not post" in t]) == 1  # not repeated
    bot.fake.channel_posting_allowed = True
    reply = await admin_says(bot, "/post_now")
    assert "Posted" in reply or any("works again" in t for t in admin_replies(bot))
    assert len(bot.fake.channel_posts()) == 1


async def test_admin_queue_skip_pause_resume_preview_stats_reload(bot: Harness) -> None:
    reply = await admin_says(bot, "/queue 3")
    assert "Cycle 1" in reply and "1. <code>" in reply
    first = re.search(r"1\. <code>([a-z0-9-]+)</code>", reply)
    assert first
    reply = await admin_says(bot, "/skip")
    assert first.group(1) in reply
    reply = await admin_says(bot, "/queue 1")
    assert first.group(1) not in reply
    assert "paused" in await admin_says(bot, "/pause")
    assert "resumed" in await admin_says(bot, "/resume")
    reply = await admin_says(bot, "/preview conc-gil-what")
    assert POST_RE.match(reply)
    preview = bot.fake.last_message(ADMIN.id)
    assert answer_buttons(preview)
    reply = await admin_says(bot, "/stats")
    assert "Latest posts" in reply
    reply = await admin_says(bot, "/reload")
    assert "Reloaded" in reply
    reply = await admin_says(bot, "/preview no-such-id")
    assert "no question" in reply


async def test_repost_edits_the_posted_question_in_place(bot: Harness) -> None:
    import dataclasses

    from bot.core.models import QuestionBank

    await admin_says(bot, "/post_now conc-deadlock")
    post = bot.fake.channel_posts()[0]
    old = bot.data.bank.questions["conc-deadlock"]
    fixed = dataclasses.replace(old, question="What is a deadlock (fixed wording)?")
    bot.data.bank = QuestionBank({**bot.data.bank.questions, "conc-deadlock": fixed})
    reply = await admin_says(bot, "/repost conc-deadlock")
    assert "Reposted" in reply
    assert "fixed wording" in post.text and post.edits == 1
    assert POST_RE.match(post.text)
    assert "already shows" in await admin_says(bot, "/repost conc-deadlock")
    assert "not been posted" in await admin_says(bot, "/repost conc-race-condition")


async def test_reload_keeps_the_old_bank_when_the_new_one_is_invalid(
    harness: Harness, tmp_path: object
) -> None:
    import shutil
    from pathlib import Path

    from tests.conftest import CONTENT

    bank_dir = Path(str(tmp_path)) / "bank"
    shutil.copytree(CONTENT, bank_dir)
    await harness.start(content_dir=bank_dir)
    (bank_dir / "broken.yaml").write_text("topic: X\nquestions:\n  - id: Bad\n    answer: a\n")
    reply = await admin_says(harness, "/reload")
    assert "kept the old one" in reply and "broken.yaml:3" in reply
    assert len(harness.data.bank) == len(harness.bank)
    (bank_dir / "broken.yaml").write_text(
        "topic: New\nquestions:\n  - id: new-one\n    question: New?\n    answer: Yes.\n"
    )
    reply = await admin_says(harness, "/reload")
    assert f"Reloaded: {len(harness.bank) + 1} questions" in reply and "+1" in reply
    assert "new-one" in harness.data.bank
