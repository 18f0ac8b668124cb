"""/daily (contract §7): subscriptions, the day's question for each subscriber, deliveries.

A delivery run plans a row for every subscriber whose moment has come on their local date
(core/daily_moments.py), then sends the open rows oldest first, a few at a time, inside
``ratelimit.background()`` so everything else the bot sends goes first. Each row is
committed 'sending' before its send and settled after, so a restart resends nothing that
was sent; a row still 'sending' after a kill is sent again (it may arrive twice: the Bot
API has no idempotent send, and losing it would be worse). A resend reuses the row's
asking, so its answer still counts once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.config import parse_zone
from bot.core import daily_moments, rules
from bot.db.daily import Delivery, Subscription
from bot.runtime.ratelimit import background
from bot.runtime.request import NotSent
from bot.services import channel, channel_queue
from bot.services.messages import NO_PREVIEW
from bot.state.context import BotData
from bot.ui import daily_view

log = logging.getLogger(__name__)

BATCH = 200  # rows read per query
IN_FLIGHT = 8  # sends under way at once: enough to keep the flood limiter's pace


@dataclass
class RunState:
    """One delivery run at a time (the JobQueue ticks while a long run goes on)."""

    busy: bool = False
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def zone_named(data: BotData, name: str | None) -> ZoneInfo:
    """A subscriber's zone by name (None: TIMEZONE); a name no longer known falls back."""
    if name:
        try:
            return parse_zone(name)
        except ValueError:
            log.warning("daily: unknown zone %r; counting days in TIMEZONE", name)
    return data.settings.zone


def subscriber_at(sub: Subscription, channel_at: time) -> time:
    return channel_at if sub.at is None else time.fromisoformat(sub.at)


async def plan(data: BotData, channel_at: time) -> int:
    """Add a row for each subscriber whose moment has come on their local date; returns rows
    added. A plain /daily follows ``channel_at`` as it is now (in TIMEZONE); a time of the
    subscriber's own is in their /timezone. Subscribers are read by the date their zones are
    on now (one to three reads), and a tick after everyone's row is planned returns none.
    """
    now = data.clock()
    by_date: dict[date, list[str | None]] = {}  # zones now on each date: at most three
    for name in await data.store.daily.zones():
        by_date.setdefault(daily_moments.local_day(now, zone_named(data, name)), []).append(name)
    due: dict[date, list[tuple[int, datetime]]] = {}
    for today, names in by_date.items():
        for sub in await data.store.daily.unplanned(today.isoformat(), names):
            zone = zone_named(data, sub.timezone if sub.at is not None else None)
            found = daily_moments.due_now(now, zone, subscriber_at(sub, channel_at), sub.since)
            if found is not None:
                due.setdefault(found[0], []).append((sub.user_id, found[1]))
    added = 0
    for day, rows in sorted(due.items()):
        chosen = await channel_queue.day_question(data, day)
        if chosen is None:
            continue
        n = await data.store.daily.plan(day.isoformat(), chosen[1], rows, now)
        log.info("daily %s: %d deliveries due", day, n)
        added += n
    return added


