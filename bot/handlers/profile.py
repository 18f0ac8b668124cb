"""A learner's own data: /score, /progress, /leaderboard, /topics, /timezone, /forget, reports,
hiding."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode

from bot.config import parse_zone
from bot.core import rules
from bot.db import totals
from bot.services import pictures, reports
from bot.services.messages import edit, follow_up, is_group, reply_bound
from bot.services.presses import ForgetPress, HidePress, ProgressPress, Reply, ReportPress
from bot.state.context import BotContext
from bot.ui import captions, render, score_view

log = logging.getLogger(__name__)


async def topic_progress(context: BotContext, user_id: int) -> list[score_view.TopicProgress]:
    per_question = {qid: (n, r) for qid, n, r in await context.store.stats.per_question(user_id)}
    out = []
    for topic in context.bank.topics:
        qs = [q for q in context.bank.in_topic(topic) if q.quizzable]
        if not qs:
            continue
        seen = [per_question[q.id] for q in qs if q.id in per_question]
        out.append(
            score_view.TopicProgress(
                topic=topic,
                questions=len(qs),
                seen=len(seen),
                answered=sum(n for n, _ in seen),
                right=sum(r for _, r in seen),
            )
        )
    return out


async def cmd_score(update: Update, context: BotContext) -> None:
    """/score: points · answered · right · accuracy, then streaks and topics."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    store, now = context.store, context.now()
    points, answered, right = await store.stats.score(user.id, "quiz")
    _, ch_answered, ch_right = await store.stats.score(user.id, "channel")
    zone = context.data.zone_of(user.id)
    current, best = rules.streaks(
        await store.stats.answer_days(user.id), rules.local_day(now, zone)
    )
    due = await store.answers.due_dates(user.id)
    n_due = sum(1 for qid, d in due.items() if d <= now and qid in context.bank)
    text = score_view.score_text(
        points=points,
        answered=answered,
        right=right,
        streak=current,
        best=best,
        channel=(ch_answered, ch_right),
        due=n_due,
        topics=await topic_progress(context, user.id),
    )
    chat = update.effective_chat
    if chat is None or chat.id != user.id:  # the picture is one's own business: private only
        await message.reply_text(text)
        return
    await reply_bound(context, message, user.id, text, score_view.progress_keyboard())


async def cmd_progress(update: Update, context: BotContext) -> None:
    """/progress: a picture of the learner's last 30 days and topics, in private chat."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    if chat.id != user.id:
        await message.reply_text("Send /progress in a private chat with me.")
        return
    # Drawn and sent as a follow-up: the drawing waits for its worker, not in an update slot.
    follow_up(context, update, send_progress(context, user.id, user.first_name))


async def send_progress(context: BotContext, user_id: int, first_name: str) -> None:
    picture = await pictures.progress(context.data, user_id, first_name)
    if picture is None:
        await context.bot.send_message(user_id, captions.NO_PROGRESS)
        return
    await context.bot.send_photo(
        user_id, picture.png, caption=picture.caption, parse_mode=ParseMode.HTML
    )
    log.info("progress picture sent to %s (%d bytes)", user_id, len(picture.png))


async def on_progress(context: BotContext, press: ProgressPress) -> Reply:
    """/score's picture button, admitted by the door: its owner, in their private chat."""
    return Reply(
        "Drawing your last 30 days…",
        then=send_progress(context, press.user.id, press.user.first_name),
    )


