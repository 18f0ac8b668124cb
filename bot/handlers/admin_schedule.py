"""Admin commands for the channel's schedule and queue (contract §5): /schedule, /unschedule,
/queue, /skip, /pause and /resume. Admins only, from a private chat (``admin_access.admin_only``).

Arguments are untrusted text: times are parsed strictly, numbers are ASCII digits in range,
and question ids are looked up in the bank.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Update

from bot.config import parse_time
from bot.core import rules, schedule
from bot.db.settings import Key
from bot.handlers.admin_access import admin_only, reply_to
from bot.services import channel_queue, jobs
from bot.state.context import BotContext
from bot.ui import render

log = logging.getLogger(__name__)

MAX_EXTRAS = 50  # pending extra posts: /schedule lists them all in one message
MAX_AHEAD = timedelta(days=366)


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
        await reply_to(update, await _schedule_text(context))
        return
    if len(args) == 1 and args[0].lower() == "reset":
        await data.store.settings.set_kv(Key.DAILY_TIME, None)
        jobs.register_daily(context.application, data.settings.post_time, data)
        log.info("daily time reset to POST_TIME")
        await reply_to(update, "Back to POST_TIME.\n\n" + await _schedule_text(context))
        return
    if len(args) == 1:
        try:
            at = parse_time(args[0])
        except ValueError:
            await reply_to(
                update,
                "Usage: /schedule HH:MM · /schedule reset · "
                "/schedule YYYY-MM-DD HH:MM [question_id]",
            )
            return
        await data.store.settings.set_kv(Key.DAILY_TIME, at.isoformat())
        jobs.register_daily(context.application, at, data)
        log.info("daily time set to %s", at.isoformat())
        await reply_to(update, "Daily time changed.\n\n" + await _schedule_text(context))
        return
    try:
        req = schedule.parse_extra(" ".join(args), data.settings.zone)
    except ValueError as exc:
        await reply_to(update, f"{render.esc(str(exc))}")
        return
    now = context.now()
    # Compared as wall-clock times: 9999-12-31 23:59 west of UTC is past datetime.max in UTC.
    latest = now.astimezone(data.settings.zone).replace(tzinfo=None) + MAX_AHEAD
    if req.run_at.replace(tzinfo=None) > latest:
        await reply_to(update, "That is too far ahead: extra posts go at most a year out.")
        return
    if req.run_at <= now:
        await reply_to(update, "That moment has passed; pick a time in the future.")
        return
    if len(await data.store.channel.pending_extras()) >= MAX_EXTRAS:
        await reply_to(
            update, f"There are already {MAX_EXTRAS} extra posts waiting; /unschedule one first."
        )
        return
    if req.question_id is not None and req.question_id not in context.bank:
        await reply_to(update, f"There is no question <code>{render.esc(req.question_id)}</code>.")
        return
    user = update.effective_user
    assert user is not None
    extra_id = await data.store.channel.add_extra(req.run_at, req.question_id, user.id, now)
    jobs.register_extra(context.job_queue, extra_id, req.run_at, req.question_id)
    log.info("extra post %s scheduled at %s", extra_id, req.run_at.isoformat())
    await reply_to(update, "Extra post added.\n\n" + await _schedule_text(context))


@admin_only
async def cmd_unschedule(update: Update, context: BotContext) -> None:
    """/unschedule N: remove the N-th extra post of /schedule's list."""
    args = context.args or []
    extras = await context.store.channel.pending_extras()
    number = rules.ascii_int(args[0]) if len(args) == 1 else None
    if number is None or not 1 <= number <= len(extras):
        await reply_to(
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
    await reply_to(update, "Removed.\n\n" + await _schedule_text(context))


@admin_only
async def cmd_queue(update: Update, context: BotContext) -> None:
    """/queue [n]: the next n questions, and how many days of unposted questions are left."""
    args = context.args or []
    n = rules.ascii_int(args[0]) if len(args) == 1 else (10 if not args else None)
    if n is None:
        await reply_to(update, "Usage: /queue [n], with n from 1 to 50.")
        return
    n = max(1, min(n, 50))
    cycle, left = await channel_queue.upcoming(context.data)
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
    await reply_to(update, "\n".join(lines))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@admin_only
async def cmd_skip(update: Update, context: BotContext) -> None:
    """/skip: the next question in the queue is passed over in this cycle."""
    picked = await channel_queue.next_question(context.data)
    if picked is None:
        await reply_to(update, "The bank is empty.")
        return
    cycle, qid = picked
    await context.store.channel.add_skip(qid, cycle, context.now())
    log.info("queue: %s skipped", qid)
    _, left = await channel_queue.upcoming(context.data)
    after = f" Next up: <code>{render.esc(left[0])}</code>." if left else ""
    await reply_to(update, f"Skipped <code>{render.esc(qid)}</code>.{after}")


@admin_only
async def cmd_pause(update: Update, context: BotContext) -> None:
    """/pause: no daily posts and no weekly recap until /resume (kept across restarts); extra
    posts an admin scheduled for a date still go out."""
    await context.store.settings.set_kv(Key.PAUSED, "1")
    log.info("channel posting paused: no daily post and no weekly recap")
    await reply_to(
        update, "⏸ Daily posting paused, the weekly recap too. /resume starts both again."
    )


@admin_only
async def cmd_resume(update: Update, context: BotContext) -> None:
    """/resume: daily posts again from the next daily time; today's weekly recap, if it was
    held back, goes out now."""
    await context.store.settings.set_kv(Key.PAUSED, None)
    log.info("channel posting resumed")
    if context.settings.weekly_post is not None:
        jobs.release_weekly(context.job_queue)
    await reply_to(update, "▶️ Daily posting resumed.\n\n" + await _schedule_text(context))
