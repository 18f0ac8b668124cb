"""Spaced repetition with FSRS (the ``fsrs`` package): when a question comes back.

Pure: no Telegram, no SQLite. A card is FSRS's memory state of one question for one learner,
kept as the JSON of ``fsrs.Card.to_dict()`` so the package's own format is what we store.

A press is graded ``Rating.Good`` (right) or ``Rating.Again`` (wrong), never Hard or Easy: a
button quiz sees which choice was pressed, not how hard the recall felt, and FSRS's Hard/Easy
are self-ratings of that feeling.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fsrs import Card, Rating, Scheduler

# One learning step of 10 minutes: a miss on a new question comes back in 10 minutes, a right
# answer graduates it to days at once (the default 1 min + 10 min steps would bring a question
# answered right back within the hour, which a quiz learner reads as "already asked").
# Fuzzing off: it spreads a big deck's reviews with random(), so the same answers would give
# different due dates; a learner's /review asks what is due, and tests need one answer.
# Built once, here: measured on the 2-core machine, review() costs 15-30 us per answer (the
# card's JSON both ways ~12 us, Scheduler.review_card ~9 us), about 1% of a quiz answer's CPU;
# building a Scheduler per answer would add ~2 us. Nothing here is worth more cutting.
SCHEDULER = Scheduler(learning_steps=(timedelta(minutes=10),), enable_fuzzing=False)


@dataclass(frozen=True, slots=True)
class Review:
    """A question's FSRS card after an answer, and when it is due again."""

    card_json: str
    due_at: datetime


def _utc(now: datetime) -> datetime:
    # fsrs insists on tzinfo == timezone.utc, not merely an aware datetime.
    return now.astimezone(UTC)


def new_card(now: datetime) -> Card:
    # A fixed card_id: Card() would read the wall clock and sleep 1 ms to make one up, and
    # our cards are keyed by (user, question) anyway.
    return Card(card_id=1, due=_utc(now))


def load(card_json: str | None, now: datetime) -> Card:
    if card_json is None:
        return new_card(now)
    return Card.from_dict(json.loads(card_json))


def review(card_json: str | None, correct: bool, now: datetime) -> Review:
    """The card after one graded press at ``now``."""
    rating = Rating.Good if correct else Rating.Again
    card, _log = SCHEDULER.review_card(load(card_json, now), rating, _utc(now))
    return Review(json.dumps(card.to_dict()), card.due)


def replay(answers: Iterable[tuple[bool, datetime]]) -> Review | None:
    """A card rebuilt from a question's answer log, oldest first; None for no answers."""
    result: Review | None = None
    for correct, at in answers:
        result = review(result.card_json if result else None, correct, at)
    return result
