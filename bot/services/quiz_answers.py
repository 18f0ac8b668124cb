"""A quiz's answers as use-cases: record a press the door graded (once, after COMMIT), then
what follows it: privately the feedback and the next question in one edit; in a group the
"Answered: …" refresh, "Next" (the first press wins) and the reveal.

Starting, asking and finishing a quiz are ``services.quiz``'s.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta
from enum import Enum

from bot.core import rules
from bot.core.kinds import SessionKind
from bot.core.models import Question
from bot.db import AnswerRecord, Asking, Session
from bot.services.messages import edit
from bot.services.presses import ChoicePress
from bot.services.quiz import ask_current, finish, prepare_question
from bot.state.context import BotContext, GroupRefresh
from bot.ui import quiz_view

log = logging.getLogger(__name__)


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
    zone = data.zone_of(user.id)
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
    recorded = await store.answers.record_answer(
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
            review=True,  # its FSRS card, reviewed in the answer's transaction
        ),
        advance_session=None if group else session.id,
    )
    if recorded is None:
        return Answer(Graded.ALREADY)
    log.info("answer: user=%s question=%s correct=%s", user.id, q.id, correct)
    assert recorded.due_at is not None  # reviewed
    return Answer(Graded.RECORDED, correct, points, recorded.due_at - now)


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
    feedback = quiz_view.quiz_feedback(
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
    await edit(context.bot, chat_id, message_id, quiz_view.stack(feedback, upcoming[1]))


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
            rendered = quiz_view.quiz_question(
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
        rendered = quiz_view.group_reveal(
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
