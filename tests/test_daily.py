"""/daily (contract §7): subscribe, one question a day shared with the channel, scored once,
delivered once across restarts and kills, blocked users dropped, paced by the flood limiter."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import daily_moments, schedule
from bot.db import Store
from bot.services import channel, channel_queue, daily_delivery, jobs
from bot.services.presses import NOT_VALID
from tests.conftest import ALICE, BOB, ROOT, Harness
from tests.fakes import WAIT_BOUND, Clock, FakeBotApi, FakeUser, StoredMessage
from tests.helpers import (
    answer_buttons,
    answered,
    press_answer,
    query,
    quiet,
    right_position,
    settled,
    start_bot,
)
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
    parsed = daily_moments.parse_args(args)
    assert (parsed.off, parsed.at) == (off, at)


@pytest.mark.parametrize("args", [["25:00"], ["soon"], ["08:00", "x"], ["<b>"], ["9" * 50]])
def test_parse_args_rejects(args: list[str]) -> None:
    with pytest.raises(ValueError, match=r"use /daily|not"):
        daily_moments.parse_args(args)


def test_a_subscriber_gets_their_own_dates_question_at_their_time() -> None:
    tokyo, la = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles")
    # 07:00 in Tokyo on the 21st is 22:00 UTC on the 20th: it is the 21st's delivery.
    at_tokyo = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    assert daily_moments.due_now(at_tokyo, tokyo, time(7, 0), MORNING) == (
        date(2026, 11, 21),
        at_tokyo,
    )
    assert (
        daily_moments.due_now(at_tokyo - timedelta(seconds=1), tokyo, time(7, 0), MORNING) is None
    )
    # 20:00 in LA on the 20th is 04:00 UTC on the 21st: the 20th's delivery.
    at_la = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)
    assert daily_moments.due_now(at_la, la, time(20, 0), MORNING) == (DAY, at_la)
    # Not a moment before the subscription: the first one is the next.
    assert daily_moments.due_now(at_la, la, time(20, 0), at_la + timedelta(seconds=1)) is None


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("day", "at", "local"),
    [
        # Spring forward (02:00 -> 03:00): a time the clocks skip comes an hour later.
        (date(2026, 3, 29), time(2, 30), time(3, 30)),
        (date(2026, 3, 29), time(2, 0), time(3, 0)),
        (date(2026, 3, 29), time(3, 0), time(3, 0)),
        # Fall back (03:00 -> 02:00): a time the clocks go through twice comes the first time.
        (date(2026, 10, 25), time(2, 30), time(2, 30)),
    ],
)
def test_moment_on_a_dst_night(day: date, at: time, local: time) -> None:
    moment = daily_moments.moment_on(day, BERLIN, at)
    assert (moment.date(), moment.time()) == (day, local)
    assert moment.utcoffset() == timedelta(hours=2)  # summer time: after the jump, before the fall
    assert moment.astimezone(UTC).astimezone(BERLIN) == moment  # a time that exists


ZONES = ("Europe/Berlin", "America/New_York", "UTC", "Australia/Sydney", "Asia/Kolkata")
# Around every change of 2026 in those zones: New York (Mar 8, Nov 1), Europe (Mar 29,
# Oct 25), Sydney (Apr 5, Oct 4); America/Santiago changes at midnight (Apr 5, Sep 6).
WINDOWS = (
    (date(2026, 3, 3), 11),
    (date(2026, 3, 24), 16),
    (date(2026, 9, 1), 10),
    (date(2026, 9, 29), 11),
    (date(2026, 10, 20), 17),
)
TIMES = tuple(time(h, m) for h, m in ((0, 0), (0, 30), (1, 59), (2, 0), (2, 30), (3, 0), (12, 0)))
TIMES += (time(22, 30), time(23, 30), time(23, 50))  # a tick every 10 minutes catches each


@pytest.mark.parametrize("zone_name", [*ZONES, "America/Santiago"])
def test_one_moment_per_local_date_across_every_change(zone_name: str) -> None:
    """Ticks every 10 minutes through each window: every local date is due exactly once, at
    its time (or, in a gap, as late as the jump), and never at another date's moment."""
    zone = ZoneInfo(zone_name)
    for first, days in WINDOWS:
        start = datetime.combine(first, time(0, 0), tzinfo=UTC)
        for at in TIMES:
            planned: dict[date, datetime] = {}
            now = start
            while now < start + timedelta(days=days):
                found = daily_moments.due_now(now, zone, at, start)
                if found is not None and found[0] not in planned:
                    planned[found[0]] = found[1]
                now += timedelta(minutes=10)
            inner = [first + timedelta(days=i) for i in range(1, days - 1)]
            for day in inner:
                moment = planned.get(day)
                assert moment is not None, (zone_name, at, day)
                local = moment.astimezone(zone)
                assert local.date() == day or local.time() < time(2), (zone_name, at, day)
                gap = local.replace(tzinfo=None) - datetime.combine(day, at)
                assert timedelta(0) <= gap <= timedelta(hours=1), (zone_name, at, day, local)
            moments = sorted(planned.values())
            assert all(b - a >= timedelta(hours=22) for a, b in pairwise(moments)), (zone_name, at)


