"""Quiz rules with no Telegram and no SQLite: points, spaced repetition, streaks, picking.

Spaced repetition is SM-2 (Wozniak, 1990), the schedule Anki grew from: a miss brings a
question back within minutes, each right answer multiplies the gap by the card's ease. We
grade a press as 4 ("right") or 1 ("wrong"); there is no self-rated recall in a button quiz.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from bot.core.models import Question

POINTS = {"easy": 1, "medium": 2, "hard": 3}
DEFAULT_COUNT = 5
MAX_COUNT = 20
RELEARN_AFTER = timedelta(minutes=10)
MIN_EASE = 1.3
START_EASE = 2.5


def points_for(q: Question, correct: bool) -> int:
    return POINTS.get(q.difficulty, 2) if correct else 0


@dataclass(frozen=True, slots=True)
class ReviewState:
    reps: int = 0  # right answers in a row
    interval_days: float = 0.0
    ease: float = START_EASE
    lapses: int = 0
    due_at: datetime | None = None


def next_review(state: ReviewState | None, correct: bool, now: datetime) -> ReviewState:
    """SM-2: 1 day, then 6 days, then the previous gap times the ease; a miss resets."""
    s = state or ReviewState()
    if not correct:
        ease = max(MIN_EASE, s.ease - 0.2)
        return ReviewState(0, 0.0, ease, s.lapses + 1, now + RELEARN_AFTER)
    reps = s.reps + 1
    if reps == 1:
        interval = 1.0
    elif reps == 2:
        interval = 6.0
    else:
        interval = max(s.interval_days, 1.0) * s.ease
    ease = s.ease + 0.1  # SM-2 with quality 4 leaves ease unchanged; 5 adds 0.1; we sit at 5-ish
    return ReviewState(reps, interval, ease, s.lapses, now + timedelta(days=interval))


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
) -> list[str]:
    """Unseen questions first (shuffled), then seen ones soonest-due first."""
    unseen = [q.id for q in candidates if q.id not in seen]
    rng.shuffle(unseen)
    seen_ids = [q.id for q in candidates if q.id in seen]
    far = datetime.max.replace(tzinfo=UTC)
    seen_ids.sort(key=lambda qid: due.get(qid, far))
    return (unseen + seen_ids)[:count]


def pick_due(candidates: Sequence[Question], due: dict[str, datetime], now: datetime) -> list[str]:
    """Exactly the questions whose review is due, most overdue first."""
    ids = [q.id for q in candidates if q.id in due and due[q.id] <= now]
    ids.sort(key=lambda qid: due[qid])
    return ids


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
