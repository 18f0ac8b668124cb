"""Quiz rules with no Telegram and no SQLite: points, streaks, picking.

When a question comes back for review is FSRS's call: ``core.srs``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.core.models import Question
from bot.core.related import spread

POINTS = {"easy": 1, "medium": 2, "hard": 3}
DEFAULT_COUNT = 5
MAX_COUNT = 20


def points_for(q: Question, correct: bool) -> int:
    return POINTS.get(q.difficulty, 2) if correct else 0


def local_day(now: datetime, zone: tzinfo) -> str:
    """The user's calendar day for ``now`` (UTC-aware) in their zone, as YYYY-MM-DD."""
    return now.astimezone(zone).date().isoformat()


def streaks(days: Iterable[str], today: str) -> tuple[int, int]:
    """(current, best) runs of consecutive days with an answer.

    The current streak still counts on a day with no answer yet, as long as yesterday had one:
    a learner who answered every day this week is on a 7-day streak at breakfast.
    """
    ordered = sorted({date.fromisoformat(d) for d in days})
    if not ordered:
        return 0, 0
    best = run = 1
    for prev, cur in itertools.pairwise(ordered):
        run = run + 1 if cur - prev == timedelta(days=1) else 1
        best = max(best, run)
    last = ordered[-1]
    t = date.fromisoformat(today)
    current = run if t - last <= timedelta(days=1) else 0
    return current, best


def pick_questions(
    candidates: Sequence[Question],
    seen: set[str],
    due: dict[str, datetime],
    count: int,
    rng: random.Random,
    *,
    related: Mapping[str, Set[str]] | None = None,
) -> list[str]:
    """Unseen questions first (shuffled), then seen ones soonest-due first; two entries of
    one fact (``related``) are not asked back to back when anything else can go between."""
    unseen = [q.id for q in candidates if q.id not in seen]
    rng.shuffle(unseen)
    seen_ids = [q.id for q in candidates if q.id in seen]
    far = datetime.max.replace(tzinfo=UTC)
    seen_ids.sort(key=lambda qid: due.get(qid, far))
    order = unseen + seen_ids
    # Spread before cutting: a short quiz then takes an unrelated entry rather than a twin.
    return spread(order, related, count) if related else order[:count]


def pick_due(
    candidates: Sequence[Question],
    due: dict[str, datetime],
    now: datetime,
    *,
    related: Mapping[str, Set[str]] | None = None,
) -> list[str]:
    """Exactly the questions whose review is due, most overdue first (a related one waits
    for the next unrelated one rather than follow its twin)."""
    ids = [q.id for q in candidates if q.id in due and due[q.id] <= now]
    ids.sort(key=lambda qid: due[qid])
    return spread(ids, related) if related else ids


def shuffled_order(n: int, rng: random.Random) -> list[int]:
    order = list(range(n))
    rng.shuffle(order)
    return order


def ascii_int(word: str) -> int | None:
    """``word`` as a number if it is ASCII digits only, else None.

    ``str.isdigit`` is True for "²" and "١٢" (and ``int`` takes the latter): commands take
    ASCII digits, anything else is a usage reply, never a traceback.
    """
    if word.isascii() and word.isdigit() and len(word) <= 9:
        return int(word)
    return None


def parse_quiz_args(args: Sequence[str]) -> tuple[str | None, int]:
    """``/quiz [topic words] [count]`` -> (topic text or None, count clamped to 1..20).

    ValueError for a count that is not ASCII digits (superscripts, fullwidth or Arabic digits).
    """
    words = list(args)
    count = DEFAULT_COUNT
    if words and (words[-1].isdigit() or words[-1].isnumeric()):
        number = ascii_int(words[-1])
        if number is None:
            raise ValueError(f"{words[-1]!r} is not a count")
        words.pop()
        count = max(1, min(MAX_COUNT, number))
    topic = " ".join(words).strip() or None
    return topic, count
