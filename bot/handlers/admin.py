"""Admin commands, run from a private chat with the bot. Everyone else is refused politely.

Over ~300 lines on purpose: one thin handler per admin command of contract §5, together.

Arguments are untrusted text: question ids are looked up in the bank, times parsed strictly,
and nothing of what an admin types reaches SQL except as a bound parameter.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.constants import ParseMode

from bot.config import parse_time
from bot.core import rules, schedule
from bot.core.bank import check_bank
from bot.core.kinds import AskingKind
from bot.db.settings import Key
from bot.services import channel, jobs, pictures, weekly
from bot.services.messages import NO_PREVIEW, follow_up
from bot.state.context import BotContext
from bot.ui import render

log = logging.getLogger(__name__)

MAX_EXTRAS = 50  # pending extra posts: /schedule lists them all in one message
MAX_AHEAD = timedelta(days=366)

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_only(func: Handler) -> Handler:
    """Run ``func`` only for ADMIN_IDS; anyone else gets a polite refusal and nothing happens."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: BotContext) -> None:
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        if user.id not in context.settings.admin_ids:
            log.info("refused admin command from %s", user.id)
            await message.reply_text("Sorry, that command is for the channel's admins.")
            return
        if message.chat.id != user.id:
            # Its reply could show answers and statistics to a whole group (contract §6).
            await message.reply_text("Admin commands work in your private chat with me.")
            return
        await func(update, context)

    return wrapper


async def _reply(update: Update, text: str) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, link_preview_options=NO_PREVIEW)


def _outcome_text(result: channel.PostResult) -> str:
    qid = render.esc(result.question_id or "")
    match result.outcome:
        case channel.Outcome.SENT:
            return f"✅ Posted <code>{qid}</code> (message {result.message_id})."
        case channel.Outcome.NO_CHANNEL:
            return "CHANNEL_ID is not set, so there is no channel to post to."
        case channel.Outcome.EMPTY:
            return "The bank has no questions to post."
        case channel.Outcome.ALREADY:
            return f"<code>{qid}</code> was already posted for this slot."
        case channel.Outcome.FAILED:
            return f"❌ Posting <code>{qid}</code> failed: {render.esc(result.detail)}"
        case _:
            return f"⚠️ Posting <code>{qid}</code> timed out; it may or may not be in the channel."


@admin_only
async def cmd_post_now(update: Update, context: BotContext) -> None:
    """/post_now [question_id]: post the next (or the named) question now."""
    args = context.args or []
    if len(args) > 1:
        await _reply(update, "Usage: /post_now [question_id], one question at a time.")
        return
    qid = args[0] if args else None
    if qid is not None and qid not in context.bank:
        await _reply(update, f"There is no question <code>{render.esc(qid[:40])}</code>.")
        return
    result = await channel.post(context.data, context.bot, slot=None, question_id=qid)
    await _reply(update, _outcome_text(result))


async def _schedule_text(context: BotContext) -> str:
    data = context.data
    at = await jobs.daily_time(data)
    source = (
        "set with /schedule" if await data.store.settings.get_kv(Key.DAILY_TIME) else "POST_TIME"
    )
    paused = await jobs.is_paused(data)
    lines = [
        f"📅 Daily post at <b>{at.strftime('%H:%M:%S' if at.second else '%H:%M')}</b> "
        f"{render.esc(context.settings.timezone)} ({source})" + (" · ⏸ paused" if paused else ""),
    ]
    extras = await data.store.channel.pending_extras()
    if extras:
        lines += ["", "Extra posts:"]
        zone = context.settings.zone
        listing = []
        for n, extra in enumerate(extras, start=1):
            when = extra.run_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            what = extra.question_id or "next in queue"
            listing.append(f"{n}. {when}: {what}")
        lines += [render.esc(line) for line in render.capped(listing, render.MAX_TEXT - 400)]
        lines.append("Remove one with /unschedule N")
    else:
        lines.append("No extra posts. Add one: /schedule YYYY-MM-DD HH:MM [question_id]")
    return "\n".join(lines)


