"""End to end: /progress (and its button under /score), the picture under /stats, and the
weekly recap post, exactly once per week across restarts, crashes and kill -9.

Over ~300 lines on purpose: the three pictures share one sample history and its helpers.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import WeeklyAt
from bot.db import AnswerRecord, Store
from bot.services import channel, weekly
from bot.ui import callback_data as cd
from bot.ui import captions
from tests.conftest import ADMIN, ALICE, BOB, ROOT, Harness
from tests.fakes import CHANNEL_ID, WAIT_BOUND, Clock, FakeBotApi, FakeUser, StoredMessage
from tests.helpers import answered, query, start_bot
from tests.telegram_html import parse, utf16_len
from tests.test_door import MALLORY, refused
from tests.test_pictures import check_png

pytestmark = pytest.mark.e2e

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # the harness's clock: Friday 08:00 UTC
HONOLULU_TODAY = date(2026, 11, 19)  # 22:00 on Thursday in Honolulu (UTC-10)


async def opens_bot(h: Harness, user: FakeUser) -> None:
    h.fake.send_text(user, "/start")
    await h.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == user.id)


async def seed_answers(h: Harness, user: FakeUser, days: list[date], seed: int = 7) -> None:
    """Quiz answers of ``user`` on each of ``days`` (their local days), a few per day."""
    store = h.data.store
    rnd = random.Random(seed)
    questions = [q for q in h.bank.questions.values() if q.quizzable]
    for day in days:
        for _ in range(rnd.randint(1, 5)):
            q = rnd.choice(questions)
            asking = await store.quizzes.create_asking(
                kind="quiz",
                question_id=q.id,
                order=range(len(q.choices)),
                choices_sig=q.choices_sig,
                now=START,
            )
            ok = rnd.random() < 0.6
            await store.answers.record_answer(
                AnswerRecord(
                    asking_id=asking,
                    user_id=user.id,
                    first_name=user.first_name,
                    chat_id=user.id,
                    question_id=q.id,
                    source="quiz",
                    choice=0,  # what was chosen does not enter the pictures
                    correct=ok,
                    points=2 if ok else 0,
                    now=START,
                    local_day=day.isoformat(),
                )
            )


async def until(read: Callable[[], Awaitable[object]], value: object) -> None:
    """Wait for a state the bot reaches after its last request (a row it writes)."""
    async with asyncio.timeout(WAIT_BOUND):
        while await read() != value:
            await asyncio.sleep(0.02)


def _async(read: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def check() -> object:
        return read()

    return check


async def rows(h: Harness, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """What the running bot's database holds, on either backend."""
    return [tuple(r) for r in await h.data.store.database.all(sql, params)]


# A picture is drawn in a worker process at nice 19 (bot/state/drawing.py) that first imports
# matplotlib: on a saturated machine (the suite's other workers, other jobs) it gets the CPU
# last, by design, so its wait is bounded generously; it returns as soon as the photo is sent.
PICTURE_BOUND = 120.0


async def photo_to(h: Harness, chat_id: int, count: int = 1) -> StoredMessage:
    await h.fake.wait_until(lambda: len(h.fake.photos_to(chat_id)) >= count, PICTURE_BOUND)
    return h.fake.photos_to(chat_id)[count - 1]


