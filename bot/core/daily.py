"""The daily question's rules, with no Telegram and no SQLite: arguments and due moments.

Days are the channel's days (``TIMEZONE``): every subscriber's delivery belongs to the
channel day in which their moment falls, so one day has one question for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import parse_time


@dataclass(frozen=True, slots=True)
class DailyArgs:
    """What ``/daily [HH:MM|off]`` asks for: ``off``, a time of day, or the channel's time."""

    off: bool = False
    at: time | None = None  # None: follow the channel's posting time as it is at each day


def parse_args(args: list[str]) -> DailyArgs:
    """``[]``, ``off`` or ``HH:MM``; ValueError (with a usable message) for anything else."""
    if not args:
        return DailyArgs()
    if len(args) == 1 and args[0].lower() in {"off", "stop"}:
        return DailyArgs(off=True)
    if len(args) == 1 and len(args[0]) <= 8:
        at = parse_time(args[0])
        return DailyArgs(at=at.replace(second=0))
    raise ValueError("use /daily, /daily HH:MM or /daily off")


def due_on(day: date, channel_zone: ZoneInfo, zone: ZoneInfo, at: time) -> datetime | None:
    """The moment ``at`` in ``zone`` that falls on the channel's ``day``; None if none does.

    A subscriber far from TIMEZONE has their time on a neighbouring local date: try the day
    before, the day itself and the day after, in the subscriber's zone (wall-clock time, so
    DST keeps the local time).
    """
    for offset in (-1, 0, 1):
        moment = datetime.combine(day + timedelta(days=offset), at, tzinfo=zone)
        if moment.astimezone(channel_zone).date() == day:
            return moment
    return None


def channel_day(now: datetime, channel_zone: ZoneInfo) -> date:
    return now.astimezone(channel_zone).date()
