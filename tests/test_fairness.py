"""No chat holds up another (runtime/updates.py, runtime/ratelimit.py), with the flood limits
scaled down so that the orders of events, not timings, show it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from telegram import Update

from bot.core.limits import MAX_NOTICES, MAX_PENDING_PER_GROUP
from bot.runtime import ratelimit, updates
from bot.runtime.updates import (
    FLOOD_NOTICE,
    MAX_PENDING_PER_USER,
    PRESS_FLOOD_NOTICE,
    FairUpdateProcessor,
    fairness_key,
)
from tests.conftest import ALICE, Harness
from tests.fakes import Chat, FakeUser
from tests.helpers import answer_buttons, next_question, press_answer, settled
from tests.test_anonymous import ANONYMOUS, anonymous_command

# Same shape as production, ten times faster: a group reply every 0.3 s, 1 per 0.2 s per
# private chat after a burst of 2, the overall limit far away.
SCALED = ratelimit.Rates(
    overall_period=0.002, group_period=0.3, per_chat_burst=2, per_chat_period=0.2
)


@pytest.fixture
def scaled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "PRODUCTION", SCALED)


async def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll: the processor's state changes after the fake's last call, when it cannot notify."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


def _processor(h: Harness) -> FairUpdateProcessor:
    assert h.app is not None
    processor = h.app.update_processor
    assert isinstance(processor, FairUpdateProcessor)
    return processor


@pytest.mark.usefixtures("scaled")
async def test_a_busy_group_does_not_hold_up_private_chats(harness: Harness) -> None:
    """Attack: 40 members of one group each send /leaderboard, whose replies can only leave one
    per group period, then 20 other users send /start in private. Before, each waiting group
    reply held one of the few update slots, and the 20 waited for the whole group."""
    await harness.start(rate_limit=True, concurrent_updates=4)
    fake = harness.fake
    group = fake.group()
    members = [FakeUser(5000 + i, f"M{i}") for i in range(40)]
    learners = [FakeUser(6000 + i, f"L{i}") for i in range(20)]
    for m in members:
        fake.send_text(m, "/leaderboard", chat=group)
    await fake.wait_until(lambda: bool(fake.sent_to(group.id)))
    for u in learners:
        fake.send_text(u, "/start")
    await fake.wait_until(lambda: all(fake.sent_to(u.id) for u in learners), timeout=30)
    # Every private reply is out while the group has had only a few of its 40 (one per
    # 0.3 s): nobody waited for the group's queue.
    assert len(fake.sent_to(group.id)) < 10
    await fake.wait_until(lambda: len(fake.sent_to(group.id)) == 40, timeout=60)


@pytest.mark.usefixtures("scaled")
async def test_a_flood_from_one_user_is_bounded_and_does_not_delay_another(
    harness: Harness,
) -> None:
    """Attack: one account sends 400 /start at once, then another user sends /start. The
    flooder's queued updates never exceed the bound, they hear of it once, and the other
    user's reply does not wait for the flooder's queue (one reply per 0.2 s)."""
    await harness.start(rate_limit=True, concurrent_updates=4)
    fake = harness.fake
    processor = _processor(harness)
    flooder, other = FakeUser(7001, "Flood"), FakeUser(7002, "Calm")
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, processor.pending(flooder.id))
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        for _ in range(400):
            fake.send_text(flooder, "/start")
        fake.send_text(other, "/start")
        await fake.wait_until(lambda: bool(fake.sent_to(other.id)))
        # The flooder's admitted replies leave one per 0.2 s: most are still to come.
        served = [c for c in fake.sent_to(flooder.id) if c.params["text"] != FLOOD_NOTICE]
        assert len(served) < MAX_PENDING_PER_USER
        await _until(lambda: processor.pending(flooder.id) == 0)
    finally:
        done.set()
        await watcher
    assert 0 < peak <= MAX_PENDING_PER_USER
    texts = [c.params["text"] for c in fake.sent_to(flooder.id)]
    assert texts.count(FLOOD_NOTICE) == 1
    # Every update was either served or dropped, and most were dropped, not queued: updates
    # arrive in batches, so a later batch may find a place freed by a served one.
    assert (len(texts) - 1) + processor.dropped == 400
    assert processor.dropped > 300


async def test_a_flood_is_told_again_after_it_drained(bot: Harness) -> None:
    """The notice is once per flood, not once per life: a second flood later is told again."""
    fake = bot.fake
    processor = _processor(bot)
    user = FakeUser(7003, "Again")
    for flood in (1, 2):
        for _ in range(60):
            fake.send_text(user, "/help")

        def told(n: int = flood) -> bool:
            return [c.params["text"] for c in fake.sent_to(user.id)].count(FLOOD_NOTICE) == n

        await fake.wait_until(told, timeout=30)
        await _until(lambda: processor.pending(user.id) == 0)


def _answers_to(h: Harness, query_ids: set[str]) -> list[dict[str, Any]]:
    return [
        c.params
        for c in h.fake.calls_to("answerCallbackQuery")
        if str(c.params.get("callback_query_id")) in query_ids
    ]


@pytest.mark.usefixtures("scaled")
async def test_a_group_flood_past_ptbs_semaphore_holds_up_no_private_chat_and_no_press(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: more group commands than PTB's own semaphore is wide, each waiting for the
    group's limit, then a press on a private quiz and a private /start. Before, every waiting
    update held one of PTB's 4,096 permits (scaled to 32 here: 4,096 group replies would take
    the fake minutes), so past it every chat waited for the group, presses included. The
    group's backlog is bounded too: past MAX_PENDING_PER_GROUP its commands are dropped."""
    monkeypatch.setattr(updates, "PTB_SLOTS", 32)
    await harness.start(rate_limit=True, concurrent_updates=4)
    fake = harness.fake
    processor = _processor(harness)
    fake.send_text(ALICE, "/quiz 2")
    question = await next_question(harness, ALICE.id, 1)
    group = fake.group()
    members = [FakeUser(5000 + i, f"M{i}") for i in range(MAX_PENDING_PER_GROUP + 40)]
    for m in members:
        fake.send_text(m, "/leaderboard", chat=group)
    await fake.wait_until(lambda: bool(fake.sent_to(group.id)))
    await _until(lambda: processor.dropped >= 40 - 1)
    assert processor.pending_in_group(group.id) <= MAX_PENDING_PER_GROUP
    learner = FakeUser(6001, "Learner")
    query = await press_answer(harness, ALICE, question, right=True)
    fake.send_text(learner, "/start")
    await fake.wait_until(lambda: bool(_answers_to(harness, {query})), timeout=30)
    await fake.wait_until(lambda: bool(fake.sent_to(learner.id)), timeout=30)
    # Both answered while the group has had only a few of its replies (one per 0.3 s).
    assert len(fake.sent_to(group.id)) < 10
    assert _answers_to(harness, {query})[0].get("text") != PRESS_FLOOD_NOTICE
    # The group is never told about the drop: the notice would be noise for all its members.
    assert all(c.params["text"] != FLOOD_NOTICE for c in fake.sent_to(group.id))


