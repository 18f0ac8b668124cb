"""Quizzes in chat: /quiz, /review, /stop, and every press on a quiz or channel button."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import CallbackQuery, Chat, Update, User
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot.core import rules as quiz
from bot.core.models import Question
from bot.db import AnswerRecord, Asking, Session
from bot.runtime.context import BotContext, GroupRefresh
from bot.services.channel import NO_PREVIEW
from bot.ui import callback_data as cd
from bot.ui import render

log = logging.getLogger(__name__)

GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)

NOT_VALID = "This button is not valid any more."
QUIZ_OVER = "This quiz is over. /quiz starts a new one."
NOT_YOURS = "This is someone else's quiz: start your own with /quiz."
ALREADY = "You already answered this one (it counts once)."


def is_group(chat: Chat) -> bool:
    return chat.type in GROUP_TYPES


CACHE_LIMIT = 50_000


def follow_up(context: BotContext, update: Update, coroutine: Coroutine[Any, Any, None]) -> None:
    """Run what follows an answered press as its own task; errors reach the error handler."""
    context.application.create_task(coroutine, update=update)


def remember_name(context: BotContext, user_id: int, first_name: str) -> None:
    """The users row now holds this name: later answers need not upsert it again."""
    names = context.data.known_names
    if len(names) > CACHE_LIMIT:
        names.clear()
    names[user_id] = first_name


async def user_zone_day(context: BotContext, user_id: int) -> str:
    """Today's date in the user's /timezone (the bot's TIMEZONE by default)."""
    name = context.data.user_zones.get(user_id)  # every /timezone ever set, loaded at start
    zone = ZoneInfo(name) if name else context.settings.zone
    return quiz.local_day(context.now(), zone)


# ---------------------------------------------------------------- starting


async def cmd_quiz(update: Update, context: BotContext) -> None:
    """/quiz [topic] [count]: start a round of questions with buttons."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    topic_text, count = quiz.parse_quiz_args(context.args or [])
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
    await start_quiz(context, chat, user, topic=topic, count=count, kind="quiz")


async def cmd_review(update: Update, context: BotContext) -> None:
    """/review: ask exactly the questions whose spaced-repetition review is due."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    now = context.now()
    due = await context.store.answers.due_dates(user.id)
    candidates = [q for q in context.bank.questions.values() if q.quizzable]
    ids = quiz.pick_due(candidates, due, now)[: quiz.MAX_COUNT]
    if not ids:
        upcoming = sorted(d for qid, d in due.items() if qid in context.bank and d > now)
        if upcoming:
            wait = upcoming[0] - now
            await message.reply_text(
                f"Nothing is due for review right now. The next one is due in "
                f"{_humanize(wait)}. Meanwhile, /quiz brings new questions."
            )
        else:
            await message.reply_text(
                "Nothing to review yet: questions you answer in /quiz come back here when "
                "they are due (a miss within minutes, a right answer after days)."
            )
        return
    await start_quiz(context, chat, user, topic=None, count=len(ids), kind="review", ids=ids)


def _humanize(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return render.plural(max(minutes, 1), "minute")
    hours = minutes // 60
    if hours < 48:
        return render.plural(hours, "hour")
    return render.plural(hours // 24, "day")


async def start_quiz(
    context: BotContext,
    chat: Chat,
    user: User,
    *,
    topic: str | None,
    count: int,
    kind: str,
    ids: list[str] | None = None,
) -> None:
    store, now = context.store, context.now()
    group = is_group(chat)
    if ids is None:
        candidates = [q for q in context.bank.in_topic(topic) if q.quizzable]
        # A group gets a fresh random round; a learner gets unseen first, then what is due.
        seen = set() if group else await store.answers.seen_questions(user.id)
        due = {} if group else await store.answers.due_dates(user.id)
        ids = quiz.pick_questions(candidates, seen, due, count, context.data.rng)
    if not ids:
        await context.bot.send_message(chat.id, "There are no quiz questions here yet.")
        return
    await store.users.touch_user(user.id, user.first_name, now)
    session_id = await store.quizzes.start_session(
        chat_id=chat.id,
        user_id=None if group else user.id,
        kind=kind,
        topic=topic,
        question_ids=ids,
        now=now,
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
    await ask_current(context, session)


async def ask_current(context: BotContext, session: Session) -> None:
    """Send the session's current question as a new message, or finish the quiz."""
    prepared = await prepare_question(context, session)
    if prepared is None:
        await finish(context, session.id)
        return
    await context.bot.send_message(session.chat_id, prepared.text, reply_markup=prepared.keyboard)


async def prepare_question(context: BotContext, session: Session) -> render.Rendered | None:
    """Store the asking of the session's current question and render it; None when done.

    Questions that left the bank since the quiz started are skipped.
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
    order = quiz.shuffled_order(len(q.choices), context.data.rng)
    asking_id = await store.quizzes.create_asking(
        kind="quiz",
        question_id=q.id,
        order=order,
        choices_sig=q.choices_sig,
        now=now,
        session_id=session.id,
        position=position,
        chat_id=session.chat_id,
    )
    return render.quiz_question(
        q,
        index=position,
        total=session.total,
        order=order,
        asking_id=asking_id,
        group=session.user_id is None,
    )


async def finish(context: BotContext, session_id: int, status: str = "finished") -> None:
    store = context.store
    session = await store.quizzes.get_session(session_id)
    if session is None:
        return
    await store.quizzes.end_session(session_id, status, context.now())
    results = await store.quizzes.session_results(session_id)
    seconds = (context.now() - session.started_at).total_seconds()
    if session.user_id is None:
        await context.bot.send_message(session.chat_id, _group_summary(session, results))
        return
    right = sum(1 for r in results if r[3])
    wrong_ids = list(dict.fromkeys(r[2] for r in results if not r[3]))
    review = [q for qid in wrong_ids if (q := context.bank.get(qid)) is not None]
    more_on = None
    if session.kind == "practise" and session.question_ids:
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
    await context.bot.send_message(
        session.chat_id,
        rendered.text,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
    )


def _group_summary(session: Session, results: list[tuple[int, str, str, bool, int]]) -> str:
    per_user: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for user_id, name, _qid, correct, points in results:
        stats = per_user.setdefault(user_id, [0, 0, 0])
        stats[0] += int(correct)
        stats[1] += 1
        stats[2] += points
        names[user_id] = name
    lines = [f"🏁 <b>Quiz over</b> · {render.plural(session.total, 'question')}"]
    ranked = sorted(per_user.items(), key=lambda kv: (-kv[1][2], -kv[1][0]))
    medals = ["🥇", "🥈", "🥉"]
    for i, (user_id, (right, answered, points)) in enumerate(ranked):
        badge = medals[i] if i < len(medals) else f"{i + 1}."
        lines.append(
            f"{badge} {render.esc(names[user_id] or 'someone')}: {right}/{answered} right, "
            f"+{render.plural(points, 'point')}"
        )
    if not ranked:
        lines.append("Nobody answered this time.")
    lines.append("\n/leaderboard shows this group's standings · /quiz for another round")
    return "\n".join(lines)


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
    await finish(context, session.id, status="stopped")


# ---------------------------------------------------------------- presses


async def on_answer(update: Update, context: BotContext) -> None:
    """A press on an answer button (quiz, group quiz, channel post or admin preview)."""
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    data = cd.decode(query.data)
    if data is None or data.kind != cd.ANSWER:
        await query.answer(NOT_VALID)
        return
    asking, session = await context.store.quizzes.get_asking_and_session(data.int_arg(0))
    position = data.int_arg(1)
    if asking is None or position >= len(asking.order):
        await query.answer(NOT_VALID)
        return
    q = context.bank.get(asking.question_id)
    if q is None or not q.quizzable or q.choices_sig != asking.choices_sig:
        await query.answer(
            "This question has changed or left the bank since it was asked, so this press "
            "cannot be graded.",
            show_alert=True,
        )
        return
    if asking.kind == "channel":
        await _channel_answer(query, context, asking, q, position)
    elif asking.kind == "preview":
        chosen = asking.order[position]
        await query.answer(render.channel_alert(q, chosen, True), show_alert=True)
    else:
        await _quiz_answer(update, context, asking, session=session, q=q, position=position)


async def _channel_answer(
    query: CallbackQuery, context: BotContext, asking: Asking, q: Question, position: int
) -> None:
    user = query.from_user
    chosen = asking.order[position]
    correct = chosen == q.correct
    now = context.now()
    inserted = await context.store.answers.record_channel_answer(
        AnswerRecord(
            asking_id=asking.id,
            user_id=user.id,
            first_name=user.first_name,
            chat_id=asking.chat_id or 0,
            question_id=q.id,
            source="channel",
            choice=chosen,
            correct=correct,
            points=0,  # the answer is one tap away in the post: no leaderboard points
            now=now,
            local_day=await user_zone_day(context, user.id),
        ),
        upsert_user=context.data.known_names.get(user.id) != user.first_name,
    )
    if inserted:
        remember_name(context, user.id, user.first_name)
    await query.answer(render.channel_alert(q, chosen, inserted), show_alert=True)
    if inserted:
        posts = context.data.asking_posts
        if asking.id not in posts:
            post = await context.store.channel.post_by_asking(asking.id)
            if len(posts) > CACHE_LIMIT:
                posts.clear()
            posts[asking.id] = post.id if post is not None else None
        post_id = posts[asking.id]
        if post_id is not None:
            context.data.dirty_tallies.add(post_id)


async def _quiz_answer(
    update: Update,
    context: BotContext,
    asking: Asking,
    *,
    session: Session | None,
    q: Question,
    position: int,
) -> None:
    query = update.callback_query
    assert query is not None
    store, user, now = context.store, query.from_user, context.now()
    if session is None or session.status != "active" or asking.closed:
        await query.answer(QUIZ_OVER)
        return
    group = session.user_id is None
    if not group and session.user_id != user.id:
        await query.answer(NOT_YOURS, show_alert=True)
        return
    if session.updated_at < now - timedelta(minutes=context.settings.quiz_expiry_minutes):
        await store.quizzes.end_session(session.id, "expired", now)
        await query.answer("This quiz expired after a long pause. /quiz starts a new one.")
        return
    if asking.position != session.position:
        await query.answer(ALREADY if not group else QUIZ_OVER)
        return
    chosen = asking.order[position]
    correct = chosen == q.correct
    points = quiz.points_for(q, correct)
    review = quiz.next_review(await store.answers.review_state(user.id, q.id), correct, now)
    inserted = await store.answers.record_answer(
        AnswerRecord(
            asking_id=asking.id,
            user_id=user.id,
            first_name=user.first_name,
            chat_id=session.chat_id,
            question_id=q.id,
            source="quiz",
            choice=chosen,
            correct=correct,
            points=points,
            now=now,
            local_day=await user_zone_day(context, user.id),
            review=review,
        ),
        advance_session=None if group else session.id,
        upsert_user=context.data.known_names.get(user.id) != user.first_name,
    )
    if not inserted:
        await query.answer(ALREADY)
        return
    remember_name(context, user.id, user.first_name)
    log.info("answer: user=%s question=%s correct=%s", user.id, q.id, correct)
    if group:
        await _group_answered(update, context, asking, q, session, correct=correct)
        return
    # Committed above: only now is the user told.
    await query.answer("✅ Right!" if correct else "❌ Not quite")
    # The edit may wait in the flood limiter: run it beside this update, so the next press
    # (anyone's) is answered at once instead of queueing behind throttled sends.
    follow_up(
        context, update, _show_next(query, context, asking, session, q, position, points, correct)
    )


async def _show_next(  # noqa: PLR0917 - the state of one press, passed on as it is
    query: CallbackQuery,
    context: BotContext,
    asking: Asking,
    session: Session,
    q: Question,
    position: int,
    points: int,
    correct: bool,
) -> None:
    now = context.now()
    feedback = render.quiz_feedback(
        q,
        order=asking.order,
        chosen_position=position,
        points=points,
        asking_id=asking.id,
        bot_username=context.bot.username,
    )
    # Committed above: the session moved one on, and counted a right answer.
    fresh = dataclasses.replace(
        session,
        position=session.position + 1,
        right_count=session.right_count + int(correct),
        updated_at=now,
    )
    upcoming = await prepare_question(context, fresh)
    if upcoming is None:
        await _edit(query, feedback)
        await finish(context, session.id)
        return
    # One edit shows the feedback and the next question: half the messages of a new message
    # per question, which keeps a fast learner within about one message a second per chat.
    await _edit(query, render.stack(feedback, upcoming))


async def _group_answered(
    update: Update,
    context: BotContext,
    asking: Asking,
    q: Question,
    session: Session,
    *,
    correct: bool,
) -> None:
    """Tell the presser privately (an alert), show the group who has answered so far."""
    query = update.callback_query
    assert query is not None
    head = "✅ Right!" if correct else "❌ Not quite."
    await query.answer(render.alert(f"{head} {q.explanation or ''}".strip()), show_alert=True)
    follow_up(context, update, _show_answered(query, context, asking, q, session))


async def _show_answered(
    query: CallbackQuery, context: BotContext, asking: Asking, q: Question, session: Session
) -> None:
    """Refresh "Answered: …" under a group question, coalescing a burst of presses.

    Edits in a group wait in the flood limiter (20 a minute), so one edit at a time runs per
    question and, when it is done, one more shows everyone who pressed meanwhile.
    """
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
            await _edit(query, rendered)
            if not state.again:
                break
            state.again = False
    finally:
        edits.pop(asking.id, None)
        state.done.set()


async def on_next(update: Update, context: BotContext) -> None:
    """Group quiz: reveal the answer and move everyone on (the first press wins)."""
    query = update.callback_query
    if query is None:
        return
    data = cd.decode(query.data)
    asking = await context.store.quizzes.get_asking(data.int_arg(0)) if data else None
    if asking is None or asking.session_id is None or asking.position is None:
        await query.answer(NOT_VALID)
        return
    store, now = context.store, context.now()
    session = await store.quizzes.get_session(asking.session_id)
    if session is None or session.status != "active" or session.position != asking.position:
        await query.answer("Already moved on.")
        return
    if not await store.quizzes.advance_session(session.id, asking.position, now):
        await query.answer("Already moved on.")
        return
    await store.quizzes.close_asking(asking.id)
    await query.answer()
    # A pending "Answered: …" refresh must not land after (and so over) the reveal.
    refresh = context.data.group_edits.get(asking.id)
    if refresh is not None:
        refresh.again = False
        await refresh.done.wait()
    q = context.bank.get(asking.question_id)
    if q is not None and q.quizzable:
        answered = [
            (n or "someone", ok) for _u, n, ok in await store.quizzes.asking_answers(asking.id)
        ]
        rendered = render.group_reveal(
            q, index=asking.position, total=session.total, answered=answered, asking_id=asking.id
        )
        await _edit(query, rendered)
    fresh = await store.quizzes.get_session(session.id)
    if fresh is None:
        return
    if fresh.position >= fresh.total:
        await finish(context, session.id)
    else:
        await ask_current(context, fresh)


async def on_more(update: Update, context: BotContext) -> None:
    """ "More on <topic>": a quiz on the topic of the question just practised."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    data = cd.decode(query.data)
    q = context.bank.get(data.args[0]) if data else None
    if q is None:
        await query.answer(NOT_VALID)
        return
    await query.answer()
    chat = query.message.chat
    await start_quiz(
        context, chat, query.from_user, topic=q.topic, count=quiz.DEFAULT_COUNT, kind="quiz"
    )


async def practise(context: BotContext, chat: Chat, user: User, q: Question) -> None:
    """``/start q_<id>``: ask this very question as a scored quiz, then offer its topic."""
    await start_quiz(context, chat, user, topic=q.topic, count=1, kind="practise", ids=[q.id])


async def _edit(query: CallbackQuery, rendered: render.Rendered) -> None:
    try:
        await query.edit_message_text(
            rendered.text, reply_markup=rendered.keyboard, link_preview_options=NO_PREVIEW
        )
    except BadRequest as exc:
        # A double press can race to the same edit; Telegram answers "message is not modified".
        if "not modified" not in str(exc).lower():
            raise
