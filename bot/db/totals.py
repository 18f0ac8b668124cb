"""Running totals kept beside the answers, so no read ever aggregates the answers table.

Every answer adds to, in the same transaction that records it:

- ``score_totals``: points, answers and right answers per user, per scope (0 = everywhere, or
  the group chat a quiz ran in), per period (``all``; ``d``+the user's local day; ``w``+the
  Monday of that day's ISO week), per source (quiz or channel). ``hidden`` mirrors
  ``users.hidden`` so a board and a rank read one index;
- ``asking_totals``: a post's or quiz question's tally;
- ``question_totals``: per question, for /stats.

/forget subtracts a user's answers before deleting them; hiding flips ``hidden``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Protocol

from bot.db.connection import Conn

ALL = "all"
EVERYWHERE = 0


def day_key(local_day: str) -> str:
    return "d" + local_day


def week_key(local_day: str) -> str:
    day = date.fromisoformat(local_day)
    return "w" + (day - timedelta(days=day.weekday())).isoformat()


ADD_SCORE = (
    "INSERT INTO score_totals (user_id, scope, period, source, points, answered, right_count, "
    "first_id, hidden) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
    "COALESCE((SELECT hidden FROM users WHERE user_id = ?), 0)) "
    "ON CONFLICT (user_id, scope, period, source) DO UPDATE SET "
    "points = score_totals.points + excluded.points, "
    "answered = score_totals.answered + excluded.answered, "
    "right_count = score_totals.right_count + excluded.right_count"
)
ADD_ASKING = (
    "INSERT INTO asking_totals (asking_id, answered, right_count) VALUES (?, ?, ?) "
    "ON CONFLICT (asking_id) DO UPDATE SET "
    "answered = asking_totals.answered + excluded.answered, "
    "right_count = asking_totals.right_count + excluded.right_count"
)
ADD_QUESTION = (
    "INSERT INTO question_totals (question_id, answered, right_count) VALUES (?, ?, ?) "
    "ON CONFLICT (question_id) DO UPDATE SET "
    "answered = question_totals.answered + excluded.answered, "
    "right_count = question_totals.right_count + excluded.right_count"
)


class _Row(Protocol):
    """What one new answer carries into the totals (an AnswerRecord)."""

    @property
    def user_id(self) -> int: ...
    @property
    def chat_id(self) -> int: ...
    @property
    def asking_id(self) -> int: ...
    @property
    def question_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def correct(self) -> bool: ...
    @property
    def points(self) -> int: ...
    @property
    def local_day(self) -> str: ...


def _scopes(rec: _Row) -> tuple[int, ...]:
    # Quiz answers in a group (negative chat id) also count on that group's boards.
    if rec.source == "quiz" and rec.chat_id < 0:
        return (EVERYWHERE, rec.chat_id)
    return (EVERYWHERE,)


async def add_answers(db: Conn, new: Iterable[tuple[int, _Row]]) -> None:
    """Add newly inserted answers, given as (answer id, record), to every total."""
    scores: dict[tuple[int, int, str, str], list[int]] = {}
    askings: dict[int, list[int]] = {}
    questions: dict[str, list[int]] = {}
    for answer_id, rec in new:
        right = int(rec.correct)
        for scope in _scopes(rec):
            for period in (ALL, day_key(rec.local_day), week_key(rec.local_day)):
                key = (rec.user_id, scope, period, rec.source)
                acc = scores.setdefault(key, [0, 0, 0, answer_id])
                acc[0] += rec.points
                acc[1] += 1
                acc[2] += right
                acc[3] = min(acc[3], answer_id)
        tally = askings.setdefault(rec.asking_id, [0, 0])
        tally[0] += 1
        tally[1] += right
        per_question = questions.setdefault(rec.question_id, [0, 0])
        per_question[0] += 1
        per_question[1] += right
    if not scores:
        return
    # In key order: on PostgreSQL two transactions adding to the same rows then lock them in
    # the same order, so they wait for each other instead of deadlocking.
    await db.executemany(
        ADD_SCORE,
        [(*key, p, n, r, first, key[0]) for key, (p, n, r, first) in sorted(scores.items())],
    )
    await db.executemany(ADD_ASKING, [(k, n, r) for k, (n, r) in sorted(askings.items())])
    await db.executemany(ADD_QUESTION, [(k, n, r) for k, (n, r) in sorted(questions.items())])


async def subtract_user(db: Conn, user_id: int) -> None:
    """Take a user's answers out of the shared totals (before /forget deletes them)."""
    for table, column in (("asking_totals", "asking_id"), ("question_totals", "question_id")):
        cur = await db.execute(
            f"SELECT {column}, COUNT(*), COALESCE(SUM(correct), 0) FROM answers "  # noqa: S608
            f"WHERE user_id = ? GROUP BY {column}",  # fixed names only
            (user_id,),
        )
        rows = [(int(n), int(r), k) for k, n, r in await cur.fetchall()]
        await db.executemany(
            f"UPDATE {table} SET answered = answered - ?, "  # noqa: S608 - fixed names
            f"right_count = right_count - ? WHERE {column} = ?",
            rows,
        )
    await db.execute("DELETE FROM score_totals WHERE user_id = ?", (user_id,))


async def set_hidden(db: Conn, user_id: int, hidden: bool) -> None:
    await db.execute(
        "UPDATE score_totals SET hidden = ? WHERE user_id = ?", (int(hidden), user_id)
    )
