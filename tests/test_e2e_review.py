"""End to end with a driven clock: spaced repetition decides what /review asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ALICE, Harness
from tests.fakes import Clock
from tests.helpers import answer_buttons, answered, next_question, press_answer

pytestmark = pytest.mark.e2e


async def asked_id(h: Harness, number: int) -> tuple[str, object]:
    message = await next_question(h, ALICE.id, number)
    data = answer_buttons(message)[0]["callback_data"]
    asking = await h.data.store.quizzes.get_asking(int(data.split(":")[1]))
    assert asking is not None
    return asking.question_id, message


async def review_round(h: Harness, expect: int) -> list[str]:
    """Send /review; answer every question right; return the ids it asked."""
    before = len(h.fake.sent_to(ALICE.id))
    summaries = len(
        [c for c in h.fake.sent_to(ALICE.id) if f"{expect}/{expect} right" in c.params["text"]]
    )
    h.fake.send_text(ALICE, "/review")
    await h.fake.wait_until(lambda: len(h.fake.sent_to(ALICE.id)) > before)
    if expect == 0:
        assert "Nothing is due" in h.fake.sent_to(ALICE.id)[-1].params["text"]
        return []
    asked = []
    for number in range(1, expect + 1):
        qid, message = await asked_id(h, number)
        asked.append(qid)
        await answered(h, await press_answer(h, ALICE, message, right=True))  # type: ignore[arg-type]
    await h.fake.wait_for(
        "sendMessage",
        lambda c: f"{expect}/{expect} right" in c.params["text"],
        count=summaries + 1,
    )
    return asked


async def test_spaced_repetition_with_a_driven_clock(harness: Harness) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    harness.clock = clock
    await harness.start()
    fake = harness.fake
    fake.send_text(ALICE, "/quiz 2")
    missed_id, first = await asked_id(harness, 1)
    await answered(harness, await press_answer(harness, ALICE, first, right=False))  # type: ignore[arg-type]
    right_id, second = await asked_id(harness, 2)
    await answered(harness, await press_answer(harness, ALICE, second, right=True))  # type: ignore[arg-type]
    await fake.wait_for("sendMessage", lambda c: "1/2 right" in c.params["text"])

    # Straight away nothing is due; the miss is due again within a day (minutes, in fact).
    await review_round(harness, 0)
    due = await harness.data.store.answers.due_dates(ALICE.id)
    assert timedelta(0) < due[missed_id] - clock() <= timedelta(minutes=10)
    assert due[right_id] - clock() >= timedelta(days=1)
    clock.advance(hours=1)
    assert await review_round(harness, 1) == [missed_id]  # exactly what is due

    # When both are due, answer both right again and again: the gap grows to days.
    gaps = []
    for _ in range(2):
        due = await harness.data.store.answers.due_dates(ALICE.id)
        clock.now_value = max(due[missed_id], due[right_id]) + timedelta(minutes=1)
        assert sorted(await review_round(harness, 2)) == sorted([missed_id, right_id])
        gaps.append((await harness.data.store.answers.due_dates(ALICE.id))[right_id] - clock())
    assert gaps[0] < gaps[1] and gaps[1] >= timedelta(days=5)  # three right answers: days
    await review_round(harness, 0)
    # Half-way to the next review, still nothing; just after it, exactly that one.
    due = await harness.data.store.answers.due_dates(ALICE.id)
    clock.now_value = min(due.values()) - timedelta(minutes=1)
    await review_round(harness, 0)
    clock.advance(minutes=2)
    first = min(due, key=lambda qid: due[qid])
    assert await review_round(harness, 1) == [first]
