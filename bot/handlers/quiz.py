"""Quizzes in chat: /quiz, /review, /stop, and presses on a quiz's choices and "More on"."""

from __future__ import annotations

from telegram import Update

from bot.core import rules
from bot.core.kinds import SessionKind
from bot.services import quiz, quiz_answers
from bot.services.messages import is_group, topic_of
from bot.services.presses import ChoicePress, DonePress, MorePress, NextPress, Reply
from bot.state.context import BotContext
from bot.ui import render

USAGE = "Usage: /quiz [topic] [count], with a count from 1 to 20, e.g. /quiz asyncio 10"
QUIZ_OVER = "This quiz is over. /quiz starts a new one."
ALREADY = "You already answered this one (it counts once)."
EXPIRED = "This quiz expired after a long pause. /quiz starts a new one."
CHANGED = (
    "This question has changed or left the bank since it was asked, so this press cannot be "
    "graded."
)


async def cmd_quiz(update: Update, context: BotContext) -> None:
    """/quiz [topic] [count]: start a round of questions with buttons."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    try:
        topic_text, count = rules.parse_quiz_args(context.args or [])
    except ValueError:
        await message.reply_text(USAGE)
        return
    topic: str | None = None
    if topic_text:
        topic_text = topic_text[:40]  # user text: echoed back, so bounded
        matches = context.bank.match_topic(topic_text)
        if len(matches) != 1:
            listing = "\n".join(f"• {render.esc(t)}" for t in context.bank.topics)
            example = context.bank.topics[0].split()[0].lower()
            if matches:
                head = f"“{render.esc(topic_text)}” matches several topics; pick one:"
                listing = "\n".join(f"• {render.esc(t)}" for t in matches)
            else:
                head = f"No topic matches “{render.esc(topic_text)}”. The topics are:"
            await message.reply_text(
                f"{head}\n{listing}\n\nFor example: /quiz {render.esc(example)} 5"
            )
            return
        topic = matches[0]
    await quiz.start_quiz(
        context,
        chat,
        user,
        topic=topic,
        count=count,
        kind=SessionKind.QUIZ,
        thread_id=topic_of(message),
    )


async def cmd_review(update: Update, context: BotContext) -> None:
    """/review: ask exactly the questions whose spaced-repetition review is due."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    now = context.now()
    due = await context.store.answers.due_dates(user.id)
    candidates = [q for q in context.bank.questions.values() if q.quizzable]
    ids = rules.pick_due(candidates, due, now, related=context.bank.related)[: rules.MAX_COUNT]
    if not ids:
        upcoming = sorted(d for qid, d in due.items() if qid in context.bank and d > now)
        if upcoming:
            await message.reply_text(
                f"Nothing is due for review right now. The next one is due in "
                f"{render.humanize(upcoming[0] - now)}. Meanwhile, /quiz brings new questions."
            )
        else:
            await message.reply_text(
                "Nothing to review yet: questions you answer in /quiz come back here when "
                "they are due (a miss within minutes, a right answer after days)."
            )
        return
    await quiz.start_quiz(
        context,
        chat,
        user,
        topic=None,
        count=len(ids),
        kind=SessionKind.REVIEW,
        ids=ids,
        thread_id=topic_of(message),
    )


async def cmd_stop(update: Update, context: BotContext) -> None:
    """/stop: end the quiz running in this chat."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    session = await context.store.quizzes.active_session(
        chat.id, None if is_group(chat) else user.id
    )
    if session is None:
        await message.reply_text("There is no quiz running here. /quiz starts one.")
        return
    await quiz.finish(context, session.id, status="stopped")


async def on_choice(context: BotContext, press: ChoicePress) -> Reply:
    """A choice under a quiz question (private or group), admitted and graded by the door."""
    q, asking, session = press.question, press.asking, press.session
    if q is None:
        return Reply(CHANGED, alert=True)
    answer = await quiz_answers.record_quiz_answer(context, press, q)
    if answer.outcome is quiz_answers.Graded.OVER:
        return Reply(QUIZ_OVER)
    if answer.outcome is quiz_answers.Graded.EXPIRED:
        return Reply(EXPIRED)
    if answer.outcome is quiz_answers.Graded.ALREADY:
        return Reply(ALREADY)
    # Committed above: only now is the user told, and what follows runs whatever happens to
    # the answer (lost, refused as too old): the press counted.
    if session.user_id is None:
        head = "✅ Right!" if answer.correct else "❌ Not quite."
        return Reply(
            render.alert(f"{head} {q.explanation or ''}".strip()),
            alert=True,
            then=quiz_answers.show_answered(context, asking, q, session),
        )
    return Reply(
        "✅ Right!" if answer.correct else "❌ Not quite",
        then=quiz_answers.show_next(context, asking, session, q, press.position, answer),
    )


async def on_done(_: BotContext, __: DonePress) -> Reply:
    """A choice of an already answered question, kept coloured under its feedback: inert."""
    return Reply(ALREADY)


async def on_next(context: BotContext, press: NextPress) -> Reply:
    """Group quiz: reveal the answer and move everyone on (the first press wins)."""
    asking, session = press.asking, press.session
    if not await quiz_answers.move_group_on(context, asking, session):
        return Reply("Already moved on.")
    return Reply(then=quiz_answers.reveal_and_continue(context, asking, session))


async def on_more(context: BotContext, press: MorePress) -> Reply:
    """ "More on <topic>": a quiz on the topic of the question just practised."""
    q = context.bank.get(press.question_id)
    if q is None:
        return Reply("That question has left the bank.")
    # The session opens now, in the presser's order (a later press on the old quiz meets it
    # stopped); only the first question's send follows the press.
    message = press.message
    thread_id = topic_of(message)
    session = await quiz.begin_quiz(
        context,
        message.chat,
        press.user,
        topic=q.topic,
        count=rules.DEFAULT_COUNT,
        kind=SessionKind.QUIZ,
        thread_id=thread_id,
    )
    return Reply(then=quiz.ask_first(context, message.chat.id, session, thread_id))