# ---------------------------------------------------------------- helpers


async def tick(h: Harness) -> None:
    """Run the delivery job now (the JobQueue runs on real time; the bot's clock is ours)."""
    assert h.app is not None and h.app.job_queue is not None
    (job,) = h.app.job_queue.get_jobs_by_name(jobs.DELIVERIES)
    state: daily_delivery.RunState = job.data  # type: ignore[assignment]
    # Once a test ticks, its ticks alone run deliveries: a scheduled run (every 10 s) could
    # start as ours ends and send after the test moved the clock on (its sends then counted
    # on the wrong day; seen on PostgreSQL). Paused here; a restart makes a new, live job.
    job.enabled = False
    # Nothing notifies the end of a run (the fake's waiters wake on API calls only, and a run
    # may end without one): look again shortly, for a scheduled run already started (counted
    # from the scheduler's events, so also before it sets busy) and then for ours.
    async with asyncio.timeout(WAIT_BOUND):
        while state.busy or h.jobs_running:
            await asyncio.sleep(0.01)
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
    await settled(h)
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
    await quiet(h)
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
    await quiet(h)
    assert len(dailies(h, ALICE.id)) == 1


async def test_yesterdays_missed_delivery_is_not_sent_today(morning: Harness) -> None:
    h = morning
    await h.start(post_time=time(9, 0))
    await says(h, ALICE, "/daily 07:00")  # already past today: first one tomorrow
    await tick(h)
    await settled(h)
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
    await settled(h)
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
    await settled(h)
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
    await tick(h)  # the run after the restart is over, and one more finds nothing to send
    counts = deliveries_to(h.fake, ids)
    assert sorted(counts) == ids
    assert set(counts.values()) == {1}


async def test_two_runs_started_at_once_send_each_delivery_once(morning: Harness) -> None:
    """A run resends rows left 'sending' (a crash's): a second run that starts while the first
    is asking for its lease (PostgreSQL: a round trip) must find it busy, not go on."""
    h = morning
    await h.start(post_time=time(9, 0))
    ids = await subscribe_many(h.data.store, h.fake, 30, MORNING)
    assert isinstance(h.clock, Clock) and h.app is not None and h.app.job_queue is not None
    h.clock.advance(hours=1)
    (job,) = h.app.job_queue.get_jobs_by_name(jobs.DELIVERIES)
    job.enabled = False  # these two runs alone
    await asyncio.gather(job.run(h.app), job.run(h.app))
    await tick(h)  # and one more after them finds nothing to send
    counts = deliveries_to(h.fake, ids)
    assert sorted(counts) == ids
    assert set(counts.values()) == {1}