def _anonymous_in(group: Chat, text: str, message_id: int) -> Update:
    return Update.de_json({"update_id": message_id, **anonymous_command(group, text, message_id)})


def test_updates_sent_by_a_chat_take_the_chat_turn_not_the_placeholder_users() -> None:
    a, b = Chat(-100601, "supergroup", title="A"), Chat(-100602, "supergroup", title="B")
    assert fairness_key(_anonymous_in(a, "/help", 1)) == a.id
    assert fairness_key(_anonymous_in(b, "/help", 2)) == b.id
    channel = {"id": -100603, "type": "channel", "title": "C"}
    for sender in (136817688, 777000):  # on behalf of a channel; a linked channel's post
        update = Update.de_json(
            {
                "update_id": 3,
                "message": {
                    "message_id": 3,
                    "date": int(time.time()),
                    "chat": a.as_dict(),
                    "from": {**ANONYMOUS, "id": sender},
                    "sender_chat": channel,
                    "text": "/help",
                },
            }
        )
        assert fairness_key(update) == a.id
    person = Update.de_json(
        {
            "update_id": 5,
            "message": {
                "message_id": 5,
                "date": int(time.time()),
                "chat": a.as_dict(),
                "from": ALICE.as_dict(),
                "text": "/help",
            },
        }
    )
    assert fairness_key(person) == ALICE.id


