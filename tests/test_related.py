"""End to end: entries of one fact (core.related) are not served back to back.

The pure rule is tested in test_rules.py; here the real services use it, on the shipped bank.
"""

from __future__ import annotations

import itertools

import pytest

from bot.db.settings import Key
from bot.services import channel_queue
from tests.conftest import ALICE, Harness
from tests.helpers import next_question

pytestmark = pytest.mark.e2e


def together(order: tuple[str, ...] | list[str], related: dict[str, frozenset[str]]) -> list[str]:
    return [f"{a}~{b}" for a, b in itertools.pairwise(order) if b in related.get(a, frozenset())]


async def test_a_quiz_round_keeps_related_entries_apart(bot: Harness) -> None:
    related = bot.data.bank.related
    memory = [q.id for q in bot.data.bank.in_topic("Memory Management")]
    assert sum(qid in related for qid in memory) >= 10  # the gc entries, refcounting, ...
    bot.fake.send_text(ALICE, "/quiz memory 20")
    await next_question(bot, ALICE.id, 1)
    session = await bot.data.store.quizzes.active_session(ALICE.id, ALICE.id)
    assert session is not None and len(session.question_ids) == 20
    assert together(session.question_ids, related) == []


async def test_the_channel_queue_keeps_related_entries_apart(bot: Harness) -> None:
    # One shuffle of 389 entries has an even chance of no twins side by side; ten seeds don't.
    for n in range(10):
        await bot.data.store.settings.set_kv(Key.QUEUE_SEED, f"seed-{n}")
        cycle, left = await channel_queue.upcoming(bot.data)
        assert cycle == 1 and sorted(left) == sorted(bot.data.bank.questions)
        assert together(left, bot.data.bank.related) == [], n
