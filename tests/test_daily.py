"""/daily (contract §7): subscribe, one question a day shared with the channel, scored once,
delivered once across restarts and kills, blocked users dropped, paced by the flood limiter."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import daily as rules_daily
from bot.core import schedule
from bot.db import Store
from bot.services import channel, jobs
from tests.conftest import ALICE, BOB, ROOT, Harness
from tests.fakes import Clock, FakeBotApi, FakeUser, StoredMessage
from tests.helpers import answer_buttons, answered, press_answer, start_bot
from tests.test_e2e_quiz import score_line

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 20)
MORNING = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # before the 09:00 post and deliveries


# ---------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("args", "off", "at"),
    [
        ([], False, None),
        (["off"], True, None),
        (["OFF"], True, None),
        (["7:05"], False, time(7, 5)),
    ],
)
def test_parse_args(args: list[str], off: bool, at: time | None) -> None:
    parsed = rules_daily.parse_args(args)
    assert (parsed.off, parsed.at) == (off, at)


@pytest.mark.parametrize("args", [["25:00"], ["soon"], ["08:00", "x"], ["<b>"], ["9" * 50]])
def test_parse_args_rejects(args: list[str]) -> None:
    with pytest.raises(ValueError, match=r"use /daily|not"):
        rules_daily.parse_args(args)


def test_due_on_maps_a_subscriber_time_to_the_channel_day() -> None:
    utc, tokyo, la = ZoneInfo("UTC"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles")
    # 07:00 in Tokyo is 22:00 UTC of the day before: that channel day's moment is the next
    # Tokyo date's 07:00.
    moment = rules_daily.due_on(DAY, utc, tokyo, time(7, 0))
    assert moment is not None
    assert moment.astimezone(utc) == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    moment = rules_daily.due_on(DAY, utc, la, time(20, 0))  # 04:00 UTC
    assert moment is not None
    assert moment.astimezone(utc) == datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    assert rules_daily.due_on(DAY, utc, utc, time(9, 0)) == datetime(2026, 11, 20, 9, tzinfo=UTC)


# ---------------------------------------------------------------- helpers


async def tick(h: Harness) -> None:
    """Run the delivery job now (the JobQueue runs on real time; the bot's clock is ours)."""
    assert h.app is not None and h.app.job_queue is not None
    (job,) = h.app.job_queue.get_jobs_by_name(jobs.DELIVERIES)
    state = job.data
    await h.fake.wait_until(lambda: not state.busy)  # type: ignore[attr-defined]
    await job.run(h.app)


def dailies(h: Harness, chat_id: int) -> list[StoredMessage]:
    """The daily questions sent to a chat, as they show now (unanswered ones)."""
    return [m for m in h.fake.messages_in(chat_id) if "Daily question" in m.text]


def sent_dailies(h: Harness, chat_id: int) -> int:
    """How many daily questions were sent to a chat (answered or not)."""
    return sum(
        1
        for c in h.fake.calls_to("sendMessage")
        if c.params["chat_id"] == chat_id
        and c.status == 200
        and "Daily question" in c.params["text"]
    )


async def says(h: Harness, user: FakeUser, text: str) -> str:
    before = len(h.fake.sent_to(user.id))
    h.fake.send_text(user, text)
    await h.fake.wait_until(lambda: len(h.fake.sent_to(user.id)) > before)
    return str(h.fake.sent_to(user.id)[-1].params["text"])


async def asked_question(h: Harness, message: StoredMessage) -> str:
    data = answer_buttons(message)[0]["callback_data"]
    asking = await h.data.store.quizzes.get_asking(int(data.split(":")[1]))
    assert asking is not None
    return asking.question_id


@pytest.fixture
def morning(harness: Harness) -> Harness:
    harness.clock = Clock(MORNING)
    return harness


# ---------------------------------------------------------------- end to end


async def test_subscriber_gets_the_channel_question_once_and_it_scores_once(
    morning: Harness,
) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    reply = await says(h, ALICE, "/daily")
    assert "Subscribed" in reply and "today at 09:00" in reply
    assert "You get the daily question" in await says(h, ALICE, "/daily")  # shows, changes nothing
    await tick(h)
    await asyncio.sleep(0.3)
    assert dailies(h, ALICE.id) == []  # not before its time
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=1, seconds=5)
    # The channel's daily slot and the subscriber get the same question.
    result = await channel.post(h.data, h.data_bot(), slot=schedule.daily_slot(DAY))
    assert result.outcome is channel.Outcome.SENT
    await tick(h)
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)
    message = dailies(h, ALICE.id)[0]
    assert await asked_question(h, message) == result.question_id
    # /quiz meanwhile neither stops the daily question nor is stopped by it.
    await says(h, ALICE, "/quiz 2")
    query = await press_answer(h, ALICE, message, right=True)
    assert "Right" in (await answered(h, query)).get("text", "")
    again = await press_answer(h, ALICE, message, right=True)
    await answered(h, again)
    await h.fake.wait_for("sendMessage", lambda c: "1/1 right" in c.params["text"])
    points, n, right, _ = await score_line(h, ALICE.id, ALICE)
    assert (n, right) == (1, 1) and points >= 1
    # Once a day, across ticks and a restart.
    await tick(h)
    await h.restart(post_time=time(9, 0))
    await tick(h)
    await asyncio.sleep(0.3)
    assert sent_dailies(h, ALICE.id) == 1
    # The next day brings a new question, the next one of the queue.
    h.clock.advance(days=1)
    await tick(h)
    await h.fake.wait_until(lambda: sent_dailies(h, ALICE.id) == 2)
    second = dailies(h, ALICE.id)[-1]
    assert await asked_question(h, second) != result.question_id