async def test_progress_picture_caption_matches_the_database(bot: Harness) -> None:
    await opens_bot(bot, ALICE)
    bot.fake.send_text(ALICE, "/timezone Pacific/Honolulu")
    await bot.fake.wait_until(lambda: "Done" in bot.fake.last_message(ALICE.id).text)
    first = HONOLULU_TODAY - timedelta(days=29)
    days = [first - timedelta(days=1), first, *(first + timedelta(days=i) for i in (3, 4, 9, 20))]
    days.append(HONOLULU_TODAY)
    await seed_answers(bot, ALICE, days)

    bot.fake.send_text(ALICE, "/progress")
    photo = await photo_to(bot, ALICE.id)
    assert photo.photo is not None
    check_png(photo.photo)
    caption = parse(photo.text)
    assert utf16_len(caption) <= captions.MAX_CAPTION
    # The last 30 days in Honolulu: the oldest day is left out.
    ((n, right, active),) = await rows(
        bot,
        "SELECT COUNT(*), SUM(correct), COUNT(DISTINCT local_day) FROM answers "
        "WHERE user_id = ? AND local_day BETWEEN ? AND ?",
        (ALICE.id, first.isoformat(), HONOLULU_TODAY.isoformat()),
    )
    per_question = await rows(
        bot,
        "SELECT question_id, COUNT(*), SUM(correct) FROM answers WHERE user_id = ? "
        "GROUP BY question_id",
        (ALICE.id,),
    )
    assert f"{n} answers · {right} right · {round(100 * right / n)}% · on {active} days" in caption
    topics: dict[str, list[int]] = {}
    for qid, count, ok in per_question:
        acc = topics.setdefault(bot.bank.questions[qid].topic, [0, 0])
        acc[0] += count
        acc[1] += ok
    weakest = min(topics.items(), key=lambda kv: (kv[1][1] / kv[1][0], -kv[1][0], kv[0]))
    name, (count, ok) = weakest
    assert f"Weakest topic: {name} ({round(100 * ok / count)}% of {count})" in caption

    # The same data the same day: the same picture, not drawn again.
    bot.fake.send_text(ALICE, "/progress")
    again = await photo_to(bot, ALICE.id, count=2)
    assert again.photo == photo.photo
    assert bot.data.drawer.drawn == 1


async def test_empty_history_gets_a_sentence_and_one_answer_a_picture(bot: Harness) -> None:
    await opens_bot(bot, BOB)
    bot.fake.send_text(BOB, "/progress")
    call = await bot.fake.wait_for(
        "sendMessage", lambda c: c.params["chat_id"] == BOB.id and "Nothing" in c.params["text"]
    )
    assert "/quiz" in call.params["text"]
    assert bot.fake.photos_to(BOB.id) == []
    await seed_answers(bot, BOB, [START.date()], seed=1)
    bot.fake.send_text(BOB, "/progress")
    photo = await photo_to(bot, BOB.id)
    assert photo.photo is not None
    check_png(photo.photo)
    ((n,),) = await rows(bot, "SELECT COUNT(*) FROM answers WHERE user_id = ?", (BOB.id,))
    assert f"{n} answer" in parse(photo.text) and "on 1 day" in parse(photo.text)


async def test_progress_in_a_group_points_to_the_private_chat(bot: Harness) -> None:
    group = bot.fake.group(-100555)
    bot.fake.send_text(ALICE, "/progress", group)
    call = await bot.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == group.id)
    assert "private chat" in call.params["text"]
    assert bot.fake.calls_to("sendPhoto") == []


async def test_score_offers_the_picture_to_its_owner_only(bot: Harness) -> None:
    await opens_bot(bot, ALICE)
    await opens_bot(bot, MALLORY)
    await seed_answers(bot, ALICE, [START.date() - timedelta(days=2), START.date()])
    bot.fake.send_text(ALICE, "/score")
    await bot.fake.wait_until(
        lambda: any(
            b.get("callback_data") == cd.progress()
            for b in bot.fake.last_message(ALICE.id).buttons()
        )
    )
    score = bot.fake.last_message(ALICE.id)
    # Mallory replays Alice's button: on Alice's message, and on her own chat's message.
    await refused(bot, MALLORY, score, cd.progress())
    bot.fake.send_text(MALLORY, "/help")
    await bot.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == MALLORY.id, count=2)
    await refused(bot, MALLORY, bot.fake.last_message(MALLORY.id), cd.progress())
    assert bot.fake.calls_to("sendPhoto") == []
    # Alice's own press: a short answer at once, then her picture.
    query = bot.fake.press(ALICE, score, cd.progress())
    assert "Drawing" in (await answered(bot, query)).get("text", "")
    photo = await photo_to(bot, ALICE.id)
    assert photo.photo is not None
    check_png(photo.photo)
    assert [c.params["chat_id"] for c in bot.fake.calls_to("sendPhoto")] == [ALICE.id]


