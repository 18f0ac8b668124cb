"""No chat holds up another (runtime/updates.py, runtime/ratelimit.py), with the flood limits
scaled down so that the orders of events, not timings, show it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.runtime import ratelimit
from bot.runtime.updates import FLOOD_NOTICE, MAX_PENDING_PER_USER, FairUpdateProcessor
from tests.conftest import Harness
from tests.fakes import FakeUser

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
