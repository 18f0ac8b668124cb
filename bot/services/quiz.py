"""Quizzes as use-cases: start, ask, finish (its answers are ``services.quiz_answers``'s).

Handlers call these with what they were given; these call the pure rules (``core.rules``),
the store and the renderer, and send or edit messages through the bot.
"""

from __future__ import annotations

import logging
from typing import NotRequired, TypedDict, Unpack

from telegram import Chat, User

from bot.core import rules
from bot.core.kinds import AskingKind, SessionKind
from bot.core.models import Question
from bot.db import Session
from bot.services.messages import NO_PREVIEW, is_group, send
from bot.state.context import BotContext
from bot.ui import callback_data as cd
from bot.ui import game as game_ui
from bot.ui import quiz_view, render

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- starting and asking


class QuizPlan(TypedDict):
    """What a quiz is asked to be: ``begin_quiz``'s keywords (``start_quiz`` passes them on)."""

    topic: str | None
    count: int
    kind: SessionKind
    ids: NotRequired[list[str] | None]
    thread_id: NotRequired[int | None]  # the forum topic it was asked in (its messages go there)


class GameRunning(Exception):
    """A group's live game holds its round: no quiz there until it ends."""


async def start_quiz(
    context: BotContext, chat: Chat, user: User, **plan: Unpack[QuizPlan]
) -> None:
    """Start a quiz: open its session (``begin_quiz``) and send its first question."""
    try:
        session = await begin_quiz(context, chat, user, **plan)
    except GameRunning:
        await send(context, chat.id, game_ui.GAME_RUNNING, message_thread_id=plan.get("thread_id"))
        return
    await ask_first(context, chat.id, session, plan.get("thread_id"))


async def begin_quiz(
    context: BotContext,
    chat: Chat,
    user: User,
    *,
    topic: str | None,
    count: int,
    kind: SessionKind,
    ids: list[str] | None = None,
    thread_id: int | None = None,
) -> Session | None:
    """Open the quiz's session (stopping the chat's other one), or None with nothing to ask;
    ``GameRunning`` in a group whose live game runs (one round at a time).

    Split from the first send so that a press can change the state in its user's order and
    leave only the send to what follows the press (a press never waits on a send).
    """
    store, now = context.store, context.now()
    group = is_group(chat)
    if ids is None:
        candidates = [q for q in context.bank.in_topic(topic) if q.quizzable]
        # A group gets a fresh random round; a learner gets unseen first, then what is due.
        seen = set() if group else await store.answers.seen_questions(user.id)
        due = {} if group else await store.answers.due_dates(user.id)
        ids = rules.pick_questions(
            candidates, seen, due, count, context.data.rng, related=context.bank.related
        )
    if not ids:
        return None
    if not user.is_bot:  # an anonymous admin's placeholder account is nobody's profile
        await store.users.touch_user(user.id, user.first_name, now)
    session_id = await store.quizzes.start_session(
        chat_id=chat.id,
        user_id=None if group else user.id,
        kind=kind,
        topic=topic,
        question_ids=ids,
        now=now,
        thread_id=thread_id,
    )
    if session_id is None:
        raise GameRunning
    log.info(
        "quiz %s started: chat=%s user=%s kind=%s n=%d",
        session_id,
        chat.id,
        user.id,
        kind,
        len(ids),
    )
    session = await store.quizzes.get_session(session_id)
    assert session is not None
    return session


async def ask_first(
    context: BotContext, chat_id: int, session: Session | None, thread_id: int | None
) -> None:
    """Send a begun quiz's first question, or say there is nothing to ask."""
    if session is None:
        await send(
            context, chat_id, "There are no quiz questions here yet.", message_thread_id=thread_id
        )
        return
    await ask_current(context, session)


async def practise(context: BotContext, chat: Chat, user: User, q: Question) -> None:
    """``/start q_<id>``: ask this very question as a scored quiz, then offer its topic."""
    await start_quiz(
        context, chat, user, topic=q.topic, count=1, kind=SessionKind.PRACTISE, ids=[q.id]
    )