async def test_admin_stats_sends_a_picture_of_the_last_posts(bot: Harness) -> None:
    await opens_bot(bot, ADMIN)
    await opens_bot(bot, ALICE)
    ids = [q.id for q in bot.bank.questions.values() if q.quizzable][:3]
    data, tg = bot.data, bot.data_bot()
    for qid in ids:
        assert (await channel.post(data, tg, slot=None, question_id=qid)).outcome.value == "sent"
    await channel_answers(bot, {ids[0]: (10, 8), ids[1]: (12, 3), ids[2]: (2, 0)})

    bot.fake.send_text(ALICE, "/stats")
    await bot.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id, count=2)
    bot.fake.send_text(ADMIN, "/stats")
    photo = await photo_to(bot, ADMIN.id)
    assert photo.photo is not None
    check_png(photo.photo)
    caption = parse(photo.text)
    assert "Last 3 posts: 24 answers, 46% right overall" in caption
    hardest = bot.bank.questions[ids[1]].question  # 25% of 12; 0% of 2 is too few answers
    assert f"Hardest: {' '.join(hardest.split())[:15]}" in caption
    assert "25% right of 12" in caption
    assert [c.params["chat_id"] for c in bot.fake.calls_to("sendPhoto")] == [ADMIN.id]


async def channel_answers(h: Harness, tallies: dict[str, tuple[int, int]]) -> None:
    """Readers' presses on the posted questions: ``{question_id: (answered, right)}``."""
    store = h.data.store
    for qid, (n, right) in tallies.items():
        post = await store.channel.latest_post_of(qid)
        assert post is not None and post.asking_id is not None
        for i in range(n):  # the same readers come back to each post
            ok = i < right
            await store.answers.record_channel_answer(
                AnswerRecord(
                    asking_id=post.asking_id,
                    user_id=50_000 + i,
                    first_name="R",
                    chat_id=CHANNEL_ID,
                    question_id=qid,
                    source="channel",
                    choice=0,  # what was chosen does not enter the pictures
                    correct=ok,
                    points=0,
                    now=h.data.clock(),
                    local_day=h.data.clock().date().isoformat(),
                )
            )


# ---------------------------------------------------------------- the weekly recap

MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
SUNDAY_18 = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
SUNDAY_SLOT = weekly.slot(SUNDAY_18.date())
WEEKLY = WeeklyAt(6, time(18, 0))  # sun 18:00 UTC
LATE_POST = time(23, 59, 59)  # no daily catch-up post gets in the way


async def posted_week(harness: Harness) -> tuple[Clock, list[str]]:
    """Three posts in the week before Sunday 18:00, one the Sunday before (outside it)."""
    clock = Clock(MONDAY - timedelta(days=1))
    harness.clock = clock
    await harness.start(weekly_post=WEEKLY, post_time=LATE_POST)
    await opens_bot(harness, ADMIN)
    ids = [q.id for q in harness.bank.questions.values() if q.quizzable][:4]
    data, tg = harness.data, harness.data_bot()
    for day, qid in zip((0, 1, 3, 6), ids, strict=True):  # Sun 15th, Mon, Wed, Sat
        clock.now_value = MONDAY - timedelta(days=1) + timedelta(days=day)
        assert (await channel.post(data, tg, slot=None, question_id=qid)).outcome.value == "sent"
    await channel_answers(harness, {ids[0]: (30, 30), ids[1]: (10, 7), ids[2]: (8, 2)})
    return clock, ids


def recaps(h: Harness) -> list[StoredMessage]:
    return h.fake.photos_to(CHANNEL_ID)


def catchup_jobs(h: Harness) -> list[object]:
    assert h.app is not None and h.app.job_queue is not None
    return list(h.app.job_queue.get_jobs_by_name("weekly-catchup"))