async def deliver_due(data: BotData, bot: Bot, running: Callable[[], bool]) -> RunState:
    """Send the open rows until none is left, or the bot stops, or Telegram says wait."""
    state = RunState()
    now = data.clock()
    # Zones lie at most 26 hours apart, so no subscriber's date is two days behind
    # TIMEZONE's: rows older than that are stale for everyone, at once. A row of an earlier
    # date in its own subscriber's zone is found stale one by one below.
    oldest = daily_moments.local_day(now, data.settings.zone) - timedelta(days=2)
    stale = await data.store.daily.expire_before(oldest.isoformat(), now)
    chosen_at: dict[str, datetime] = {}
    stop = asyncio.Event()
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(d: Delivery) -> None:
        async with gate:
            if stop.is_set() or not running():
                return
            if d.day not in chosen_at:
                kept = await data.store.daily.day_question(d.day)
                chosen_at[d.day] = kept.chosen_at if kept else now
            outcome = await deliver_one(data, bot, d, chosen_at[d.day])
            state.outcomes[outcome] = state.outcomes.get(outcome, 0) + 1
            if outcome == "pending":  # flood wait or API unreachable: the next run goes on
                stop.set()

    with background():
        while running() and not stop.is_set():
            rows = await data.store.daily.open_rows(BATCH)
            if not rows:
                break
            fresh = []
            for d in rows:
                # A day that is over where the subscriber lives (the bot was down at their
                # time and all the rest of their day) is not delivered late.
                if d.day < daily_moments.local_day(now, zone_named(data, d.zone)).isoformat():
                    await data.store.daily.finish(d, "missed", now)
                    stale += 1
                else:
                    fresh.append(d)
            await asyncio.gather(*(one(d) for d in fresh))
    if stale:
        log.warning("daily: %d deliveries of earlier days were never sent (bot down)", stale)
    state.sent = state.outcomes.get("sent", 0)
    if state.outcomes:
        log.info("daily run: %s", state.outcomes)
    return state


async def deliver_one(data: BotData, bot: Bot, d: Delivery, chosen_at: datetime) -> str:
    """Send one row and settle it; returns its new status."""
    store = data.store
    now = data.clock()
    q = data.bank.get(d.question_id)
    if q is None:
        await store.daily.finish(d, "skipped", now)
        return "skipped"
    if d.status == "sending":
        log.warning("daily: resending to %s (in flight when the bot stopped)", d.user_id)
    already = await store.daily.answered_since(d.user_id, q.id, chosen_at)
    scored = q.quizzable and not already
    claimed = await store.daily.begin(
        d,
        order=rules.shuffled_order(len(q.choices), data.rng) if scored else None,
        choices_sig=q.choices_sig,
        now=now,
    )
    if claimed is None:  # /daily off, a new time or /forget since the row was planned
        log.info("daily: delivery to %s cancelled (unsubscribed since it was planned)", d.user_id)
        return "cancelled"
    session_id, asking_id, kept = claimed
    # ``d`` was read before a first delivery's asking existed: settle with the one just made,
    # so the message id binds its buttons to their message (contract §6).
    d = replace(d, session_id=session_id, asking_id=asking_id)
    streak, _best = rules.streaks(
        await store.stats.answer_days(d.user_id), rules.local_day(now, data.zone_of(d.user_id))
    )
    if asking_id is not None:
        rendered = daily_view.daily_question(q, order=kept, asking_id=asking_id, streak=streak)
    else:
        rendered = daily_view.daily_post(
            q,
            signature=await channel.signature(data, bot),
            bot_username=bot.username,
            already=already,
            streak=streak,
        )
    try:
        message = await bot.send_message(
            d.user_id,
            rendered.text,
            reply_markup=rendered.keyboard,
            link_preview_options=NO_PREVIEW,
        )
    except Forbidden:
        await store.daily.finish(d, "blocked", now)
        log.info("daily: user %s blocked the bot; unsubscribed", d.user_id)
        return "blocked"
    except (RetryAfter, NotSent) as exc:
        await store.daily.release(d, now)
        log.warning("daily: delivery to %s postponed: %s", d.user_id, exc)
        return "pending"
    except BadRequest as exc:
        await store.daily.finish(d, "failed", now)
        log.warning("daily: Telegram refused the delivery to %s: %s", d.user_id, exc)
        return "failed"
    except NetworkError as exc:  # after RetryingRequest's own retries: it may have arrived
        await store.daily.finish(d, "unknown", now)
        log.warning("daily: delivery to %s: outcome unknown (%s)", d.user_id, exc)
        return "unknown"
    except TelegramError as exc:
        await store.daily.finish(d, "failed", now)
        log.warning("daily: delivery to %s failed: %s", d.user_id, exc)
        return "failed"
    await store.daily.finish(d, "sent", now, message.message_id)
    return "sent"
