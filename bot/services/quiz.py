"""Quizzes as use-cases: start, ask, grade and record, show the next question, finish.

Over ~300 lines on purpose: one quiz's whole life (start, ask, grade, show, finish) in one place.

Handlers call these with what they were given; these call the pure rules (``core.rules``),
the store and the renderer, and send or edit messages through the bot.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from enum import Enum

from telegram import Chat, User

from bot.core import rules, srs
from bot.core.kinds import AskingKind, SessionKind
from bot.core.models import Question
from bot.db import AnswerRecord, Asking, Session
from bot.services.messages import NO_PREVIEW, edit, is_group, send
from bot.services.presses import ChoicePress
from bot.state.context import BotContext, GroupRefresh
from bot.ui import callback_data as cd
from bot.ui import render

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- starting and asking


async def start_quiz(
    context: BotContext,
    chat: Chat,
    user: User,
    *,
    topic: str | None,
    count: int,
    kind: SessionKind,
    ids: list[str] | None = None,
    thread_id: int | None = None,
) -> None:
    """Start a quiz; ``thread_id``: the forum topic it was asked for in (its messages go there)."""
    session = await begin_quiz(
        context, chat, user, topic=topic, count=count, kind=kind, ids=ids, thread_id=thread_id
    )
    await ask_first(context, chat.id, session, thread_id)


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
    """Open the quiz's session (stopping the chat's other one), or None with nothing to ask.

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
    # Its buttons are honoured on this message only (services.presses).
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
    rendered = render.quiz_question(
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
            render.group_summary(session.total, group_standings(results)),
            message_thread_id=session.thread_id,
        )
        return
    right = sum(1 for r in results if r[3])
    wrong_ids = list(dict.fromkeys(r[2] for r in results if not r[3]))
    review = [q for qid in wrong_ids if (q := context.bank.get(qid)) is not None]
    more_on = None
    if session.kind == SessionKind.PRACTISE and session.question_ids:
        more_on = context.bank.get(session.question_ids[0])
    rendered = render.quiz_summary(
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


def group_standings(results: list[tuple[int, str, str, bool, int]]) -> list[render.Standing]:
    """Who answered a group quiz, best first: most points, then most right answers."""
    per_user: dict[int, render.Standing] = {}
    for user_id, name, _qid, correct, points in results:
        was = per_user.get(user_id) or render.Standing(name, 0, 0, 0)
        per_user[user_id] = render.Standing(
            name, was.right + int(correct), was.answered + 1, was.points + points
        )
    return sorted(per_user.values(), key=lambda s: (-s.points, -s.right))


# ---------------------------------------------------------------- answering


def shown_on(asking: Asking) -> tuple[int, int]:
    """The chat and message an admitted press's asking is shown in (the door checked it)."""
    assert asking.chat_id is not None
    assert asking.message_id is not None
    return asking.chat_id, asking.message_id


class Graded(Enum):
    RECORDED = "recorded"
    OVER = "over"
    EXPIRED = "expired"
    ALREADY = "already"


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    outcome: Graded
    correct: bool = False
    points: int = 0
    back_in: timedelta | None = None  # when FSRS brings the question back, from the press


async def record_quiz_answer(context: BotContext, press: ChoicePress, q: Question) -> Answer:
    """Record a quiz press the door graded, exactly once; returns only after COMMIT."""
    data, user, asking, session = context.bot_data, press.user, press.asking, press.session
    store, now = data.store, data.clock()
    zone, upsert_user = data.zone_of(user.id), not data.knows_name(user.id, user.first_name)
    if session.status != "active" or asking.closed:
        return Answer(Graded.OVER)
    # A daily question may be answered whenever its day allows: it never expires.
    expiry = timedelta(minutes=data.settings.quiz_expiry_minutes)
    if session.kind != SessionKind.DAILY and session.updated_at < now - expiry:
        await store.quizzes.end_session(session.id, "expired", now)
        return Answer(Graded.EXPIRED)
    group = session.user_id is None
    if asking.position != session.position:
        return Answer(Graded.OVER if group else Graded.ALREADY)
    correct = press.correct
    points, day = rules.points_for(q, correct), rules.local_day(now, zone)
    review = srs.review(await store.answers.card(user.id, q.id), correct, now)
    inserted = await store.answers.record_answer(
        AnswerRecord(
            asking_id=asking.id,
            user_id=user.id,
            first_name=user.first_name,
            chat_id=session.chat_id,
            question_id=q.id,
            source="quiz",
            choice=press.chosen,
            correct=correct,
            points=points,
            now=now,
            local_day=day,
            review=review,
        ),
        advance_session=None if group else session.id,
        upsert_user=upsert_user,
    )
    if not inserted:
        return Answer(Graded.ALREADY)
    data.remember_name(user.id, user.first_name)
    log.info("answer: user=%s question=%s correct=%s", user.id, q.id, correct)
    return Answer(Graded.RECORDED, correct, points, review.due_at - now)


async def show_next(  # noqa: PLR0917 - one press's state, passed on as it is
    context: BotContext,
    asking: Asking,
    session: Session,
    q: Question,
    position: int,
    answer: Answer,
) -> None:
    """After a private answer: one edit shows the feedback and the next question."""
    chat_id, message_id = shown_on(asking)
    # Committed: the session moved one on, and counted a right answer.
    fresh = dataclasses.replace(
        session,
        position=session.position + 1,
        right_count=session.right_count + int(answer.correct),
        updated_at=context.now(),
    )
    upcoming = await prepare_question(context, fresh, message_id=message_id)
    feedback = render.quiz_feedback(
        q,
        order=asking.order,
        chosen_position=position,
        points=answer.points,
        asking_id=asking.id,
        bot_username=context.bot.username,
        back_in=answer.back_in,
        # Above the next question only its choices are shown: two sets of choice buttons
        # under one message read as one question with too many answers.
        choices=upcoming is None,
    )
    if upcoming is None:
        await edit(context.bot, chat_id, message_id, feedback)
        await finish(context, session.id)
        return
    # Half the messages of a new message per question keeps a fast learner within about one
    # message a second per chat.
    await edit(context.bot, chat_id, message_id, render.stack(feedback, upcoming[1]))


async def show_answered(
    context: BotContext, asking: Asking, q: Question, session: Session
) -> None:
    """Refresh "Answered: …" under a group question, coalescing a burst of presses.

    Edits in a group wait in the flood limiter (20 a minute), so one edit at a time runs per
    question and, when it is done, one more shows everyone who pressed meanwhile.
    """
    chat_id, message_id = shown_on(asking)
    edits = context.data.group_edits
    running = edits.get(asking.id)
    if running is not None:
        running.again = True  # the running refresh goes round once more
        return
    state = edits[asking.id] = GroupRefresh()
    try:
        while True:
            rows = await context.store.quizzes.asking_answers(asking.id)
            rendered = render.quiz_question(
                q,
                index=session.position,
                total=session.total,
                order=asking.order,
                asking_id=asking.id,
                group=True,
                answered=[name or "someone" for _uid, name, _ok in rows],
            )
            await edit(context.bot, chat_id, message_id, rendered)
            if not state.again:
                break
            state.again = False
    finally:
        edits.pop(asking.id, None)
        state.done.set()


async def move_group_on(context: BotContext, asking: Asking, session: Session) -> bool:
    """ "Next" in a group: the first press wins; False if someone already moved on."""
    assert asking.position is not None
    store = context.store
    if session.status != "active" or session.position != asking.position:
        return False
    if not await store.quizzes.advance_session(session.id, asking.position, context.now()):
        return False
    await store.quizzes.close_asking(asking.id)
    return True


async def reveal_and_continue(context: BotContext, asking: Asking, session: Session) -> None:
    """Show the key and who got it right, then the next question or the summary."""
    assert asking.position is not None
    chat_id, message_id = shown_on(asking)
    store = context.store
    # A pending "Answered: …" refresh must not land after (and so over) the reveal.
    refresh = context.data.group_edits.get(asking.id)
    if refresh is not None:
        refresh.again = False
        await refresh.done.wait()
    q = context.bank.get(asking.question_id)
    if q is not None and q.quizzable:
        rows = await store.quizzes.asking_answers(asking.id)
        rendered = render.group_reveal(
            q,
            index=asking.position,
            total=session.total,
            answered=[(n or "someone", ok) for _u, n, ok in rows],
            asking_id=asking.id,
        )
        await edit(context.bot, chat_id, message_id, rendered)
    fresh = await store.quizzes.get_session(session.id)
    if fresh is None:
        return
    if fresh.position >= fresh.total:
        await finish(context, session.id)
    else:
        await ask_current(context, fresh)
