"""JobQueue jobs. SQLite is the source of truth; the JobQueue is rebuilt from it at every start.

Over ~300 lines on purpose: every job and the start-up ``restore`` that schedules them, in one
place, so what runs when (and what is caught up after downtime) reads top to bottom.

PTB's JobQueue keeps jobs in memory only, and APScheduler skips a run that fires more than a
second late by default (``misfire_grace_time``): every job here sets it to ``None`` so a late
job still runs, and slot records in SQLite make any run idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from telegram import Bot

from bot.config import parse_time
from bot.core import schedule
from bot.db.settings import Key
from bot.db.workers import PROCESS
from bot.services import channel, channel_queue, daily_delivery, weekly
from bot.services.pager import notify_admins
from bot.state.context import BotContext, BotData
from bot.ui.render import esc

log = logging.getLogger(__name__)

DAILY = "daily"
LATE_OK: dict[str, Any] = {"misfire_grace_time": None, "coalesce": True}
RETRY_AFTER = timedelta(minutes=10)
DELIVERIES = "daily-deliveries"
DELIVERY_TICK = 10.0  # seconds between two looks for due /daily deliveries
# Shutdown (contract §6: exit within 10 s of SIGTERM): at most this long for the follow-ups
# the bot started, then this long for the pending tally edits, leaving time to close.
FOLLOW_UPS_BUDGET = 6.0
TALLIES_BUDGET = 2.0


async def daily_time(data: BotData) -> time:
    """The daily time: ``/schedule HH:MM`` if set (kept in SQLite), else POST_TIME."""
    stored = await data.store.settings.get_kv(Key.DAILY_TIME)
    return parse_time(stored) if stored else data.settings.post_time


async def is_paused(data: BotData) -> bool:
    return await data.store.settings.get_kv(Key.PAUSED) == "1"


async def job_daily(context: BotContext) -> None:
    """The day's post, at the daily time (or late, at start-up, the same day)."""
    data = context.bot_data
    now = data.clock()
    zone = data.settings.zone
    slot = schedule.daily_slot(now.astimezone(zone).date())
    if await is_paused(data):
        log.info("daily post skipped: posting is paused")
        return
    result = await channel.post(data, context.bot, slot=slot)
    log.info("daily slot %s: %s", slot, result.outcome.value)
    job_queue: Any = context.job_queue
    if result.outcome is channel.Outcome.FAILED and job_queue is not None:
        retry_at = now + RETRY_AFTER
        if schedule.same_local_day(retry_at, now, zone):
            job_queue.run_once(job_daily, when=retry_at, name=f"retry:{slot}", job_kwargs=LATE_OK)
    if result.outcome is channel.Outcome.SENT:
        await warn_if_cycle_ending(data, context.bot)


async def job_weekly(context: BotContext) -> None:
    """WEEKLY_POST: runs every day at its time (and late, at start-up, the same day); posts
    on the recap's weekday only. Daily rather than PTB's ``days=``, whose numbering (0 is
    Sunday) is one slip away from the wrong day."""
    data = context.bot_data
    at = data.settings.weekly_post
    if at is None:
        return
    now = data.clock()
    moment = weekly.due_moment(now, data, at)
    if moment is None or now < moment:
        return
    day_slot = weekly.slot(moment.date())
    if await is_paused(data):  # /pause stops what the channel gets, the recap included
        log.info("weekly recap %s skipped: posting is paused", day_slot)
        return
    retry = context.job is not None and str(context.job.name).startswith("retry:")
    outcome = await weekly.post(data, context.bot, day_slot, moment, retry=retry)
    log.info("weekly slot %s: %s", day_slot, outcome)
    job_queue: Any = context.job_queue
    if outcome == "failed" and job_queue is not None:
        retry_at = now + RETRY_AFTER
        if schedule.same_local_day(retry_at, now, data.settings.zone):
            job_queue.run_once(
                job_weekly, when=retry_at, name=f"retry:{day_slot}", job_kwargs=LATE_OK
            )


def release_weekly(job_queue: Any) -> None:
    """After /resume: today's recap, if its time passed while posting was paused (job_weekly
    keeps every other rule: its day only, once, never for a week without posts)."""
    if job_queue is not None:
        job_queue.run_once(job_weekly, when=0.1, name="weekly-resume", job_kwargs=LATE_OK)


async def job_deliver_daily(context: BotContext) -> None:
    """/daily: plan the subscribers whose moment has come, then send what is open.

    One run at a time: a run over thousands of subscribers outlasts many ticks. It stops
    taking rows when the bot stops (SIGTERM), so shutdown waits only for sends in flight.
    """
    assert context.job is not None
    state: daily_delivery.RunState = context.job.data  # type: ignore[assignment]
    if state.busy:
        return
    # Busy before the first await: a run resends the rows left 'sending' (a crash's), so a
    # second run starting while the first asks for the lease would send its rows again.
    state.busy = True
    try:
        data = context.bot_data
        if not await _own(data, DELIVERIES):
            return  # another process on this database delivers (CONTRACT §10)
        renewing = asyncio.create_task(_keep_owning(data, DELIVERIES))
        try:
            await daily_delivery.plan(data, await daily_time(data))
            application = context.application
            await daily_delivery.deliver_due(data, context.bot, lambda: application.running)
        finally:
            renewing.cancel()
    finally:
        state.busy = False