STATUSES = "SELECT status, COUNT(*) FROM daily_deliveries GROUP BY status"


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
        # Every row recorded as sent: no send is left in flight, and a sent row never goes out
        # again (the database is read beside the running bot, as copy-db does).
        async with asyncio.timeout(30):
            while await query(env["DATABASE_PATH"], STATUSES) != [("sent", len(ids))]:
                await asyncio.sleep(0.05)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    counts = deliveries_to(fake_api, ids)
    assert sorted(counts) == ids  # none lost
    twice = [uid for uid, n in counts.items() if n > 1]
    assert len(twice) <= 8  # only what was in flight at the kill (IN_FLIGHT)
    assert await query(env["DATABASE_PATH"], STATUSES) == [("sent", len(ids))]


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


async def test_first_delivery_buttons_are_bound_to_their_message(morning: Harness) -> None:
    """A daily question's data replayed on another message of the chat is refused (§6)."""
    h = morning
    await h.start(post_time=time(9, 0))
    await says(h, ALICE, "/daily")
    await says(h, ALICE, "/help")
    other = h.fake.messages_in(ALICE.id)[-1]  # the /help reply: no daily buttons on it
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=2)
    await tick(h)
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)
    message = dailies(h, ALICE.id)[0]
    asking_id = int(answer_buttons(message)[0]["callback_data"].split(":")[1])
    asking = await h.data.store.quizzes.get_asking(asking_id)
    assert asking is not None and asking.message_id == message.message_id  # bound at the send
    data = answer_buttons(message)[await right_position(h, message)]["callback_data"]
    before = len(h.fake.calls)
    replay = h.fake.press(ALICE, other, data)
    refusal = await answered(h, replay)
    assert refusal.get("show_alert") is True and refusal.get("text") == NOT_VALID
    # The real press on the real message is graded, and only that message is edited; the
    # replay (handled first: one user's updates go in order) changed nothing.
    query = await press_answer(h, ALICE, message, right=True)
    assert "Right" in (await answered(h, query)).get("text", "")
    await h.fake.wait_for(
        "editMessageText", lambda c: c.params["message_id"] == message.message_id
    )
    between = [c.method for c in h.fake.calls[before:] if c.method != "getUpdates"]
    assert between[:2] == ["answerCallbackQuery", "answerCallbackQuery"]
    edited = {c.params["message_id"] for c in h.fake.calls_to("editMessageText")}
    assert other.message_id not in edited
    await h.fake.wait_for("sendMessage", lambda c: "1/1 right" in c.params["text"])
    _points, n, right, _ = await score_line(h, ALICE.id, ALICE)
    assert (n, right) == (1, 1)  # the replay was not graded


async def test_daily_off_and_forget_after_planning_deliver_nothing(morning: Harness) -> None:
    """The day's rows are planned; then one says /daily off and one /forget: neither gets it."""
    h = morning
    await h.start(post_time=time(9, 0))
    carol = FakeUser(1003, "Carol")
    h.fake.private_chat(carol)
    for user in (ALICE, BOB, carol):
        await says(h, user, "/daily")
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=2)
    assert await daily_delivery.plan(h.data, time(9, 0)) == 3  # planned, not yet sent
    assert "no more" in await says(h, BOB, "/daily off")
    assert await h.data.store.users.forget_user(carol.id) > 0
    await tick(h)
    await h.fake.wait_until(lambda: len(dailies(h, ALICE.id)) == 1)
    assert sent_dailies(h, BOB.id) == sent_dailies(h, carol.id) == 0
    assert await h.data.store.daily.count_status(DAY.isoformat(), "sent") == 1
    # Subscribing again later that day does not owe the moment that passed before it.
    await says(h, BOB, "/daily")
    await tick(h)
    assert sent_dailies(h, BOB.id) == 0
    assert await h.data.store.daily.count_status(DAY.isoformat(), "sent") == 1