async def cmd_topics(update: Update, context: BotContext) -> None:
    """/topics: topics with their question counts and the user's progress."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    await message.reply_text(score_view.topics_text(await topic_progress(context, user.id)))


async def cmd_leaderboard(update: Update, context: BotContext) -> None:
    """/leaderboard: top 10 today, this week and all time (this group's, in a group)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    store = context.store
    # Days and weeks are each learner's own (their /timezone), as their answers recorded them.
    today = rules.local_day(context.now(), context.data.zone_of(user.id))
    chat_id = chat.id if is_group(chat) else None
    boards = []
    periods = [
        ("Today", totals.day_key(today)),
        ("This week", totals.week_key(today)),
        ("All time", totals.ALL),
    ]
    for name, period in periods:
        rows = await store.stats.leaderboard(period=period, chat_id=chat_id)
        own = await store.stats.rank(user.id, period=period, chat_id=chat_id)
        title = f"{name} in this group" if chat_id is not None else name
        boards.append(score_view.Board(title, rows, own))
    profile = await store.users.get_user(user.id)
    hidden = bool(profile and profile.hidden)
    text = score_view.leaderboard_text(boards, user.id, hidden)
    if chat_id is not None:  # hiding is one's own business: the button lives in private chat
        await message.reply_text(text)
        return
    await reply_bound(context, message, user.id, text, score_view.hide_keyboard(hidden))


async def on_hide(context: BotContext, press: HidePress) -> Reply:
    """The hide/show button, admitted by the door: in its owner's private chat only."""
    user, hidden = press.user, press.hidden
    await context.store.users.set_hidden(user.id, user.first_name, hidden, context.now())
    log.info("user %s %s leaderboards", user.id, "hid from" if hidden else "rejoined")
    return Reply(
        "You are now hidden from leaderboards." if hidden else "You are back on leaderboards.",
        alert=True,
    )


async def cmd_timezone(update: Update, context: BotContext) -> None:
    """/timezone [Area/City]: show or set the zone that decides when a streak day starts."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    if not context.args:
        zone = context.data.zone_of(user.id)
        await message.reply_text(
            f"Your time zone is {render.esc(str(zone))}. Change it with /timezone Area/City, "
            "for example /timezone Europe/Berlin."
        )
        return
    try:
        zone = parse_zone(context.args[0])
    except ValueError:
        await message.reply_text(
            f"I don't know the time zone “{render.esc(context.args[0][:64])}”. Use an IANA "
            "name such as Europe/Berlin, America/New_York or Asia/Kolkata."
        )
        return
    await context.store.users.set_timezone(user.id, user.first_name, str(zone), context.now())
    context.data.user_zones[user.id] = str(zone)
    local = context.now().astimezone(zone).strftime("%H:%M")
    await message.reply_text(
        f"Done: your days now follow {render.esc(str(zone))} (it is {local} there)."
    )


async def cmd_forget(update: Update, context: BotContext) -> None:
    """/forget: ask for confirmation (in private chat), then delete everything about the user."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    if is_group(chat) or chat.id != user.id:
        await message.reply_text("Send /forget in a private chat with me.")
        return
    await reply_bound(
        context,
        message,
        user.id,
        "This deletes your answers, scores, streaks and review schedule for good. Sure?",
        score_view.forget_keyboard(),
    )


async def on_forget(context: BotContext, press: ForgetPress) -> Reply:
    """Yes or no under /forget's question, admitted by the door: its owner, that message."""
    user = press.user
    # The question is answered: its buttons go, and a replay of either is refused.
    await context.store.keyboards.forget(press.chat_id, press.message_id)
    if not press.confirm:
        return Reply(
            "Nothing was deleted.",
            then=_say(context, press, "Kept everything. /score shows where you are."),
        )
    deleted = await context.store.users.forget_user(user.id)
    context.data.user_zones.pop(user.id, None)
    log.info("user %s forgotten (%d rows)", user.id, deleted)
    return Reply(
        "Deleted.", then=_say(context, press, "Done: everything I kept about you is deleted.")
    )


async def _say(context: BotContext, press: ForgetPress, text: str) -> None:
    """Replace the confirmation's text (and drop its buttons)."""
    await edit(context.bot, press.chat_id, press.message_id, render.Rendered(text))


async def on_report(context: BotContext, press: ReportPress) -> Reply:
    """⚑ Report a mistake (admitted by the door): the user's next private message goes to the
    admins, unless they reported this question already or too often today."""
    asked = await reports.ask(context, press.user, press.asking)
    text = {
        reports.Asked.PENDING: "Send me your note in a private message within 10 minutes: "
        "what is wrong, and what it should say.",
        reports.Asked.ALREADY: "You already reported this question. Thank you!",
        reports.Asked.TOO_MANY: "You have sent several reports today; thank you! Please try "
        "again tomorrow.",
    }[asked]
    return Reply(text, alert=True)