@pytest.mark.usefixtures("scaled")
async def test_one_groups_anonymous_admin_cannot_drop_another_groups_commands(
    harness: Harness,
) -> None:
    """Attack: group A's anonymous admin sends 40 commands, whose replies wait in A's limit;
    then group B's anonymous admin sends one. Both are user 1087968824: keyed by that id, B's
    command was dropped as part of A's flood."""
    await harness.start(rate_limit=True, concurrent_updates=4)
    fake = harness.fake
    processor = _processor(harness)
    a, b = fake.group(-100601, "A"), fake.group(-100602, "B")
    for n in range(40):
        fake.push_raw(anonymous_command(a, "/leaderboard", 9000 + n))
    await fake.wait_until(lambda: bool(fake.sent_to(a.id)))
    fake.push_raw(anonymous_command(b, "/leaderboard", 9100))
    await fake.wait_until(lambda: bool(fake.sent_to(b.id)), timeout=30)
    assert len(fake.sent_to(a.id)) < 10  # B did not wait for A's queue either
    assert processor.pending(a.id) <= MAX_PENDING_PER_USER
    assert processor.pending(ANONYMOUS["id"]) == 0


async def test_every_press_dropped_by_the_bound_is_answered(bot: Harness) -> None:
    """Attack: one user presses a quiz button 48 times at once. Past MAX_PENDING_PER_USER the
    presses are dropped; before, all but the first dropped one were never answered (the
    client's spinner turned until it gave up)."""
    fake = bot.fake
    processor = _processor(bot)
    fake.send_text(ALICE, "/quiz 1")
    question = await next_question(bot, ALICE.id, 1)
    # The /quiz update is done (its asking's message recorded): it no longer takes one of
    # Alice's places, or one drop more than the answers' bound would be left unanswered.
    await settled(bot)
    button = answer_buttons(question)[0]["callback_data"]
    flood = MAX_PENDING_PER_USER + MAX_NOTICES  # every drop within the answers' bound
    queries = {fake.press(ALICE, question, button) for _ in range(flood)}
    await fake.wait_until(lambda: len(_answers_to(bot, queries)) == flood, timeout=30)
    texts = [a.get("text") for a in _answers_to(bot, queries)]
    assert texts.count(PRESS_FLOOD_NOTICE) == processor.dropped > 0
    assert len(PRESS_FLOOD_NOTICE) <= 200
    told = [a for a in _answers_to(bot, queries) if a.get("text") == PRESS_FLOOD_NOTICE]
    assert not any(a.get("show_alert") for a in told)  # a toast: it goes away by itself


async def test_answering_dropped_presses_is_bounded_work(bot: Harness) -> None:
    """Attack: while Telegram is slow to take answers, a flood of presses. The answers to the
    dropped ones in flight never exceed MAX_NOTICES; past that a press is left to time out."""
    fake = bot.fake
    processor = _processor(bot)
    fake.send_text(ALICE, "/quiz 1")
    question = await next_question(bot, ALICE.id, 1)
    await settled(bot)  # the /quiz update no longer holds one of Alice's places
    button = answer_buttons(question)[0]["callback_data"]
    gate = fake.hold("answerCallbackQuery")
    flood = MAX_PENDING_PER_USER + MAX_NOTICES + 40
    queries = {fake.press(ALICE, question, button) for _ in range(flood)}
    await _until(lambda: processor.dropped == flood - MAX_PENDING_PER_USER)
    assert processor.notices_in_flight == MAX_NOTICES
    gate.set()
    await _until(lambda: processor.notices_in_flight == 0 and processor.backlog == 0)
    texts = [a.get("text") for a in _answers_to(bot, queries)]
    assert texts.count(PRESS_FLOOD_NOTICE) == MAX_NOTICES