async def test_daily_off_during_a_run_stops_that_users_delivery(morning: Harness) -> None:
    """A run is under way (its first sends held at Telegram) when two subscribers leave."""
    h = morning
    await h.start(post_time=time(9, 0))
    ids = await subscribe_many(h.data.store, h.fake, 30, MORNING)
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=1)
    gate = h.fake.hold("sendMessage")
    run = asyncio.create_task(tick(h))
    day = DAY.isoformat()
    async with asyncio.timeout(10):  # the run claims its first rows, then waits on Telegram
        while await h.data.store.daily.count_status(day, "sending") < daily_delivery.IN_FLIGHT:
            await asyncio.sleep(0.01)
    leaving, forgetting = ids[-1], ids[-2]  # claimed last (oldest moment, then user id)
    assert await h.data.store.daily.unsubscribe(leaving)
    assert await h.data.store.users.forget_user(forgetting) > 0
    gate.set()
    await run
    counts = deliveries_to(h.fake, ids)
    assert sorted(counts) == ids[:-2]
    assert set(counts.values()) == {1}
    assert await h.data.store.daily.count_status(day, "sent") == len(ids) - 2
    assert await h.data.store.daily.count_status(day, "pending") == 0


@pytest.mark.parametrize("channel_zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney"])
@pytest.mark.parametrize(("first", "days"), [(date(2026, 3, 24), 16), (date(2026, 10, 20), 17)])
async def test_planning_across_dst_changes_one_row_per_local_date(
    harness: Harness, channel_zone: str, first: date, days: int
) -> None:
    """The real planner on a driven clock, a tick every 30 minutes through a window with the
    changes of all five zones: every subscriber (zones with and without DST on either side
    of TIMEZONE, times in the gap, in the repeated hour and near midnight, and the channel's
    own time, itself in the gap) has exactly one row per local date, carrying that date's
    question."""
    h = harness
    start = datetime.combine(first, time(0, 0), tzinfo=UTC)
    h.clock = Clock(start)
    await h.start(timezone=channel_zone, post_time=time(2, 30), channel_id=None)
    store = h.data.store
    zone_of: dict[int, ZoneInfo] = {}
    at_of: dict[int, time] = {}
    uid = 500_000
    for name in ZONES:
        for at in (time(2, 30), time(0, 30), time(22, 30)):
            uid += 1
            await store.users.set_timezone(uid, f"S{uid}", name, start)
            await store.daily.subscribe(uid, at.strftime("%H:%M"), start)
            zone_of[uid], at_of[uid] = ZoneInfo(name), at
    plain = uid + 1  # follows the channel's time (02:30 in TIMEZONE)
    await store.users.set_timezone(plain, "Plain", "Asia/Kolkata", start)  # not its /daily zone
    await store.daily.subscribe(plain, None, start)
    zone_of[plain], at_of[plain] = ZoneInfo(channel_zone), time(2, 30)
    assert isinstance(h.clock, Clock)
    for _ in range(days * 48):
        h.clock.advance(minutes=30)
        await daily_delivery.plan(h.data, time(2, 30))
    database = h.data.store.database
    rows = await database.all("SELECT user_id, day, due_at, question_id FROM daily_deliveries")
    planned: dict[int, dict[date, tuple[datetime, str]]] = {}
    for user_id, day, due_at, question_id in rows:
        planned.setdefault(user_id, {})[date.fromisoformat(day)] = (
            datetime.fromisoformat(due_at),
            question_id,
        )
    questions = {
        r[0]: r[1] for r in await database.all("SELECT day, question_id FROM daily_questions")
    }
    inner = [first + timedelta(days=i) for i in range(2, days - 1)]
    assert sorted(planned) == sorted(zone_of)
    for user_id, by_day in planned.items():
        zone, at = zone_of[user_id], at_of[user_id]
        for day in inner:
            assert day in by_day, (user_id, str(zone), at, day)
            moment, question_id = by_day[day]
            # (In UTC: PEP 495 makes a time in a repeated hour unequal to any other zone's.)
            expected = daily_moments.moment_on(day, zone, at).astimezone(UTC)
            assert moment == expected, (str(zone), at, day)
            assert question_id == questions[day.isoformat()]
        assert len({q for _, q in by_day.values()}) == len(by_day)  # never one question twice