# Several processes on one PostgreSQL (CONTRACT §10): /daily deliveries are claimed row by row
# with an UPDATE that a second process would repeat (a 'sending' row is resent after a crash,
# by design), so one process at a time owns them, by a lease renewed while a run goes on. A
# dead owner's lease runs out after JOB_LEASE and another process takes over, resending its
# 'sending' rows as a restart would. The daily, extra and weekly posts and game deadlines need
# none: each is claimed by a unique slot row (INSERT ... ON CONFLICT DO NOTHING) first.
JOB_LEASE = timedelta(seconds=60)
JOB_RENEW = 15.0  # seconds between renewals during a run


async def _own(data: BotData, name: str) -> bool:
    """Does this process own the job ``name``? Always with SQLite (one process)."""
    store = data.store
    if store.database.dialect != "postgres":
        return True
    now = datetime.now(UTC)
    return await store.workers.take_lease(f"job:{name}", PROCESS, now, JOB_LEASE) is not None


async def _keep_owning(data: BotData, name: str) -> None:
    while True:
        await asyncio.sleep(JOB_RENEW)
        try:
            await _own(data, name)
        except Exception as exc:  # the next renewal tries again; JOB_LEASE leaves room
            log.warning("could not renew the %s lease: %s", name, exc)


async def job_extra(context: BotContext) -> None:
    """One extra post set with ``/schedule YYYY-MM-DD HH:MM [id]``."""
    data = context.bot_data
    assert context.job is not None
    payload: tuple[int, str | None] = context.job.data  # type: ignore[assignment]
    extra_id, qid = payload
    if qid is not None and qid not in data.bank:
        await notify_admins(
            data,
            context.bot,
            f"Extra post #{extra_id}: question {esc(qid)} is no longer in the bank.",
        )
        await data.store.channel.finish_extra(extra_id)
        return
    result = await channel.post(
        data, context.bot, slot=schedule.extra_slot(extra_id), question_id=qid
    )
    log.info("extra post %s: %s", extra_id, result.outcome.value)
    if result.outcome is not channel.Outcome.FAILED:
        await data.store.channel.finish_extra(extra_id)


async def job_flush_tallies(context: BotContext) -> None:
    """Batch the tally edits of channel posts: a burst of presses becomes one edit."""
    data = context.bot_data
    if data.dirty_tallies:
        edits = await channel.flush_tallies(data, context.bot)
        if edits:
            log.info("tally edits: %d", edits)