async def test_weekly_recap_once_with_links_and_numbers(harness: Harness) -> None:
    clock, ids = await posted_week(harness)
    clock.now_value = SUNDAY_18 + timedelta(hours=1)  # down at 18:00, back at 19:00
    await harness.restart()
    recap = await photo_to(harness, CHANNEL_ID)
    assert recap.photo is not None
    check_png(recap.photo)
    caption = parse(recap.text)
    assert utf16_len(caption) <= captions.MAX_CAPTION
    assert "Nov 15 – Nov 22" in caption
    assert "3 questions · 18 answers · 50% right" in caption  # the 15th's post is not in it
    ((readers,),) = await rows(
        harness,
        "SELECT COUNT(DISTINCT a.user_id) FROM answers a JOIN channel_posts p "
        "ON p.asking_id = a.asking_id WHERE p.question_id IN (?, ?, ?)",
        tuple(ids[1:]),
    )
    links = [
        f"https://t.me/pyinterviewq/{m}"
        for (m,) in await rows(
            harness,
            "SELECT message_id FROM channel_posts WHERE question_id IN (?, ?, ?) ORDER BY id",
            tuple(ids[1:]),
        )
    ]
    assert readers == 10  # the 15th's 30 readers are another week's
    assert f"{readers} readers answered" in caption
    for link in links:
        assert f'href="{link}"' in recap.text
    assert "Hardest" in caption and "(25% right)" in caption
    assert caption.endswith("By: @pyinterviewq ✨")
    await until(lambda: harness.data.store.weekly.status(SUNDAY_SLOT), "sent")

    # Restarted the same evening: no second recap, and nothing scheduled to make one.
    await harness.restart()
    assert catchup_jobs(harness) == []
    data, tg = harness.data, harness.data_bot()
    assert await weekly.post(data, tg, SUNDAY_SLOT, SUNDAY_18) == "already posted"
    assert len(recaps(harness)) == 1