@pytest.mark.parametrize(
    ("channel_zone", "user_zone", "at", "first"),
    [
        # The case: TIMEZONE falls back on the 25th; the subscriber's zone has no DST.
        ("Europe/Berlin", "UTC", "22:30", date(2026, 10, 23)),
        # The subscriber's zone springs forward on the 29th: the old rule missed the 30th.
        ("UTC", "Europe/Berlin", "01:30", date(2026, 3, 27)),
        # ... at their time (02:30 is skipped: it comes at 03:30).
        ("UTC", "Europe/Berlin", "02:30", date(2026, 3, 27)),
        # Both change, a week apart, on opposite sides of the day.
        ("America/New_York", "Europe/Berlin", "23:30", date(2026, 10, 23)),
    ],
)
async def test_one_delivery_per_local_day_through_the_application(
    harness: Harness, channel_zone: str, user_zone: str, at: str, first: date
) -> None:
    """/timezone and /daily through the bot, then its delivery job every half hour for five
    days: one daily question on each of the subscriber's days, each a different one."""
    h = harness
    zone = ZoneInfo(user_zone)
    start = datetime.combine(first, time(12, 0), tzinfo=zone)
    h.clock = Clock(start)
    await h.start(timezone=channel_zone, post_time=time(9, 0), channel_id=None)
    await says(h, ALICE, f"/timezone {user_zone}")
    assert "Subscribed" in await says(h, ALICE, f"/daily {at}")
    by_day: dict[date, int] = {}
    assert isinstance(h.clock, Clock)
    for _ in range(5 * 48):  # the bot ticks every 10 s; here every 30 minutes suffices
        h.clock.advance(minutes=30)
        before = sent_dailies(h, ALICE.id)
        await tick(h)
        day = h.clock().astimezone(zone).date()
        by_day[day] = by_day.get(day, 0) + sent_dailies(h, ALICE.id) - before
    days = [first + timedelta(days=i) for i in range(1, 5)]
    assert [by_day.get(day, 0) for day in days] == [1, 1, 1, 1], by_day
    asked = [await asked_question(h, m) for m in dailies(h, ALICE.id)]
    assert len(set(asked)) == len(asked) == 5


async def test_a_row_whose_local_day_is_over_is_not_sent_late(harness: Harness) -> None:
    """Planned at 23:00 in Los Angeles, then the bot was down past midnight there (the
    channel's UTC date had not changed): it is marked missed, and that subscriber's next day
    still gets its one question."""
    h = harness
    la = ZoneInfo("America/Los_Angeles")
    h.clock = Clock(datetime(2026, 11, 20, 12, 0, tzinfo=la))
    await h.start(post_time=time(9, 0), channel_id=None)
    await says(h, ALICE, "/timezone America/Los_Angeles")
    await says(h, ALICE, "/daily 23:00")
    question = await channel_queue.day_question(h.data, DAY)
    assert question is not None
    await h.stop()
    store = await Store.open(h.settings.database_path)  # the row planned just before a crash
    moment = datetime(2026, 11, 20, 23, 0, tzinfo=la)
    await store.daily.plan(DAY.isoformat(), question[1], [(ALICE.id, moment)], moment)
    await store.close()
    assert isinstance(h.clock, Clock)
    h.clock.advance(hours=12, minutes=30)  # 00:30 on the 21st in LA; 08:30 UTC on the 21st
    await h.start(post_time=time(9, 0), channel_id=None)
    await tick(h)
    assert await h.data.store.daily.count_status(DAY.isoformat(), "missed") == 1
    assert sent_dailies(h, ALICE.id) == 0
    h.clock.advance(hours=22, minutes=31)  # 23:01 on the 21st in LA
    await tick(h)
    assert sent_dailies(h, ALICE.id) == 1
    assert await h.data.store.daily.count_status("2026-11-21", "sent") == 1
