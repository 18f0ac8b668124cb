"""Read-only aggregates: scores, boards, ranks, tallies, admin statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.db import totals
from bot.db.connection import Table, iso


@dataclass(frozen=True, slots=True)
class PostTally:
    """A sent channel post and its tally (from asking_totals)."""

    question_id: str
    asking_id: int | None
    chat_id: int | None
    message_id: int | None
    sent_at: str
    answered: int
    right: int


def _scope(chat_id: int | None) -> int:
    return totals.EVERYWHERE if chat_id is None else chat_id


class Stats(Table):
    """Every read here is a few index entries of the running totals (db/totals.py)."""

    async def score(self, user_id: int, source: str = "quiz") -> tuple[int, int, int]:
        """(points, answered, right) of a user's answers from one source."""
        row = await self._one(
            "SELECT points, answered, right_count FROM score_totals "
            "WHERE user_id = ? AND scope = 0 AND period = 'all' AND source = ?",
            (user_id, source),
        )
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    async def answer_days(self, user_id: int) -> list[str]:
        """The user's local days with a scored answer (a quiz or review press, or the daily
        question), oldest first; a channel press earns no points, so it makes no streak day."""
        rows = await self._all(
            "SELECT DISTINCT substr(period, 2) FROM score_totals "
            "WHERE user_id = ? AND scope = 0 AND period > 'd' AND period < 'e' "
            "AND source IN ('quiz', 'daily') ORDER BY 1",
            (user_id,),
        )
        return [r[0] for r in rows]

    async def day_totals(self, user_id: int, first: str, last: str) -> list[tuple[str, int, int]]:
        """(local day, answered, right) of a user's answers from every source on the days
        ``first``..``last`` (ISO dates, inclusive) that have any, oldest first."""
        rows = await self._all(
            "SELECT substr(period, 2), SUM(answered), SUM(right_count) FROM score_totals "
            "WHERE user_id = ? AND scope = 0 AND period >= ? AND period <= ? "
            "GROUP BY period ORDER BY period",
            (user_id, totals.day_key(first), totals.day_key(last)),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    async def posts_between(self, start: datetime, end: datetime) -> list[PostTally]:
        """Channel posts sent in [start, end), oldest first, with their tallies."""
        rows = await self._all(
            "SELECT p.question_id, p.asking_id, p.chat_id, p.message_id, p.sent_at, "
            "COALESCE(t.answered, 0), COALESCE(t.right_count, 0) FROM channel_posts p "
            "LEFT JOIN asking_totals t ON t.asking_id = p.asking_id "
            "WHERE p.status = 'sent' AND p.sent_at >= ? AND p.sent_at < ? "
            "ORDER BY p.sent_at, p.id",
            (iso(start), iso(end)),
        )
        return [PostTally(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6])) for r in rows]

    async def readers(self, asking_ids: Sequence[int]) -> int:
        """How many different people answered any of these askings (one index range each)."""
        ids = list(dict.fromkeys(asking_ids))[:100]  # a week's posts; bounded all the same
        if not ids:
            return 0
        marks = ", ".join("?" for _ in ids)
        row = await self._one(
            f"SELECT COUNT(DISTINCT user_id) FROM answers WHERE asking_id IN ({marks})",  # noqa: S608 - only ? marks
            ids,
        )
        return int(row[0]) if row else 0

    async def per_question(self, user_id: int) -> list[tuple[str, int, int]]:
        """(question_id, answered, right) over a user's quiz answers."""
        rows = await self._all(
            "SELECT question_id, COUNT(*), SUM(correct) FROM answers "
            "WHERE user_id = ? AND source = 'quiz' GROUP BY question_id",
            (user_id,),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    async def leaderboard(
        self, *, period: str, chat_id: int | None, limit: int = 10
    ) -> list[tuple[int, str, int]]:
        """(user_id, first name, points), best first (earliest first on a tie); no hidden users.

        ``period`` is ``totals.ALL``, ``totals.day_key(day)`` or ``totals.week_key(day)``.
        """
        rows = await self._all(
            "SELECT t.user_id, COALESCE(u.first_name, ''), t.points FROM score_totals t "
            "LEFT JOIN users u ON u.user_id = t.user_id "
            "WHERE t.source = 'quiz' AND t.scope = ? AND t.period = ? AND t.hidden = 0 "
            "AND t.points > 0 ORDER BY t.points DESC, t.first_id LIMIT ?",
            (_scope(chat_id), period, limit),
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def rank(
        self, user_id: int, *, period: str, chat_id: int | None
    ) -> tuple[int, int] | None:
        """(rank, points) of a user on a board, or None when they have no points there (or
        are hidden). Rank is 1 + the users with more points: a count over the board's index."""
        scope = _scope(chat_id)
        row = await self._one(
            "SELECT t.points, (SELECT COUNT(*) FROM score_totals o WHERE o.source = 'quiz' "
            "AND o.scope = t.scope AND o.period = t.period AND o.hidden = 0 "
            "AND o.points > t.points) FROM score_totals t WHERE t.user_id = ? AND t.scope = ? "
            "AND t.period = ? AND t.source = 'quiz' AND t.hidden = 0 AND t.points > 0",
            (user_id, scope, period),
        )
        return (1 + int(row[1]), int(row[0])) if row else None

    async def tally(self, asking_id: int) -> tuple[int, int]:
        row = await self._one(
            "SELECT answered, right_count FROM asking_totals WHERE asking_id = ?", (asking_id,)
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def post_stats(self, limit: int = 10) -> list[tuple[str, str, int, int]]:
        """(question_id, sent_at, answered, right) for the latest sent posts."""
        rows = await self._all(
            "SELECT p.question_id, p.sent_at, COALESCE(t.answered, 0), "
            "COALESCE(t.right_count, 0) FROM channel_posts p "
            "LEFT JOIN asking_totals t ON t.asking_id = p.asking_id "
            "WHERE p.status = 'sent' ORDER BY p.id DESC LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1] or "", int(r[2]), int(r[3])) for r in rows]

    async def hardest_questions(
        self, min_answers: int = 3, limit: int = 5
    ) -> list[tuple[str, int, int]]:
        rows = await self._all(
            "SELECT question_id, answered, right_count FROM question_totals "
            "WHERE answered >= ? ORDER BY 1.0 * right_count / answered, answered DESC LIMIT ?",
            (min_answers, limit),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    async def active_users(self, since: datetime) -> tuple[int, int]:
        """(channel readers, quiz learners) with an answer on a local day from ``since``'s
        (UTC) date on."""
        first = totals.day_key(since.astimezone(UTC).date().isoformat())
        out = []
        for source in ("channel", "quiz"):
            row = await self._one(
                "SELECT COUNT(DISTINCT user_id) FROM score_totals WHERE source = ? "
                "AND scope = 0 AND period >= ? AND period < 'e'",
                (source, first),
            )
            out.append(int(row[0]) if row else 0)
        return out[0], out[1]

    async def count(self, table: str) -> int:
        if table not in {
            "answers",
            "users",
            "askings",
            "quiz_sessions",
            "channel_posts",
            "cards",
        }:
            raise ValueError(f"unknown table {table!r}")
        row = await self._one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - checked name
        return int(row[0]) if row else 0
