"""/daily [HH:MM|off]: the daily question in the user's private chat (contract §7)."""

from __future__ import annotations

import logging

from telegram import Update

from bot.core import daily_moments
from bot.services import jobs
from bot.state.context import BotContext
from bot.ui import daily_view

log = logging.getLogger(__name__)


async def cmd_daily(update: Update, context: BotContext) -> None:
    """/daily subscribes (or shows the subscription), /daily HH:MM sets a time, /daily off."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    if chat.type != "private" or chat.id != user.id:
        await message.reply_text(daily_view.DAILY_PRIVATE_ONLY)
        return
    try:
        args = daily_moments.parse_args(context.args or [])
    except ValueError:
        await message.reply_text(daily_view.DAILY_USAGE)
        return
    store, now, data = context.store, context.now(), context.data
    if args.off:
        removed = await store.daily.unsubscribe(user.id)
        log.info("daily: user %s unsubscribed (%s)", user.id, removed)
        await message.reply_text(
            daily_view.DAILY_OFF if removed else daily_view.DAILY_NOT_SUBSCRIBED
        )
        return
    channel_at = await jobs.daily_time(data)
    channel_zone = context.settings.zone
    current = await store.daily.subscription(user.id)
    user_zone = data.zone_of(user.id)
    if current is not None and args.at is None:
        zone = user_zone if current.at else channel_zone
        await message.reply_text(
            daily_view.daily_status(current.at, channel_at.strftime("%H:%M"), str(zone))
        )
        return
    at = args.at.strftime("%H:%M") if args.at else None
    await store.users.touch_user(user.id, user.first_name, now)
    await store.daily.subscribe(user.id, at, now)
    log.info("daily: user %s subscribed at %s", user.id, at or "the channel's time")
    zone = user_zone if args.at else channel_zone
    moment = daily_moments.next_moment(now, zone, args.at or channel_at)
    local = moment.astimezone(zone)
    first = "today" if local.date() == now.astimezone(zone).date() else "tomorrow"
    first += f" at {local.strftime('%H:%M')}"
    await message.reply_text(
        daily_view.daily_subscribed(at, channel_at.strftime("%H:%M"), str(zone), first)
    )