@admin_only
async def cmd_schedule(update: Update, context: BotContext) -> None:
    """/schedule, /schedule HH:MM, /schedule reset, /schedule YYYY-MM-DD HH:MM [id]."""
    args = context.args or []
    data = context.data
    if not args:
        await _reply(update, await _schedule_text(context))
        return
    if len(args) == 1 and args[0].lower() == "reset":
        await data.store.settings.set_kv(Key.DAILY_TIME, None)
        jobs.register_daily(context.application, data.settings.post_time, data)
        log.info("daily time reset to POST_TIME")
        await _reply(update, "Back to POST_TIME.\n\n" + await _schedule_text(context))
        return
    if len(args) == 1:
        try:
            at = parse_time(args[0])
        except ValueError:
            await _reply(
                update,
                "Usage: /schedule HH:MM · /schedule reset · "
                "/schedule YYYY-MM-DD HH:MM [question_id]",
            )
            return
        await data.store.settings.set_kv(Key.DAILY_TIME, at.isoformat())
        jobs.register_daily(context.application, at, data)
        log.info("daily time set to %s", at.isoformat())
        await _reply(update, "Daily time changed.\n\n" + await _schedule_text(context))
        return
    try:
        req = schedule.parse_extra(" ".join(args), data.settings.zone)
    except ValueError as exc:
        await _reply(update, f"{render.esc(str(exc))}")
        return
    now = context.now()
    # Compared as wall-clock times: 9999-12-31 23:59 west of UTC is past datetime.max in UTC.
    latest = now.astimezone(data.settings.zone).replace(tzinfo=None) + MAX_AHEAD
    if req.run_at.replace(tzinfo=None) > latest:
        await _reply(update, "That is too far ahead: extra posts go at most a year out.")
        return
    if req.run_at <= now:
        await _reply(update, "That moment has passed; pick a time in the future.")
        return
    if len(await data.store.channel.pending_extras()) >= MAX_EXTRAS:
        await _reply(
            update, f"There are already {MAX_EXTRAS} extra posts waiting; /unschedule one first."
        )
        return
    if req.question_id is not None and req.question_id not in context.bank:
        await _reply(update, f"There is no question <code>{render.esc(req.question_id)}</code>.")
        return
    user = update.effective_user
    assert user is not None
    extra_id = await data.store.channel.add_extra(req.run_at, req.question_id, user.id, now)
    jobs.register_extra(context.job_queue, extra_id, req.run_at, req.question_id)
    log.info("extra post %s scheduled at %s", extra_id, req.run_at.isoformat())
    await _reply(update, "Extra post added.\n\n" + await _schedule_text(context))


@admin_only
async def cmd_unschedule(update: Update, context: BotContext) -> None:
    """/unschedule N: remove the N-th extra post of /schedule's list."""
    args = context.args or []
    extras = await context.store.channel.pending_extras()
    number = rules.ascii_int(args[0]) if len(args) == 1 else None
    if number is None or not 1 <= number <= len(extras):
        await _reply(
            update,
            f"Usage: /unschedule N, with N from /schedule's list (1 to {len(extras)})."
            if extras
            else "There are no extra posts to remove.",
        )
        return
    extra = extras[number - 1]
    await context.store.channel.delete_extra(extra.id)
    jobs.unregister_extra(context.job_queue, extra.id)
    log.info("extra post %s removed", extra.id)
    await _reply(update, "Removed.\n\n" + await _schedule_text(context))