async def drain(data: BotData, bot: Bot) -> None:
    """At stop, after PTB finished the updates it had: finish what they started, bounded.

    PTB's ``stop()`` awaits only the tasks that existed when it began; a follow-up started by
    an update still finishing (the next question, a group's "answered" edit) would be cut off
    when the bot's connection closes. Then the batched tally edits go out, so a post shows
    every press it received.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FOLLOW_UPS_BUDGET
    while data.follow_ups and (left := deadline - loop.time()) > 0:
        await asyncio.wait(set(data.follow_ups), timeout=left)  # they may start more
    if data.follow_ups:
        log.warning("shutdown: %d follow-up(s) still running were cut off", len(data.follow_ups))
        for task in list(data.follow_ups):
            task.cancel()
    if data.dirty_tallies:
        try:
            async with asyncio.timeout(TALLIES_BUDGET):
                edits = await channel.flush_tallies(data, bot, stopping=True)
            log.info("shutdown: %d tally edit(s) flushed", edits)
        except TimeoutError:
            log.warning("shutdown: tally edits did not finish in %.0fs", TALLIES_BUDGET)


async def job_expire_quizzes(context: BotContext) -> None:
    data = context.bot_data
    now = data.clock()
    n = await data.store.quizzes.expire_sessions(
        now - timedelta(minutes=data.settings.quiz_expiry_minutes), now
    )
    if n:
        log.info("expired %d abandoned quiz(zes)", n)


PRUNE_AFTER = timedelta(days=30)  # a button older than this on a finished quiz is dead


async def job_prune(context: BotContext) -> None:
    """Once a day: askings, finished sessions and button rows no press can reach any more
    (answers are kept, and so are channel posts' askings)."""
    data = context.bot_data
    askings, sessions, keyboards = await data.store.quizzes.prune(data.clock() - PRUNE_AFTER)
    if askings or sessions or keyboards:
        log.info("pruned %d askings, %d sessions, %d keyboards", askings, sessions, keyboards)
    if data.store.database.dialect == "postgres":  # the shared flood budget's idle chats
        await data.store.workers.prune_flood_slots()


async def warn_if_cycle_ending(data: BotData, bot: Bot) -> None:
    """Once a day, a week before the cycle's unposted questions run out, tell the admins."""
    _, left = await channel_queue.upcoming(data)
    extras = len(await data.store.channel.pending_extras())
    days = schedule.days_left(len(left), extras)
    today = data.clock().astimezone(data.settings.zone).date().isoformat()
    if days <= schedule.WARN_DAYS and data.last_cycle_warning != today:
        data.last_cycle_warning = today
        await notify_admins(
            data,
            bot,
            f"📅 {len(left)} unposted question(s) left in this cycle (about {days} day(s)). "
            "After that the queue starts a new shuffled cycle of the whole bank; add questions "
            "to content/ and /reload to keep it fresh.",
        )


def register_daily(context_or_app: Any, at: time, data: BotData) -> None:
    """(Re)register the daily job at ``at`` in TIMEZONE: remove if present, then add."""
    job_queue = context_or_app.job_queue
    for job in job_queue.get_jobs_by_name(DAILY):
        job.schedule_removal()
    job_queue.run_daily(
        job_daily, time=at.replace(tzinfo=data.settings.zone), name=DAILY, job_kwargs=LATE_OK
    )


def register_extra(
    job_queue: Any, extra_id: int, run_at: datetime, question_id: str | None
) -> None:
    unregister_extra(job_queue, extra_id)
    job_queue.run_once(
        job_extra,
        when=run_at,
        data=(extra_id, question_id),
        name=schedule.extra_slot(extra_id),
        job_kwargs=LATE_OK,
    )


def unregister_extra(job_queue: Any, extra_id: int) -> None:
    for job in job_queue.get_jobs_by_name(schedule.extra_slot(extra_id)):
        job.schedule_removal()


async def restore(app: Any, data: BotData) -> None:
    """At start: settle unknown sends, rebuild every job from SQLite, catch up today's post."""
    store = data.store
    bot = app.bot
    now = data.clock()
    zone = data.settings.zone
    for p in await store.channel.posts_with_status("sending"):
        await store.channel.post_status(p.id, "unknown", "the bot stopped while sending")
        log.error("channel post %s (%s) was interrupted mid-send", p.id, p.question_id)
        await notify_admins(
            data,
            bot,
            f"⚠️ I stopped while posting <code>{esc(p.question_id)}</code>, so it may or may "
            "not be in the channel. Check, and if it is missing send "
            f"/post_now {esc(p.question_id)}",
        )
    await weekly.settle_interrupted(data, bot)
    at = await daily_time(data)
    register_daily(app, at, data)
    job_queue = app.job_queue
    if data.settings.weekly_post is not None and data.settings.channel_id:
        job_queue.run_daily(
            job_weekly,
            time=data.settings.weekly_post.at.replace(tzinfo=zone),
            name="weekly",
            job_kwargs=LATE_OK,
        )
        moment = weekly.due_moment(now, data, data.settings.weekly_post)
        if (
            moment is not None
            and now >= moment
            and await store.weekly.status(weekly.slot(moment.date())) is None
        ):
            # Missed while the bot was down: still today (job_weekly skips a week without posts).
            log.info("this week's recap was missed while the bot was down: posting it now")
            job_queue.run_once(job_weekly, when=0.3, name="weekly-catchup", job_kwargs=LATE_OK)
    today_slot = schedule.daily_slot(now.astimezone(zone).date())
    if (
        data.settings.channel_id
        and schedule.missed_today(now, zone, at)
        and await store.channel.slot_post(today_slot) is None
        and not await is_paused(data)
    ):
        log.info("today's post (%s) was missed while the bot was down: posting it now", today_slot)
        job_queue.run_once(job_daily, when=0.1, name="daily-catchup", job_kwargs=LATE_OK)
    for extra in await store.channel.pending_extras():
        if extra.run_at > now:
            register_extra(job_queue, extra.id, extra.run_at, extra.question_id)
        elif schedule.same_local_day(extra.run_at, now, zone):
            register_extra(job_queue, extra.id, now + timedelta(seconds=0.2), extra.question_id)
        else:
            log.warning(
                "extra post %s for %s was missed on an earlier day", extra.id, extra.run_at
            )
            await store.channel.finish_extra(extra.id)
    job_queue.run_repeating(
        job_flush_tallies,
        interval=data.settings.tally_interval,
        first=data.settings.tally_interval,
        name="tallies",
        job_kwargs=LATE_OK,
    )
    job_queue.run_repeating(
        job_expire_quizzes, interval=300, first=60, name="expire", job_kwargs=LATE_OK
    )
    job_queue.run_repeating(
        job_prune, interval=timedelta(days=1), first=600, name="prune", job_kwargs=LATE_OK
    )
    # Today's deliveries missed while the bot was down go out at once; a second instance
    # may start while a long run goes on, and returns at once (RunState.busy).
    job_queue.run_repeating(
        job_deliver_daily,
        interval=DELIVERY_TICK,
        first=0.5,
        name=DELIVERIES,
        data=daily_delivery.RunState(),
        job_kwargs={**LATE_OK, "max_instances": 2},
    )