async def test_missed_delivery_arrives_when_the_bot_comes_back_that_day(
    morning: Harness,
) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    await says(h, ALICE, "/daily 10:30")
    await h.stop()
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=7)  # 15:00: down at 10:30
    await h.start(post_time=time(9, 0))  # the first tick runs at start
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)
    # The channel's catch-up post that day is the same question.
    await h.fake.wait_until(lambda: len(h.fake.channel_posts()) == 1)
    posted = await h.data.store.channel.slot_post(schedule.daily_slot(DAY))
    assert posted is not None
    assert await asked_question(h, dailies(h, ALICE.id)[0]) == posted.question_id
    await h.restart(post_time=time(9, 0))
    await tick(h)
    await asyncio.sleep(0.3)
    assert len(dailies(h, ALICE.id)) == 1


async def test_yesterdays_missed_delivery_is_not_sent_today(morning: Harness) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    await says(h, ALICE, "/daily 07:00")  # already past today: first one tomorrow
    await tick(h)
    await asyncio.sleep(0.3)
    assert dailies(h, ALICE.id) == []
    await h.stop()
    assert isinstance(h.clock, Clock)
    h.clock.advance(days=1)  # 08:00 next day: 07:00 is due, once
    await h.start(post_time=time(9, 0))
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)


async def test_daily_off_stops_it_and_group_is_refused(morning: Harness) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    group = h.fake.group()
    h.fake.send_text(ALICE, "/daily", chat=group)
    call = await h.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == group.id)
    assert "private chat" in call.params["text"]
    await says(h, ALICE, "/daily")
    assert "no more" in await says(h, ALICE, "/daily off")
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=2)
    await tick(h)
    await asyncio.sleep(0.3)
    assert dailies(h, ALICE.id) == []
    assert await h.data.store.daily.subscription(ALICE.id) is None


async def test_blocked_subscriber_is_dropped_and_others_still_served(morning: Harness) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    await says(h, ALICE, "/daily")
    await says(h, BOB, "/daily")
    h.fake.blocked_users.add(BOB.id)
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=2)
    await tick(h)
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)
    assert await h.data.store.daily.subscription(BOB.id) is None
    assert await h.data.store.daily.subscription(ALICE.id) is not None
    assert await h.data.store.daily.count_status(DAY.isoformat(), "blocked") == 1
    await tick(h)  # no retries for a blocked user
    await asyncio.sleep(0.3)
    bob_sends = [c for c in h.fake.calls_to("sendMessage") if c.params["chat_id"] == BOB.id]
    assert [c.status for c in bob_sends[-1:]] == [403]
    assert sum(c.status == 403 for c in bob_sends) == 1


async def test_already_answered_on_the_channel_comes_marked_and_unscored(
    morning: Harness,
) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    await says(h, ALICE, "/daily 12:00")
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=1, minutes=1)
    result = await channel.post(h.data, h.data_bot(), slot=schedule.daily_slot(DAY))
    assert result.outcome is channel.Outcome.SENT
    post = h.fake.channel_posts()[0]
    query = h.fake.press(ALICE, post, answer_buttons(post)[0]["callback_data"])
    await answered(h, query)
    h.clock.advance(hours=3)
    await tick(h)
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)
    message = dailies(h, ALICE.id)[0]
    assert "already answered" in message.text
    assert answer_buttons(message) == []
    assert "<tg-spoiler>" in message.text