async def ask_current(context: BotContext, session: Session) -> None:
    """Send the session's current question as a new message, or finish the quiz."""
    prepared = await prepare_question(context, session)
    if prepared is None:
        await finish(context, session.id)
        return
    asking_id, rendered = prepared
    sent = await send(
        context,
        session.chat_id,
        rendered.text,
        reply_markup=rendered.keyboard,
        message_thread_id=session.thread_id,
    )
    # Its buttons are honoured on this message only (services.door).
    await context.store.quizzes.set_asking_message(asking_id, sent.chat.id, sent.message_id)


async def prepare_question(
    context: BotContext, session: Session, *, message_id: int | None = None
) -> tuple[int, render.Rendered] | None:
    """Store the asking of the session's current question and render it; None when done.

    ``message_id``: the message it will be shown in by an edit. Questions that left the bank
    since the quiz started are skipped.
    """
    store, now = context.store, context.now()
    position = session.position
    while position < session.total:
        q = context.bank.get(session.question_ids[position])
        if q is not None and q.quizzable:
            break
        # The bank was reloaded without this question: move past it.
        await store.quizzes.advance_session(session.id, position, now)
        position += 1
    if position >= session.total:
        return None
    assert q is not None
    order = rules.shuffled_order(len(q.choices), context.data.rng)
    asking_id = await store.quizzes.create_asking(
        kind=AskingKind.QUIZ,
        question_id=q.id,
        order=order,
        choices_sig=q.choices_sig,
        now=now,
        session_id=session.id,
        position=position,
        chat_id=session.chat_id,
        message_id=message_id,
    )
    rendered = quiz_view.quiz_question(
        q,
        index=position,
        total=session.total,
        order=order,
        asking_id=asking_id,
        group=session.user_id is None,
    )
    return asking_id, rendered


async def finish(context: BotContext, session_id: int, status: str = "finished") -> None:
    store = context.store
    session = await store.quizzes.get_session(session_id)
    if session is None:
        return
    await store.quizzes.end_session(session_id, status, context.now())
    results = await store.quizzes.session_results(session_id)
    seconds = (context.now() - session.started_at).total_seconds()
    if session.user_id is None:
        await send(
            context,
            session.chat_id,
            quiz_view.group_summary(session.total, group_standings(results)),
            message_thread_id=session.thread_id,
        )
        return
    right = sum(1 for r in results if r[3])
    wrong_ids = list(dict.fromkeys(r[2] for r in results if not r[3]))
    review = [q for qid in wrong_ids if (q := context.bank.get(qid)) is not None]
    more_on = None
    if session.kind == SessionKind.PRACTISE and session.question_ids:
        more_on = context.bank.get(session.question_ids[0])
    rendered = quiz_view.quiz_summary(
        right=right,
        total=len(results) if status != "finished" else session.total,
        seconds=seconds,
        points=sum(r[4] for r in results),
        review=review,
        bot_username=context.bot.username,
        more_on=more_on,
    )
    log.info("quiz %s %s: %d/%d right", session_id, status, right, session.total)
    sent = await context.bot.send_message(
        session.chat_id,
        rendered.text,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
        message_thread_id=session.thread_id,
    )
    buttons = cd.keyboard_data(rendered.keyboard)
    if buttons:  # "More on …": pressable on this message, by this learner only
        await store.keyboards.remember(
            sent.chat.id, sent.message_id, session.user_id, buttons, context.now()
        )


def group_standings(results: list[tuple[int, str, str, bool, int]]) -> list[quiz_view.Standing]:
    """Who answered a group quiz, best first: most points, then most right answers."""
    per_user: dict[int, quiz_view.Standing] = {}
    for user_id, name, _qid, correct, points in results:
        was = per_user.get(user_id) or quiz_view.Standing(name, 0, 0, 0)
        per_user[user_id] = quiz_view.Standing(
            name, was.right + int(correct), was.answered + 1, was.points + points
        )
    return sorted(per_user.values(), key=lambda s: (-s.points, -s.right))
