"""The weekly recap post (contract §12), exactly once per week by the daily post's rules.

WEEKLY_POST=``DAY HH:MM`` (TIMEZONE): at that moment the channel gets one photo whose caption
lists the seven days' posts (linked, with answers and share right), the hardest, and how many
readers answered. The week is the seven days before that moment, so a late (catch-up) recap
covers the same posts as one on time.

Exactly once, as ``channel.post``: the slot row ``weekly:<local date>`` is committed before
the send; Telegram refusing (4xx) or never getting the request releases it for a later try;
an unknown outcome (timeout after sending, 5xx, a kill mid-send) counts as posted and the
admins are told once. A recap missed while the bot was down goes out when it comes back the
same day, never on a later day; a week without a post gets none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.config import WeeklyAt
from bot.runtime.request import NotSent
from bot.services import channel
from bot.services.pager import notify_admins
from bot.services.pictures import Picture, post_lines
from bot.state.context import BotData
from bot.ui import captions, pictures, render

log = logging.getLogger(__name__)

WEEK = timedelta(days=7)


def slot(day: date) -> str:
    return f"weekly:{day.isoformat()}"


def due_moment(now: datetime, data: BotData, weekly: WeeklyAt) -> datetime | None:
    """Today's recap moment if today is the recap's weekday, else None."""
    zone = data.settings.zone
    local = now.astimezone(zone)
    if local.weekday() != weekly.weekday:
        return None
    return datetime.combine(local.date(), weekly.at, tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Recap:
    picture: Picture
    posts: int


async def build(data: BotData, signature: str, end: datetime) -> Recap | None:
    """The recap of the seven days before ``end``; None if nothing was posted in them."""
    start = end - WEEK
    tallies = await data.store.stats.posts_between(start, end)
    if not tallies:
        return None
    lines = post_lines(data, tallies)
    readers = await data.store.stats.readers([t.asking_id for t in tallies if t.asking_id])
    zone = data.settings.zone
    first = start.astimezone(zone).date()
    last = (end - timedelta(seconds=1)).astimezone(zone).date()
    caption = captions.weekly_caption(
        lines,
        first=first,
        last=last,
        readers=readers,
        signature=signature,
    )
    bars = tuple(
        pictures.Share(f"{captions.DAYS[p.day.weekday()]} {p.day.day}", p.answered, p.right)
        for p in lines
    )
    hardest = captions.hardest_of(lines, min_answers=1)
    heading = f"The week · {captions.day_label(first)} – {captions.day_label(last)}"
    png = await data.drawer.draw(
        ("weekly", 0, last), (bars, heading, hardest), pictures.posts_png, bars, heading, hardest
    )
    return Recap(Picture(png, caption), len(lines))


async def post(
    data: BotData, bot: Bot, day_slot: str, end: datetime, *, retry: bool = False
) -> str:
    """Post one week's recap exactly once; returns what happened, for the log. A refusal is
    told to the admins on the first try only, not on each retry."""
    channel_id = data.settings.channel_id
    if not channel_id:
        return "no channel"
    if await data.store.weekly.status(day_slot) is not None:
        return "already posted"
    recap = await build(data, await channel.signature(data, bot), end)
    if recap is None:
        log.info("weekly recap %s skipped: no post in the week", day_slot)
        return "no post this week"
    if not await data.store.weekly.claim(day_slot, data.clock()):
        return "already posted"
    try:
        message = await bot.send_photo(
            channel_id,
            recap.picture.png,
            caption=recap.picture.caption,
            parse_mode=ParseMode.HTML,
        )
    except (BadRequest, Forbidden, NotSent, RetryAfter) as exc:
        await data.store.weekly.release(day_slot)
        log.error("weekly recap %s failed: %s", day_slot, exc)  # noqa: TRY400 - expected
        if retry:
            return "failed"
        await notify_admins(
            data,
            bot,
            f"❌ I could not post the weekly recap: {render.esc(str(exc)[:200])}. "
            "I will try again in a few minutes today.",
        )
        return "failed"
    except NetworkError as exc:  # TimedOut, or a 5xx: it may be in the channel
        await data.store.weekly.set_status(day_slot, "unknown", str(exc))
        log.error("weekly recap %s: outcome unknown (%s)", day_slot, exc)  # noqa: TRY400
        await notify_admins(data, bot, _unknown_notice())
        return "outcome unknown"
    await data.store.weekly.sent(
        day_slot, chat_id=message.chat_id, message_id=message.message_id, now=data.clock()
    )
    log.info(
        "weekly recap sent: slot=%s posts=%d message=%s", day_slot, recap.posts, message.message_id
    )
    return "sent"


def _unknown_notice() -> str:
    return (
        "⚠️ The weekly recap got no clear answer from Telegram, so it may or may not be in the "
        "channel. I will not post it again on my own; /preview weekly shows it."
    )


async def settle_interrupted(data: BotData, bot: Bot) -> None:
    """At start: a recap whose send a crash interrupted may be live; never send it again."""
    for day_slot in await data.store.weekly.with_status("sending"):
        await data.store.weekly.set_status(day_slot, "unknown", "the bot stopped while sending")
        log.error("weekly recap %s was interrupted mid-send", day_slot)
        await notify_admins(data, bot, _unknown_notice())
