"""The channel's queue: which question comes next. Every question once per cycle, in an
order fixed by a seed kept in the database (``core.schedule``), and the day's one question
(contract §7) that the channel's daily slot and every /daily subscriber share."""

from __future__ import annotations

import logging
import secrets
from datetime import date

from bot.core import schedule
from bot.core.models import QuestionBank
from bot.db import Store
from bot.db.settings import Key
from bot.state.context import BotData

log = logging.getLogger(__name__)

CHOICE_TRIES = 10  # another process took the date or the question each time: give up (logged)


async def queue_seed(data: BotData) -> str:
    seed = await data.store.settings.get_kv(Key.QUEUE_SEED)
    if seed is None:
        seed = secrets.token_hex(8)
        await data.store.settings.set_kv(Key.QUEUE_SEED, seed)
    return seed


async def current_cycle(data: BotData) -> int:
    return await _cycle(data.store)


async def _cycle(store: Store) -> int:
    return int(await store.settings.get_kv(Key.CYCLE) or "1")


async def _left_in(store: Store, bank: QuestionBank, seed: str, cycle: int) -> list[str]:
    # A day's question is spoken for once chosen, posted or not (see day_question).
    done = await store.channel.done_in_cycle(cycle) | await store.daily.chosen_in_cycle(cycle)
    return schedule.cycle_queue(bank.questions, done, seed, cycle, bank.related)


async def upcoming(data: BotData) -> tuple[int, list[str]]:
    """(cycle, the questions still to post in it, in order)."""
    seed = await queue_seed(data)
    cycle = await current_cycle(data)
    return cycle, await _left_in(data.store, data.bank, seed, cycle)


async def next_question(data: BotData, skip: int = 0) -> tuple[int, str] | None:
    """The next question to post and its cycle; opens a new cycle when this one is done.
    ``skip``: the one that many places further down (a process that lost a race for the head
    of the queue takes the next one, not the head the winner is about to take again)."""
    if not data.bank.questions:
        return None
    cycle, left = await upcoming(data)
    if not left:
        cycle += 1
        await data.store.settings.set_kv(Key.CYCLE, str(cycle))
        log.info("channel queue: every question posted, cycle %d starts", cycle)
        cycle, left = await upcoming(data)
    return cycle, left[min(skip, len(left) - 1)]


async def day_question(data: BotData, day: date) -> tuple[int, str] | None:
    """The day's one question (contract §7): the channel's daily slot and every /daily
    subscriber get it. Chosen from the no-repeat queue when first needed, then kept."""
    async with data.day_choice:
        return await _day_question(data, day)


async def _day_question(data: BotData, day: date) -> tuple[int, str] | None:
    # data.day_choice serialises the choice within a process; across processes on one
    # PostgreSQL the database does (a day once, a question once per cycle: migration 15), and
    # a process that lost a race looks again: the other's choice, or the queue's next one.
    # Each lost race means another process chose a question, and the loser then looks further
    # down the queue (``skip``), so two planners do not keep colliding on one head (seen
    # under load: five losses in a row when both took the head each time).
    key = day.isoformat()
    for attempt in range(CHOICE_TRIES):
        kept = await data.store.daily.day_question(key)
        if kept is not None and kept.question_id in data.bank:
            return kept.cycle, kept.question_id
        picked = await next_question(data, skip=attempt)
        if picked is None:
            return None
        cycle, question_id = picked
        if kept is None:
            if await data.store.daily.choose(key, question_id, cycle, data.clock()):
                log.info("daily question for %s: %s", key, question_id)
                return cycle, question_id
        elif await data.store.daily.replace_question(key, question_id, cycle):
            # it left the bank (/reload): a new one stands in for the rest of the day
            log.warning("daily question for %s left the bank; now %s", key, question_id)
            return cycle, question_id
    log.warning("daily question for %s: no choice after %d tries", key, CHOICE_TRIES)
    return None


async def peek_next(store: Store, bank: QuestionBank) -> tuple[int, str] | None:
    """What ``next_question`` would pick, changing nothing; None before the queue starts."""
    seed = await store.settings.get_kv(Key.QUEUE_SEED)
    if seed is None or not bank.questions:
        return None
    cycle = await _cycle(store)
    left = await _left_in(store, bank, seed, cycle)
    if not left:  # the cycle is done: the next one starts with no question posted
        cycle += 1
        left = schedule.cycle_queue(bank.questions, set(), seed, cycle, bank.related)
    return cycle, left[0]
