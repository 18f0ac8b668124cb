"""Channel schedule rules with no Telegram and no SQLite: queue order, slots, parsing.

The queue is a stable shuffle: each question's place in a cycle is a hash of (seed, cycle, id).
So the order survives restarts and reloads without being stored, a question added later slots
into the current cycle, a removed one simply drops out, and each cycle is shuffled anew.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.config import parse_time
from bot.core.related import spread

WARN_DAYS = 7


def queue_key(seed: str, cycle: int, question_id: str) -> bytes:
    return hashlib.blake2s(f"{seed}:{cycle}:{question_id}".encode(), digest_size=8).digest()


def cycle_queue(
    question_ids: Iterable[str],
    done: set[str],
    seed: str,
    cycle: int,
    related: Mapping[str, Set[str]] | None = None,
) -> list[str]:
    """The questions still to post in ``cycle``, in posting order.

    The whole cycle is ordered (and related entries spread apart) before the posted ones are
    dropped, so the order does not depend on what is done: what is left posts in the order
    the full cycle had, and two entries of one fact are never next to each other in it.
    """
    order = sorted(question_ids, key=lambda qid: queue_key(seed, cycle, qid))
    if related:
        order = spread(order, related)
    return [qid for qid in order if qid not in done]


def daily_slot(day: date) -> str:
    return f"daily:{day.isoformat()}"


def daily_day(slot: str) -> date | None:
    """The day of a ``daily:YYYY-MM-DD`` slot; None for any other slot."""
    if not slot.startswith("daily:"):
        return None
    try:
        return date.fromisoformat(slot.removeprefix("daily:"))
    except ValueError:
        return None


def extra_slot(extra_id: int) -> str:
    return f"extra:{extra_id}"


def todays_post_at(now: datetime, zone: ZoneInfo, at: time) -> datetime:
    """Today's posting moment in ``zone`` (wall-clock time, so DST keeps the local time)."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), at, tzinfo=zone)


def missed_today(now: datetime, zone: ZoneInfo, at: time) -> bool:
    """Has today's posting time already passed (so a bot that was down should catch up)?"""
    return now >= todays_post_at(now, zone, at)


def same_local_day(a: datetime, b: datetime, zone: ZoneInfo) -> bool:
    return a.astimezone(zone).date() == b.astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class ExtraRequest:
    run_at: datetime
    question_id: str | None


_EXTRA_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2}(?::\d{2})?)(?:\s+([a-z0-9-]{1,40}))?$", re.ASCII
)


def parse_extra(text: str, zone: ZoneInfo) -> ExtraRequest:
    """``YYYY-MM-DD HH:MM [question_id]`` in ``zone``; ValueError with a usable message."""
    match = _EXTRA_RE.match(text.strip())
    if not match:
        raise ValueError("use /schedule YYYY-MM-DD HH:MM [question_id]")
    try:
        day = date.fromisoformat(match[1])
    except ValueError as exc:
        raise ValueError(f"{match[1]} is not a date") from exc
    at = parse_time(match[2])
    return ExtraRequest(datetime.combine(day, at, tzinfo=zone), match[3])


def days_left(remaining: int, extras_pending: int) -> int:
    """Days until the cycle's unposted questions run out at one daily post (extras eat some)."""
    return max(0, remaining - extras_pending)