async def test_without_a_channel_the_day_still_has_one_question(morning: Harness) -> None:
    h = morning
    await h.start(post_time=time(9, 0), channel_id=None)
    await says(h, ALICE, "/daily")
    await says(h, BOB, "/daily 09:30")
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=2)
    await tick(h)
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == len(dailies(h, BOB.id)) == 1)
    a = await asked_question(h, dailies(h, ALICE.id)[0])
    b = await asked_question(h, dailies(h, BOB.id)[0])
    assert a == b
    # /forget removes the subscription with everything else.
    assert await h.data.store.users.forget_user(ALICE.id) > 0
    assert await h.data.store.daily.subscription(ALICE.id) is None
    assert await h.data.store.daily.count() == 1


async def subscribe_many(store: Store, fake: FakeBotApi, n: int, since: datetime) -> list[int]:
    ids = [300_000 + i for i in range(n)]
    for uid in ids:
        fake.private_chat(FakeUser(uid, f"S{uid}"))
        fake.known_users.add(uid)
        await store.daily.subscribe(uid, None, since)
    return ids


def deliveries_to(fake: FakeBotApi, ids: list[int]) -> dict[int, int]:
    wanted = set(ids)
    counts: dict[int, int] = {}
    for call in fake.calls_to("sendMessage"):
        uid = call.params.get("chat_id")
        if uid in wanted and call.status == 200 and "Daily question" in call.params["text"]:
            counts[uid] = counts.get(uid, 0) + 1
    return counts


async def test_restart_mid_deliveries_repeats_none_and_loses_none(morning: Harness) -> None:
    h = morning
    await h.start(post_time=time(9, 0), rate_limit=True)  # ~28 a second: a run takes a while
    ids = await subscribe_many(h.data.store, h.fake, 80, MORNING)
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=1)
    await tick(h)
    await h.fake.wait_until(lambda: len(deliveries_to(h.fake, ids)) >= 20)
    await h.restart()
    await h.fake.wait_until(lambda: len(deliveries_to(h.fake, ids)) == len(ids), timeout=20)
    await asyncio.sleep(0.5)
    counts = deliveries_to(h.fake, ids)
    assert sorted(counts) == ids
    assert set(counts.values()) == {1}


async def test_kill_mid_deliveries_loses_none(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    if now.time() < time(0, 1) or now.time() > time(23, 58):
        pytest.skip("too close to midnight UTC: the day would change mid-test")
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT), "RATE_LIMIT": "on"}
    env["POST_TIME"] = "00:00"
    store = await Store.open(Path(env["DATABASE_PATH"]))
    ids = await subscribe_many(store, fake_api, 150, now - timedelta(days=1))
    await store.close()
    proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
    try:
        await fake_api.wait_until(lambda: len(deliveries_to(fake_api, ids)) >= 30, timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        before = deliveries_to(fake_api, ids)
        assert len(before) < len(ids)  # killed mid-way
        proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
        await fake_api.wait_until(lambda: len(deliveries_to(fake_api, ids)) == len(ids), 60)
        await asyncio.sleep(1.0)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    counts = deliveries_to(fake_api, ids)
    assert sorted(counts) == ids  # none lost
    twice = [uid for uid, n in counts.items() if n > 1]
    assert len(twice) <= 8  # only what was in flight at the kill (IN_FLIGHT)
    store = await Store.open(Path(env["DATABASE_PATH"]))  # on either backend
    try:
        statuses = {
            r[0]: r[1]
            for r in await store.database.all(
                "SELECT status, COUNT(*) FROM daily_deliveries GROUP BY status"
            )
        }
    finally:
        await store.close()
    assert statuses == {"sent": len(ids)}


async def test_background_sends_yield_to_everything_else() -> None:
    """A quiz reply queued behind a delivery run waits for at most one delivery."""
    from aiolimiter import AsyncLimiter

    from bot.runtime.ratelimit import PriorityGate, background

    gate = PriorityGate(AsyncLimiter(1, 0.02))
    order: list[str] = []

    async def take(name: str) -> None:
        async with gate:
            order.append(name)

    with background():
        deliveries = [asyncio.create_task(take(f"d{i}")) for i in range(30)]
    await asyncio.sleep(0.1)  # the run is under way
    taken = len(order)
    await take("reply")
    await asyncio.gather(*deliveries)
    assert order.index("reply") <= taken + 1
    assert len(order) == 31
