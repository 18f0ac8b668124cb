"""Read-only aggregates: scores, boards, ranks, tallies, admin statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.db.connection import Table, iso


def _board_filter(since: datetime | None, chat_id: int | None) -> tuple[str, list[Any]]:
    where = ["a.source = 'quiz'", "u.hidden = 0"]
    params: list[Any] = []
    if since is not None:
        where.append("a.answered_at >= ?")
        params.append(iso(since))
    if chat_id is not None:
        where.append("a.chat_id = ?")
        params.append(chat_id)
    return " AND ".join(where), params


class Stats(Table):
    async def score(self, user_id: int, source: str = "quiz") -> tuple[int, int, int]:
        """(points, answered, right) of a user's answers from one source."""
        row = await self._one(
            "SELECT COALESCE(SUM(points), 0), COUNT(*), COALESCE(SUM(correct), 0) "
            "FROM answers WHERE user_id = ? AND source = ?",
            (user_id, source),
        )
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])

    async def answer_days(self, user_id: int) -> list[str]:
        """The days (in the user's zone when they answered) with a scored answer: a quiz or
        review press, or the daily question; a channel press earns no points, so no streak."""
        rows = await self._all(
            "SELECT DISTINCT local_day FROM answers WHERE user_id = ? "
            "AND source IN ('quiz', 'daily') ORDER BY local_day",
            (user_id,),
        )
        return [r["local_day"] for r in rows]

    async def per_question(self, user_id: int) -> list[tuple[str, int, int]]:
        """(question_id, answered, right) over a user's quiz answers."""
        rows = await self._all(
            "SELECT question_id, COUNT(*), SUM(correct) FROM answers "
            "WHERE user_id = ? AND source = 'quiz' GROUP BY question_id",
            (user_id,),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    async def leaderboard(
        self, *, since: datetime | None, chat_id: int | None, limit: int = 10
    ) -> list[tuple[int, str, int]]:
        """(user_id, first name, points), best first; hidden users left out."""
        where, params = _board_filter(since, chat_id)
        rows = await self._all(
            "SELECT a.user_id, u.first_name, SUM(a.points) AS pts FROM answers a "  # noqa: S608
            f"JOIN users u ON u.user_id = a.user_id WHERE {where} "  # fixed fragments only
            "GROUP BY a.user_id HAVING pts > 0 ORDER BY pts DESC, MIN(a.id) LIMIT ?",
            [*params, limit],
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def rank(
        self, user_id: int, *, since: datetime | None, chat_id: int | None
    ) -> tuple[int, int] | None:
        """(rank, points) of a user on a board, or None when they have no points there."""
        where, params = _board_filter(since, chat_id)
        rows = await self._all(
            "SELECT a.user_id, SUM(a.points) AS pts FROM answers a "  # noqa: S608
            f"JOIN users u ON u.user_id = a.user_id WHERE {where} "  # fixed fragments only
            "GROUP BY a.user_id HAVING pts > 0 ORDER BY pts DESC, MIN(a.id)",
            params,
        )
        for i, r in enumerate(rows, start=1):
            if r[0] == user_id:
                return i, int(r[1])
        return None

    async def tally(self, asking_id: int) -> tuple[int, int]:
        row = await self._one(
            "SELECT COUNT(*), COALESCE(SUM(correct), 0) FROM answers WHERE asking_id = ?",
            (asking_id,),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def post_stats(self, limit: int = 10) -> list[tuple[str, str, int, int]]:
        """(question_id, sent_at, answered, right) for the latest sent posts."""
        rows = await self._all(
            "SELECT p.question_id, p.sent_at, COUNT(a.id), COALESCE(SUM(a.correct), 0) "
            "FROM channel_posts p LEFT JOIN answers a ON a.asking_id = p.asking_id "
            "WHERE p.status = 'sent' GROUP BY p.id ORDER BY p.id DESC LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1] or "", int(r[2]), int(r[3])) for r in rows]

    async def hardest_questions(
        self, min_answers: int = 3, limit: int = 5
    ) -> list[tuple[str, int, int]]:
        rows = await self._all(
            "SELECT question_id, COUNT(*) AS n, SUM(correct) AS r FROM answers "
            "GROUP BY question_id HAVING n >= ? ORDER BY 1.0 * r / n, n DESC LIMIT ?",
            (min_answers, limit),
        )
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    async def active_users(self, since: datetime) -> tuple[int, int]:
        """(channel readers, quiz learners) who answered since ``since``."""
        row = await self._one(
            "SELECT COUNT(DISTINCT CASE WHEN source = 'channel' THEN user_id END), "
            "COUNT(DISTINCT CASE WHEN source = 'quiz' THEN user_id END) "
            "FROM answers WHERE answered_at >= ?",
            (iso(since),),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def count(self, table: str) -> int:
        if table not in {
            "answers",
            "users",
            "askings",
            "quiz_sessions",
            "channel_posts",
            "reviews",
            "cards",
        }:
            raise ValueError(f"unknown table {table!r}")
        row = await self._one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - checked name
        return int(row[0]) if row else 0
