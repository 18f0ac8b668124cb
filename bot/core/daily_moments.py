"""The daily question's rules, with no Telegram and no SQLite: arguments and due moments.

A subscriber's days are their own local dates (their /timezone for a time of their own, else
``TIMEZONE``): each local date D has exactly one moment, and its delivery carries date D's
question, the one the channel posts on D. Keying by the subscriber's date, not by the channel
day the moment falls in, is what survives daylight saving time: when either zone changes its
clocks the two drift by an hour, and a channel day of 25 (or 23) hours would hold two (or
none) of a subscriber's moments, so they got one day's question twice and then none (or
missed a day); a local date always holds exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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


def moment_on(day: date, zone: ZoneInfo, at: time) -> datetime:
    """``at`` on the local date ``day`` in ``zone``, as a real instant.

    Wall-clock time, so DST keeps the local time. A time the clocks skip (02:30 on a
    spring-forward night in Berlin) comes as much later as they jump (03:30); a time they go
    through twice (02:30 on the fall-back night) comes the first time. So every local date
    has exactly one moment (PEP 495: ``fold=0`` reads a skipped time with the offset before
    the change; converting to UTC and back makes it a time that exists).
    """
    moment = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    return moment.astimezone(UTC).astimezone(zone)


def due_now(
    now: datetime, zone: ZoneInfo, at: time, since: datetime
) -> tuple[date, datetime] | None:
    """(local date, moment) when today's moment in ``zone`` has come; else None.

    Only the subscriber's current local date is owed (a bot that was down delivers when it
    comes back the same day, not days late), and not a moment before the subscription (or
    its last change): the first question comes at the next moment.
    """
    today = now.astimezone(zone).date()
    moment = moment_on(today, zone, at)
    if since <= moment <= now:
        return today, moment
    return None


def next_moment(now: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The first moment at or after ``now`` (what /daily tells a new subscriber)."""
    today = now.astimezone(zone).date()
    moment = moment_on(today, zone, at)
    return moment if moment >= now else moment_on(today + timedelta(days=1), zone, at)


def local_day(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()
