"""Live group games (contract §11) as use-cases: start, ask, refresh, answer, close, reveal,
podium, stop, and resume after a restart.

Over ~300 lines on purpose: one game's whole life, with its timing, in one place (its steps
and its jobs call each other). A member's press and /stop's permission are
``services.game_members``'s.

Timing: every deadline, refresh and delayed next question is a JobQueue job (``Tick``) run
at a time kept in the database (the question's ``opened_at``/``deadline`` and its planned
refreshes), never a sleep; at start ``restore`` rebuilds them. Each step of a game runs under
that game's lock, and the steps that must happen once (closing a question, ending the game)
are conditional UPDATEs, so a deadline and an early close, or a stop and the last reveal,
never both act. The group's budget (20 messages a minute, edits included) is planned by
``core.game`` from the times the game's messages actually went out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Chat, User
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.core import game as rules_game
from bot.core import rules
from bot.core.kinds import AskingKind
from bot.core.limits import CACHE_BOUND
from bot.db.games import Busy, Game
from bot.services.messages import edit, send
from bot.state.context import BotContext
from bot.ui import game as ui

log = logging.getLogger(__name__)

LATE_OK: dict[str, Any] = {"misfire_grace_time": None, "coalesce": False}


@dataclass(frozen=True, slots=True)
class Tick:
    """One timed step of a game, at a time of the bot's clock."""

    game_id: int
    position: int
    what: str  # "refresh" | "close" | "next" | "resume"
    at: datetime


def job_name(game_id: int) -> str:
    return f"game:{game_id}"


def lock(context: BotContext, game_id: int) -> asyncio.Lock:
    locks = context.bot_data.games.locks
    if len(locks) > CACHE_BOUND:  # locks of games long over; none is held between steps
        for key in [k for k, v in locks.items() if not v.locked()]:
            del locks[key]
    return locks.setdefault(game_id, asyncio.Lock())


def _schedule(job_queue: Any, now: datetime, tick: Tick) -> None:
    """Run ``tick`` at its time (the JobQueue runs on real time: the delay from the bot's
    clock). A close waits a moment more, for a press that arrived in time to be recorded."""
    delay = (tick.at - now).total_seconds()
    if tick.what == "close":
        delay += rules_game.CLOSE_GRACE.total_seconds()
    job_queue.run_once(
        job_tick, when=max(delay, 0.0), data=tick, name=job_name(tick.game_id), job_kwargs=LATE_OK
    )


def _unschedule(job_queue: Any, game_id: int) -> None:
    if job_queue is None:
        return
    for job in job_queue.get_jobs_by_name(job_name(game_id)):
        job.schedule_removal()


def _sent(context: BotContext, chat_id: int) -> None:
    """A game message went out in this group (counted for the budget)."""
    now = context.now().timestamp()
    book = context.bot_data.games.sent
    if len(book) > CACHE_BOUND:
        book.clear()
    book[chat_id] = [*rules_game.prune_sent(book.get(chat_id, []), now), now]


# ---------------------------------------------------------------- starting


async def start_game(
    context: BotContext,
    chat: Chat,
    user: User,
    *,
    topic: str | None,
    count: int,
    seconds: int,
    thread_id: int | None,
) -> None:
    store, now = context.store, context.now()
    candidates = [q for q in context.bank.in_topic(topic) if q.quizzable]
    ids = rules.pick_questions(candidates, set(), {}, count, context.data.rng)
    if not ids:
        await send(context, chat.id, ui.NO_QUESTIONS, message_thread_id=thread_id)
        return
    game_id = await store.games.start(
        chat_id=chat.id,
        thread_id=thread_id,
        starter_id=user.id,
        topic=topic,
        question_ids=ids,
        seconds=seconds,
        now=now,
    )
    if isinstance(game_id, Busy):
        busy = ui.RUNNING if game_id is Busy.GAME else ui.QUIZ_RUNNING
        await send(context, chat.id, busy, message_thread_id=thread_id)
        return
    log.info(
        "game %s started: chat=%s user=%s n=%d seconds=%d",
        game_id,
        chat.id,
        user.id,
        len(ids),
        seconds,
    )
    async with lock(context, game_id):
        await quietly(context, game_id, ask(context, game_id, 0))


async def end_quietly(context: BotContext, game_id: int, why: str) -> None:
    """The group cannot be written to any more: the game ends without a word there."""
    _unschedule(context.job_queue, game_id)
    if await context.store.games.end(game_id, "blocked", context.now()):
        log.info("game %s ended: the group cannot be reached (%s)", game_id, why)


RESUME_AFTER = timedelta(seconds=5)