async def test_weekly_recap_waits_while_posting_is_paused(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """/pause stops what the channel gets, the recap too; /resume lets that day's recap out."""
    clock, _ = await posted_week(harness)
    harness.fake.send_text(ADMIN, "/pause")
    await harness.fake.wait_for(
        "sendMessage", lambda c: c.params["chat_id"] == ADMIN.id and "paused" in c.params["text"]
    )
    clock.now_value = SUNDAY_18 + timedelta(hours=1)
    caplog.set_level("INFO", logger="bot")
    await harness.restart()
    await until(_async(lambda: "skipped: posting is paused" in caplog.text), True)
    assert recaps(harness) == []
    assert await harness.data.store.weekly.status(SUNDAY_SLOT) is None  # not claimed either
    harness.fake.send_text(ADMIN, "/resume")
    await harness.fake.wait_for(
        "sendMessage", lambda c: c.params["chat_id"] == ADMIN.id and "resumed" in c.params["text"]
    )
    await photo_to(harness, CHANNEL_ID)  # at once, not at the next start
    await until(lambda: harness.data.store.weekly.status(SUNDAY_SLOT), "sent")
    await harness.restart()
    assert catchup_jobs(harness) == []
    assert len(recaps(harness)) == 1


async def test_weekly_recap_skip_rules(harness: Harness) -> None:
    clock, _ = await posted_week(harness)
    # Before its time on the day: nothing yet.
    clock.now_value = SUNDAY_18 - timedelta(minutes=1)
    await harness.restart()
    assert catchup_jobs(harness) == []
    # The bot was down all Sunday: on Monday that week's recap is never posted.
    clock.now_value = SUNDAY_18 + timedelta(hours=16)
    await harness.restart()
    assert catchup_jobs(harness) == []
    assert weekly.due_moment(clock(), harness.data, WEEKLY) is None
    # A week without a post: no recap, and the slot is left unclaimed.
    next_sunday = SUNDAY_18 + timedelta(days=7)
    data, tg = harness.data, harness.data_bot()
    await data.store.database.write(
        "UPDATE channel_posts SET sent_at = '2026-11-01T10:00:00+00:00'"
    )
    assert await weekly.post(data, tg, weekly.slot(next_sunday.date()), next_sunday) == (
        "no post this week"
    )
    assert await data.store.weekly.status(weekly.slot(next_sunday.date())) is None
    assert recaps(harness) == []
    # No channel configured: nothing either.
    await harness.restart(channel_id=None)
    assert catchup_jobs(harness) == []


async def test_weekly_recap_interrupted_between_claim_and_send_is_not_repeated(
    harness: Harness,
) -> None:
    clock, _ = await posted_week(harness)
    clock.now_value = SUNDAY_18 + timedelta(minutes=5)
    # The crash: the slot row is committed, the send never happened (or did; nobody knows).
    assert await harness.data.store.weekly.claim(SUNDAY_SLOT, clock())
    await harness.restart()
    notice = await harness.fake.wait_for(
        "sendMessage",
        lambda c: c.params["chat_id"] == ADMIN.id and "weekly recap" in c.params["text"],
    )
    assert "may or may not" in notice.params["text"]
    assert catchup_jobs(harness) == []
    assert await harness.data.store.weekly.status(SUNDAY_SLOT) == "unknown"
    assert recaps(harness) == []


async def test_weekly_recap_refused_by_telegram_is_retried_not_lost(harness: Harness) -> None:
    clock, _ = await posted_week(harness)
    clock.now_value = SUNDAY_18 + timedelta(minutes=5)
    harness.fake.fail("sendPhoto", 400, times=2)  # refused (a 4xx): certainly not posted
    data, tg = harness.data, harness.data_bot()
    assert await weekly.post(data, tg, SUNDAY_SLOT, SUNDAY_18) == "failed"
    assert await data.store.weekly.status(SUNDAY_SLOT) is None  # released
    assert await weekly.post(data, tg, SUNDAY_SLOT, SUNDAY_18, retry=True) == "failed"
    assert await weekly.post(data, tg, SUNDAY_SLOT, SUNDAY_18, retry=True) == "sent"
    assert len(recaps(harness)) == 1
    notices = [
        c
        for c in harness.fake.sent_to(ADMIN.id)
        if "could not post the weekly" in c.params["text"]
    ]
    assert len(notices) == 1  # told once, not on every retry


async def test_preview_weekly_is_for_admins(harness: Harness) -> None:
    await posted_week(harness)
    harness.clock.now_value = SUNDAY_18 - timedelta(hours=2)  # type: ignore[union-attr]
    await opens_bot(harness, ALICE)
    harness.fake.send_text(ALICE, "/preview weekly")
    refusal = await harness.fake.wait_for(
        "sendMessage", lambda c: c.params["chat_id"] == ALICE.id, count=2
    )
    assert "admins" in refusal.params["text"]
    harness.fake.send_text(ADMIN, "/preview weekly")
    preview = await photo_to(harness, ADMIN.id)
    assert preview.photo is not None
    check_png(preview.photo)
    assert "3 questions" in parse(preview.text)
    assert recaps(harness) == []  # a preview posts nothing in the channel
    assert [c.params["chat_id"] for c in harness.fake.calls_to("sendPhoto")] == [ADMIN.id]


async def test_weekly_recap_not_twice_after_kill_9_mid_send(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    if now.time() < time(0, 2) or now.time() > time(23, 58):
        pytest.skip("too close to midnight UTC: the day would change mid-test")
    at = (now - timedelta(minutes=1)).strftime("%H:%M")
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT), "POST_TIME": "23:59:59"}
    env["WEEKLY_POST"] = f"{('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')[now.weekday()]} {at}"
    db_path = Path(env["DATABASE_PATH"])
    store = await Store.open(db_path)
    post_id = await store.channel.claim_slot(
        slot=None, question_id="conc-gil-what", cycle=1, now=now - timedelta(days=2)
    )
    assert post_id is not None
    await store.channel.post_sent(
        post_id, asking_id=None, chat_id=CHANNEL_ID, message_id=1, now=now - timedelta(days=2)
    )
    await store.close()
    fake_api.known_users.add(ADMIN.id)
    gate = fake_api.hold("sendPhoto")
    proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
    try:
        async with asyncio.timeout(60):  # until the recap's request reached Telegram
            while "sendPhoto" not in fake_api.held:
                await asyncio.sleep(0.05)
        assert await _status(db_path, "sending")  # claimed before the send
        workers = _children(proc.pid)
        assert workers, "the recap was drawn in a worker process"
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        gate.set()  # whatever became of that request, it must not be made again
        proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
        await fake_api.wait_for(
            "sendMessage",
            lambda c: c.params["chat_id"] == ADMIN.id and "weekly recap" in c.params["text"],
            timeout=60,
        )
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    assert fake_api.held.count("sendPhoto") == 1  # the restarted bot never sent it again
    async with asyncio.timeout(15):  # the killed bot's drawing worker did not outlive it
        while any(_alive(pid) for pid in workers):
            await asyncio.sleep(0.1)
    assert len(fake_api.photos_to(CHANNEL_ID)) <= 1
    assert await _status(db_path, "unknown")


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _status(path: Path, status: str) -> bool:
    """A weekly post row with ``status`` (a constant of this test), on either backend."""
    assert status.isalpha()
    found = await query(path, f"SELECT COUNT(*) FROM weekly_posts WHERE status = '{status}'")  # noqa: S608
    return bool(found[0][0])
