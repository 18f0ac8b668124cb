"""Live group games (contract §11) as pure rules: arguments, points, when a question closes,
the podium's order, and the plan that keeps a group within its message budget.

No Telegram and no SQLite here: times are plain seconds or datetimes handed in by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.rules import ascii_int

DEFAULT_COUNT = 10
MAX_COUNT = 20
DEFAULT_SECONDS = 20
MIN_SECONDS = 10
MAX_SECONDS = 120
MAX_POINTS = 1000

# Telegram: about 20 messages a minute in one group, edits included (contract §6). The bot's
# limiter (runtime.ratelimit) spaces them 3 s apart; the plan below keeps the game's own
# messages -- question, time-left refreshes, reveal, podium -- within the same 20 in every
# 60 s window, so no refresh ever queues in front of a reveal or the next question.
GROUP_BUDGET = 20
WINDOW = 60.0
REFRESH_EVERY = 10.0  # seconds between two time-left refreshes, at best
MAX_REFRESHES = 6  # per question, however long it is open
# A press that arrived just before the deadline is still being recorded when the close runs:
# the close waits this long past the deadline (the press's time is what counts, not this).
CLOSE_GRACE = timedelta(seconds=0.5)


@dataclass(frozen=True, slots=True)
class GameArgs:
    topic: str | None
    count: int
    seconds: int


def parse_args(args: Sequence[str]) -> GameArgs:
    """``/game [topic words] [count] [seconds]``: trailing numbers are count, then seconds.

    ValueError for a number out of range, one not in ASCII digits (superscripts, Arabic-Indic
    digits), or more than two numbers.
    """
    words = list(args)
    numbers: list[int] = []
    while words and (words[-1].isdigit() or words[-1].isnumeric()) and len(numbers) < 3:
        number = ascii_int(words[-1])
        if number is None:
            raise ValueError(f"{words[-1]!r} is not a number")
        numbers.insert(0, number)
        words.pop()
    if len(numbers) > 2:
        raise ValueError("at most a count and a number of seconds")
    count = numbers[0] if numbers else DEFAULT_COUNT
    seconds = numbers[1] if len(numbers) > 1 else DEFAULT_SECONDS
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count {count} is not 1-{MAX_COUNT}")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ValueError(f"{seconds} seconds is not {MIN_SECONDS}-{MAX_SECONDS}")
    topic = " ".join(words).strip() or None
    return GameArgs(topic, count, seconds)


def points(correct: bool, elapsed: float, seconds: int) -> int:
    """``round(1000 * (1 - t / (2 * seconds)))`` for a right answer, 0 for a wrong one.

    ``elapsed`` is bounded to the question's open time: a right answer earns 500 to 1000.
    """
    if not correct:
        return 0
    t = min(max(elapsed, 0.0), float(seconds))
    return round(MAX_POINTS * (1 - t / (2 * seconds)))


def closes_early(earlier: Iterable[int], answered_now: Iterable[int]) -> bool:
    """Everyone who answered an earlier question of the game has answered this one.

    Nobody answered before (the first question, or a silent group): it runs to its deadline.
    """
    players = set(earlier)
    return bool(players) and players <= set(answered_now)


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: int
    name: str
    points: int
    right: int
    answered: int
    first_at: float  # when they first answered (ties: the earlier player ranks higher)


def podium(standings: Iterable[Standing]) -> list[Standing]:
    """Everyone, best first: points, then right answers, then who answered first."""
    return sorted(standings, key=lambda s: (-s.points, -s.right, s.first_at, s.user_id))


def refreshes_for(seconds: int) -> int:
    """How many time-left refreshes a question of ``seconds`` gets: about one every 10 s, at
    least one (a 10 s question shows "5 s left") and at most ``MAX_REFRESHES``."""
    return max(1, min(MAX_REFRESHES, int(seconds // REFRESH_EVERY)))


def refresh_offsets(seconds: int, count: int) -> list[float]:
    """When (seconds after the question's message) its ``count`` refreshes go: evenly spaced,
    whole seconds so the shown "N s left" reads well."""
    return [float(round(seconds * k / (count + 1))) for k in range(1, count + 1)]


def messages_per_question(refreshes: int) -> int:
    """The question's message, its refreshes and the reveal edit."""
    return refreshes + 2


def earliest_start(sent: Sequence[float], now: float, needed: int) -> float:
    """The earliest time ≥ ``now`` at which ``needed`` more messages, all within the next
    minute, keep every 60 s window at ≤ GROUP_BUDGET, given the times already ``sent``.

    Sound because every message of one question lies after its start: a window ending at or
    after the start holds at most the messages sent in the minute before the start, plus these.
    """
    allowed = GROUP_BUDGET - needed
    if allowed < 0:
        raise ValueError(f"{needed} messages never fit in {GROUP_BUDGET}")
    recent = sorted(t for t in sent if t > now - WINDOW)
    if len(recent) <= allowed:
        return now
    # The window (start - 60, start] may keep only the last ``allowed`` of them.
    return recent[len(recent) - allowed - 1] + WINDOW


@dataclass(frozen=True, slots=True)
class QuestionPlan:
    start: float  # when the question may be sent (seconds, the caller's clock)
    refreshes: list[float]  # offsets after its message


def plan_question(sent: Sequence[float], now: float, seconds: int) -> QuestionPlan:
    """The next question's start and refreshes: as many refreshes as its length earns, but
    fewer rather than waiting; wait (start later) only when even none would break the budget."""
    for count in range(refreshes_for(seconds), -1, -1):
        start = earliest_start(sent, now, messages_per_question(count))
        if start <= now:
            return QuestionPlan(now, refresh_offsets(seconds, count))
    count = refreshes_for(seconds)
    start = earliest_start(sent, now, messages_per_question(count))
    return QuestionPlan(start, refresh_offsets(seconds, count))


def seconds_left(deadline: datetime, now: datetime) -> int:
    """Whole seconds left, rounded up (0 once past)."""
    left = (deadline - now).total_seconds()
    return max(0, int(-(-left // 1)))


def prune_sent(sent: list[float], now: float) -> list[float]:
    """Only what can still count in a window (bounded memory)."""
    return [t for t in sent if t > now - WINDOW]


def totals(rows: Iterable[tuple[int, str, bool, int, float]]) -> list[Standing]:
    """Standings from (user_id, name, correct, points, answered_at seconds) rows."""
    acc: dict[int, list[float]] = {}
    names: dict[int, str] = {}
    for user_id, name, correct, pts, at in rows:
        entry = acc.setdefault(user_id, [0, 0, 0, at])
        entry[0] += pts
        entry[1] += int(correct)
        entry[2] += 1
        entry[3] = min(entry[3], at)
        names[user_id] = name
    return [
        Standing(uid, names[uid], int(e[0]), int(e[1]), int(e[2]), e[3]) for uid, e in acc.items()
    ]