@admin_only
async def cmd_queue(update: Update, context: BotContext) -> None:
    """/queue [n]: the next n questions, and how many days of unposted questions are left."""
    args = context.args or []
    n = rules.ascii_int(args[0]) if len(args) == 1 else (10 if not args else None)
    if n is None:
        await _reply(update, "Usage: /queue [n], with n from 1 to 50.")
        return
    n = max(1, min(n, 50))
    cycle, left = await channel.upcoming(context.data)
    extras = len(await context.store.channel.pending_extras())
    days = schedule.days_left(len(left), extras)
    lines = [
        f"Cycle {cycle}: {len(left)} of {len(context.bank)} questions not yet posted "
        f"(about {render.plural(days, 'day')} of daily posts).",
    ]
    if days <= schedule.WARN_DAYS:
        lines.append(
            "⚠️ Less than a week left: then a new shuffled cycle of the whole bank starts."
        )
    lines.append("")
    for i, qid in enumerate(left[:n], start=1):
        q = context.bank.questions[qid]
        lines.append(f"{i}. <code>{render.esc(qid)}</code> {render.esc(_short(q.question))}")
    await _reply(update, "\n".join(lines))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@admin_only
async def cmd_skip(update: Update, context: BotContext) -> None:
    """/skip: the next question in the queue is passed over in this cycle."""
    picked = await channel.next_question(context.data)
    if picked is None:
        await _reply(update, "The bank is empty.")
        return
    cycle, qid = picked
    await context.store.channel.add_skip(qid, cycle, context.now())
    log.info("queue: %s skipped", qid)
    _, left = await channel.upcoming(context.data)
    after = f" Next up: <code>{render.esc(left[0])}</code>." if left else ""
    await _reply(update, f"Skipped <code>{render.esc(qid)}</code>.{after}")


@admin_only
async def cmd_pause(update: Update, context: BotContext) -> None:
    """/pause: no daily posts until /resume (kept across restarts)."""
    await context.store.settings.set_kv(Key.PAUSED, "1")
    log.info("daily posting paused")
    await _reply(update, "⏸ Daily posting paused. /resume starts it again.")


@admin_only
async def cmd_resume(update: Update, context: BotContext) -> None:
    """/resume: daily posts again from the next daily time."""
    await context.store.settings.set_kv(Key.PAUSED, None)
    log.info("daily posting resumed")
    await _reply(update, "▶️ Daily posting resumed.\n\n" + await _schedule_text(context))


@admin_only
async def cmd_preview(update: Update, context: BotContext) -> None:
    """/preview <question_id>: the post exactly as it will appear, buttons included."""
    args = context.args or []
    if args and args[0].lower() == "weekly":
        await _preview_weekly(update, context)
        return
    if not args:
        cycle_left = await channel.upcoming(context.data)
        if not cycle_left[1]:
            await _reply(update, "Usage: /preview &lt;question_id&gt;")
            return
        args = [cycle_left[1][0]]
    q = context.bank.get(args[0])
    if q is None:
        await _reply(update, f"There is no question <code>{render.esc(args[0][:40])}</code>.")
        return
    asking_id = None
    if q.quizzable:
        asking_id = await context.store.quizzes.create_asking(
            kind=AskingKind.PREVIEW,
            question_id=q.id,
            order=range(len(q.choices)),
            choices_sig=q.choices_sig,
            now=context.now(),
        )
    rendered = render.render_post(
        q,
        signature=await channel.signature(context.data, context.bot),
        bot_username=context.bot.username,
        asking_id=asking_id,
    )
    assert update.effective_message is not None
    sent = await update.effective_message.reply_text(
        rendered.text,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
    )
    if asking_id is not None:  # its choices answer on this message, for an admin only
        await context.store.quizzes.set_asking_message(asking_id, sent.chat.id, sent.message_id)


async def _preview_weekly(update: Update, context: BotContext) -> None:
    """/preview weekly: the recap of the last seven days, as the channel would get it."""
    settings = context.settings
    when = (
        f"WEEKLY_POST is {settings.weekly_post} ({render.esc(settings.timezone)})."
        if settings.weekly_post
        else "WEEKLY_POST is off: set it (e.g. sun 18:00) to post this weekly."
    )
    user = update.effective_user
    assert user is not None
    # Built and drawn outside the update's slot (a follow-up), like every picture.
    follow_up(context, update, _send_weekly_preview(context, user.id, when))