async def quietly(context: BotContext, game_id: int, step: Any) -> None:
    """A game step, which never leaves its game stuck.

    A group that no longer lets the bot write (kicked, blocked: 403) or refuses the game's
    messages (its topic deleted or closed) ends the game quietly: nothing anyone could act
    on, one log line. A send or edit whose outcome is unknown (the request layer has retried
    what was safe to retry) resumes the game a moment later, as a restart would.
    """
    try:
        await step
    except (Forbidden, BadRequest) as exc:
        await end_quietly(context, game_id, exc.message)
    except NetworkError as exc:
        now = context.now()
        log.warning("game %s: %s; resuming in %s", game_id, exc, RESUME_AFTER)
        _schedule(context.job_queue, now, Tick(game_id, 0, "resume", now + RESUME_AFTER))


# ---------------------------------------------------------------- asking


async def ask(context: BotContext, game_id: int, position: int) -> None:
    """Send question ``position`` (or the podium after the last), within the group's budget:
    when it would break it, a ``next`` tick comes back at the earliest time it fits."""
    store, now = context.store, context.now()
    game = await store.games.get(game_id)
    if game is None or game.status != "active":
        return
    while position < game.total:  # questions that left the bank since the start are skipped
        q = context.bank.get(game.question_ids[position])
        if q is not None and q.quizzable:
            break
        position += 1
    sent = context.bot_data.games.sent.get(game.chat_id, [])
    now_s = now.timestamp()
    if position >= game.total:
        start = rules_game.earliest_start(sent, now_s, 1)
        if start > now_s:
            _schedule(context.job_queue, now, Tick(game_id, position, "next", _at(now, start)))
            return
        await finish(context, game, "finished")
        return
    plan = rules_game.plan_question(sent, now_s, game.seconds)
    if plan.start > now_s:
        _schedule(context.job_queue, now, Tick(game_id, position, "next", _at(now, plan.start)))
        return
    assert q is not None
    order = rules.shuffled_order(len(q.choices), context.data.rng)
    asking_id = await store.quizzes.create_asking(
        kind=AskingKind.GAME,
        question_id=q.id,
        order=order,
        choices_sig=q.choices_sig,
        now=now,
        position=position,
        chat_id=game.chat_id,
    )
    if not await store.games.add_question(game_id, position, asking_id):
        return  # asked already (a step that ran twice)
    rendered = ui.question(
        q,
        index=position,
        total=game.total,
        order=order,
        asking_id=asking_id,
        seconds_left=game.seconds,
        intro=ui.intro(game.total, game.seconds) if position == 0 else None,
    )
    message = await send(
        context,
        game.chat_id,
        rendered.text,
        reply_markup=rendered.keyboard,
        message_thread_id=game.thread_id,
    )
    opened = context.now()  # points count from here: the message is out
    _sent(context, message.chat.id)
    await store.quizzes.set_asking_message(asking_id, message.chat.id, message.message_id)
    deadline = opened + timedelta(seconds=game.seconds)
    await store.games.open_question(
        game_id, position, opened_at=opened, deadline=deadline, refreshes=plan.refreshes
    )
    _plan_ticks(context.job_queue, opened, game_id, position, opened, deadline, plan.refreshes)


def _at(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds - now.timestamp())


def _plan_ticks(  # noqa: PLR0917 - one question's times
    job_queue: Any,
    now: datetime,
    game_id: int,
    position: int,
    opened: datetime,
    deadline: datetime,
    refreshes: tuple[float, ...] | list[float],
) -> None:
    for offset in refreshes:
        at = opened + timedelta(seconds=offset)
        if now < at < deadline:
            _schedule(job_queue, now, Tick(game_id, position, "refresh", at))
    _schedule(job_queue, now, Tick(game_id, position, "close", max(deadline, now)))


async def refresh(context: BotContext, game_id: int, position: int) -> None:
    """Show the time left (and how many answered) on an open question."""
    store, now = context.store, context.now()
    game = await store.games.get(game_id)
    gq = await store.games.question(game_id, position)
    if game is None or game.status != "active" or gq is None or gq.closed_at is not None:
        return
    if gq.deadline is None or gq.deadline <= now:
        return
    asking = await store.quizzes.get_asking(gq.asking_id)
    if asking is None or asking.message_id is None or asking.chat_id is None:
        return
    q = context.bank.get(asking.question_id)
    if q is None or not q.quizzable:
        return
    answered = len(await store.games.answered(game_id, position))
    rendered = ui.question(
        q,
        index=position,
        total=game.total,
        order=asking.order,
        asking_id=asking.id,
        seconds_left=rules_game.seconds_left(gq.deadline, now),
        answered=answered,
        intro=ui.intro(game.total, game.seconds) if position == 0 else None,
    )
    await _edit(context, asking.chat_id, asking.message_id, rendered)


async def _edit(context: BotContext, chat_id: int, message_id: int, rendered: Any) -> None:
    """Edit a game's question; one that was deleted (by a group admin) does not stop the game."""
    try:
        await edit(context.bot, chat_id, message_id, rendered)
    except BadRequest as exc:
        log.info("game message %s in %s not edited: %s", message_id, chat_id, exc.message)
        return
    _sent(context, chat_id)


# ---------------------------------------------------------------- closing