def _message_from(user_id: int, update_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": "U"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                "text": "/help",
            },
        }
    )


async def test_the_whole_backlog_is_bounded_too() -> None:
    """Many senders at once, each within their own bound: past the overall bound (scaled
    from 10,000 to 10 here, a test cannot queue ten thousand updates quickly) new updates are
    dropped rather than queued, and nothing runs twice."""
    processor = FairUpdateProcessor(4, max_backlog=10)
    release = asyncio.Event()
    ran: list[int] = []

    async def handle(n: int) -> None:
        await release.wait()
        ran.append(n)

    for n in range(1, 31):
        await processor.process_update(_message_from(10_000 + n, n), handle(n))
    assert processor.backlog == 10 and processor.dropped == 20
    release.set()
    await _until(lambda: processor.backlog == 0)
    assert sorted(ran) == list(range(1, 11))


async def test_stop_keeps_what_did_not_run_and_never_what_already_replied() -> None:
    """At the deadline: an update waiting behind another, and one cut before any request of
    its was answered, are kept (to run at the next start); one cut after it replied is not
    (it would reply twice); one whose request is on the wire gets a moment and finishes, and
    one whose request is still on the wire after that moment is kept (twice beats never)."""
    processor = FairUpdateProcessor(4)
    never = asyncio.Event()
    on_wire = asyncio.Event()
    answered = asyncio.Event()
    finished: list[str] = []

    async def stuck() -> None:
        await never.wait()

    async def replied_then_stuck() -> None:
        async with updates.on_the_wire():
            pass
        await never.wait()

    async def in_flight() -> None:
        async with updates.on_the_wire():
            on_wire.set()
            await answered.wait()
        finished.append("in flight")

    await processor.process_update(_message_from(1, 1), stuck())
    await processor.process_update(_message_from(1, 2), stuck())  # queued behind 1
    await processor.process_update(_message_from(2, 3), replied_then_stuck())

    async def lost_on_the_wire() -> None:
        async with updates.on_the_wire():
            await never.wait()

    await processor.process_update(_message_from(3, 4), in_flight())
    await processor.process_update(_message_from(5, 6), lost_on_the_wire())
    await asyncio.wait_for(on_wire.wait(), 10)
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, answered.set)  # its answer comes within the grace second
    kept = await processor.stop(loop.time() + 0.1)
    assert [u.update_id for u in kept if isinstance(u, Update)] == [1, 2, 6]
    assert finished == ["in flight"]
    assert processor.backlog == 0
    # Arrivals after the stop are not run: kept as well.
    await processor.process_update(_message_from(4, 5), stuck())
    assert [u.update_id for u in processor.take_kept() if isinstance(u, Update)] == [5]


@pytest.mark.usefixtures("scaled")
async def test_a_flood_never_drops_the_bot_being_removed(harness: Harness) -> None:
    """Attack: a group member floods the bot with commands, then removes it from the group.
    The commands past the bounds are dropped; the removal is not (it is no flood, and
    dropping it would leave the group's quiz running for a bot that is gone)."""
    await harness.start(rate_limit=True, concurrent_updates=4)
    fake, store = harness.fake, harness.data.store
    processor = _processor(harness)
    group = fake.group()
    fake.send_text(ALICE, "/quiz 3", chat=group)
    await next_question(harness, group.id, 1)
    for _ in range(40):
        fake.send_text(ALICE, "/leaderboard", chat=group)
    await _until(lambda: processor.dropped > 0)
    dropped = processor.dropped
    fake.bot_membership(group, "kicked", ALICE)
    async with asyncio.timeout(30):
        while await store.quizzes.active_session(group.id, None) is not None:
            await asyncio.sleep(0.05)
    assert processor.dropped == dropped