async def _send_weekly_preview(context: BotContext, chat_id: int, when: str) -> None:
    signature = await channel.signature(context.data, context.bot)
    recap = await weekly.build(context.data, signature, context.now())
    if recap is None:
        await context.bot.send_message(
            chat_id,
            f"No channel post in the last 7 days: no recap would go out. {when}",
            link_preview_options=NO_PREVIEW,
        )
        return
    await context.bot.send_message(
        chat_id, f"The weekly recap as of now. {when}", link_preview_options=NO_PREVIEW
    )
    await _send_photo(context, chat_id, recap.picture.png, recap.picture.caption)


async def _send_photo(context: BotContext, chat_id: int, png: bytes, caption: str) -> None:
    await context.bot.send_photo(chat_id, png, caption=caption, parse_mode=ParseMode.HTML)


@admin_only
async def cmd_reload(update: Update, context: BotContext) -> None:
    """/reload: re-read the bank; an invalid bank is reported and the old one kept."""
    directory = context.settings.content_dir
    bank, problems = await asyncio.to_thread(check_bank, directory)
    if problems:
        head = (
            f"❌ The bank has {render.plural(len(problems), 'problem')}; I kept the old one "
            f"({len(context.bank)} questions).\n"
        )
        # Cut by whole lines of plain text, so that no escaped entity is split.
        lines = render.capped([str(p) for p in problems], render.MAX_TEXT - 200)
        await _reply(update, head + "\n".join(render.esc(line) for line in lines))
        return
    old = context.bank
    context.data.bank = bank
    added = len(set(bank.questions) - set(old.questions))
    removed = len(set(old.questions) - set(bank.questions))
    log.info("bank reloaded: %d questions (+%d, -%d)", len(bank), added, removed)
    await _reply(
        update,
        f"✅ Reloaded: {len(bank)} questions in {len(bank.topics)} topics (+{added}, −{removed}).",
    )


@admin_only
async def cmd_repost(update: Update, context: BotContext) -> None:
    """/repost <question_id>: re-render the posted question in place after a bank fix."""
    args = context.args or []
    if not args:
        await _reply(update, "Usage: /repost &lt;question_id&gt;")
        return
    reply = await channel.repost(context.data, context.bot, args[0][:40])
    await _reply(update, render.esc(reply))


@admin_only
async def cmd_stats(update: Update, context: BotContext) -> None:
    """/stats: answers and accuracy per post, the hardest questions, active readers."""
    store = context.store
    lines = ["<b>Latest posts</b>"]
    posts = await store.stats.post_stats(10)
    if not posts:
        lines.append("nothing posted yet")
    for qid, sent_at, answered, right in posts:
        pct = f"{round(100 * right / answered)}% right" if answered else "no answers"
        lines.append(
            f"• {sent_at[:10]} <code>{render.esc(qid)}</code>: {answered} answered, {pct}"
        )
    hardest = await store.stats.hardest_questions()
    if hardest:
        lines += ["", "<b>Hardest questions</b> (at least 3 answers)"]
        for qid, n, r in hardest:
            lines.append(f"• <code>{render.esc(qid)}</code>: {round(100 * r / n)}% right of {n}")
    now = context.now()
    readers, learners = await store.stats.active_users(now - timedelta(days=7))
    lines += [
        "",
        f"Active in the last 7 days: {readers} channel readers, {learners} quiz learners.",
        f"Daily question subscribers: {await store.daily.count()}.",
    ]
    await _reply(update, "\n".join(lines))
    if posts:
        user = update.effective_user
        assert user is not None
        # Drawn outside the update's slot (a follow-up), then sent under the text.
        follow_up(context, update, _send_stats_picture(context, user.id))


async def _send_stats_picture(context: BotContext, chat_id: int) -> None:
    picture = await pictures.admin_stats(context.data)
    if picture is not None:
        await _send_photo(context, chat_id, picture.png, picture.caption)