async def close(context: BotContext, game_id: int, position: int) -> None:
    """Close a question (at its deadline, or early), reveal it, and go on. Under the game's
    lock; only the first of a deadline and an early close does it."""
    store, now = context.store, context.now()
    if not await store.games.close_question(game_id, position, now):
        return
    _unschedule(context.job_queue, game_id)  # its refreshes and its deadline
    game = await store.games.get(game_id)
    if game is None:
        return
    await _reveal(context, game, position)
    await ask(context, game_id, position + 1)


async def _reveal(context: BotContext, game: Game, position: int) -> None:
    store = context.store
    gq = await store.games.question(game.id, position)
    if gq is None:
        return
    asking = await store.quizzes.get_asking(gq.asking_id)
    if asking is None or asking.message_id is None or asking.chat_id is None:
        return  # its message never showed (a crash mid-send): nothing to edit
    q = context.bank.get(asking.question_id)
    if q is None or not q.quizzable:
        return
    rows = await store.games.answers(game.id, position)
    right = [(a.name or "someone", a.points) for a in rows if a.correct]
    wrong = [a.name or "someone" for a in rows if not a.correct]
    right.sort(key=lambda r: -r[1])
    rendered = ui.reveal(q, index=position, total=game.total, right=right, wrong=wrong)
    await _edit(context, asking.chat_id, asking.message_id, rendered)
    log.info("game %s question %d closed: %d answered", game.id, position + 1, len(rows))


async def finish(context: BotContext, game: Game, status: str) -> None:
    """End the game and post the podium (once: ending is a conditional UPDATE)."""
    store = context.store
    if not await store.games.end(game.id, status, context.now()):
        return
    _unschedule(context.job_queue, game.id)
    rows = await store.games.answers(game.id)
    standings = rules_game.podium(
        rules_game.totals(
            (a.user_id, a.name or "someone", a.correct, a.points, a.position * 1e6 + a.elapsed_ms)
            for a in rows
        )
    )
    last = await store.games.last_question(game.id)
    asked = 0 if last is None else last.position + 1
    text = ui.podium(standings, asked=asked, total=game.total, stopped=status == "stopped")
    await send(context, game.chat_id, text, message_thread_id=game.thread_id)
    _sent(context, game.chat_id)
    log.info("game %s %s: %d players", game.id, status, len(standings))


async def stop(context: BotContext, game: Game) -> None:
    """/stop: reveal the open question, then the podium so far."""
    async with lock(context, game.id):
        last = await context.store.games.last_question(game.id)
        open_position = last.position if last is not None and last.closed_at is None else None
        fresh = await context.store.games.get(game.id)
        if fresh is None or fresh.status != "active":
            return
        _unschedule(context.job_queue, game.id)

        async def steps() -> None:
            if open_position is not None and await context.store.games.close_question(
                game.id, open_position, context.now()
            ):
                await _reveal(context, fresh, open_position)
            await finish(context, fresh, "stopped")

        await quietly(context, game.id, steps())


# ---------------------------------------------------------------- jobs and restart


async def job_tick(context: BotContext) -> None:
    """A game's timed step: a refresh, a deadline, or a next question that waited."""
    assert context.job is not None
    tick: Tick = context.job.data  # type: ignore[assignment]
    async with lock(context, tick.game_id):
        if tick.what == "refresh":
            step = refresh(context, tick.game_id, tick.position)
        elif tick.what == "close":
            step = close(context, tick.game_id, tick.position)
        elif tick.what == "resume":
            step = _resume(context, tick.game_id)
        else:
            step = ask(context, tick.game_id, tick.position)
        await quietly(context, tick.game_id, step)


async def restore(job_queue: Any, store: Any, now: datetime) -> int:
    """At start: every active game goes on. An open question keeps its deadline (and its
    remaining refreshes); one whose deadline passed while the bot was down closes now."""
    games = await store.games.all_active()
    for game in games:
        await _resume_game(job_queue, store, game, now)
    return len(games)


async def _resume(context: BotContext, game_id: int) -> None:
    game = await context.store.games.get(game_id)
    if game is not None and game.status == "active":
        _unschedule(context.job_queue, game_id)
        await _resume_game(context.job_queue, context.store, game, context.now())


async def _resume_game(job_queue: Any, store: Any, game: Game, now: datetime) -> None:
    """Schedule what comes next for a game, from what the database says."""
    last = await store.games.last_question(game.id)
    if last is None:
        _schedule(job_queue, now, Tick(game.id, 0, "next", now))
    elif last.closed_at is not None:
        _schedule(job_queue, now, Tick(game.id, last.position + 1, "next", now))
    else:
        opened, deadline = last.opened_at, last.deadline
        if opened is None or deadline is None:  # stopped mid-send: it runs from now
            opened, deadline = now, now + timedelta(seconds=game.seconds)
            await store.games.open_question(
                game.id, last.position, opened_at=opened, deadline=deadline, refreshes=()
            )
        _plan_ticks(job_queue, now, game.id, last.position, opened, deadline, last.refreshes)
    log.info("game %s resumed at question %d", game.id, 1 + (last.position if last else 0))
