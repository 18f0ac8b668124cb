"""Users: names, time zones, leaderboard hiding, pending reports, /forget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.db import totals
from bot.db.connection import Conn, Database, Table, changed_by_each, from_iso, iso


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    first_name: str
    timezone: str | None
    hidden: bool
    report_asking_id: int | None
    report_since: datetime | None = None  # when the pending report was asked for


# users.created_at is read by no code: when the bot first saw the user, for the operator.
UPSERT_USER = (
    "INSERT INTO users (user_id, first_name, created_at, last_seen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name, "
    "last_seen = excluded.last_seen"
)


# Another table's /forget step, run in the same transaction: ``forget_user`` of the module
# that owns that table (db.answers, db.quizzes, ...), which users.py cannot import (they
# import it). The Store hands them over.
ForgetStep = Callable[[Conn, int], Awaitable[int]]


class Users(Table):
    def __init__(
        self,
        database: Database,
        *,
        forget_steps: Sequence[ForgetStep] = (),
        names: dict[int, str] | None = None,
    ) -> None:
        super().__init__(database)
        self._forget_steps = tuple(forget_steps)
        self._names = {} if names is None else names  # db.answers' known names (Store)

    async def touch_user(self, user_id: int, first_name: str, now: datetime) -> None:
        await self._write(UPSERT_USER, (user_id, first_name, iso(now), iso(now)))

    async def get_user(self, user_id: int) -> User | None:
        row = await self._one("SELECT * FROM users WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return User(
            user_id=row["user_id"],
            first_name=row["first_name"],
            timezone=row["timezone"],
            hidden=bool(row["hidden"]),
            report_asking_id=row["report_asking_id"],
            report_since=from_iso(row["report_since"]) if row["report_since"] else None,
        )

    async def user_timezones(self, limit: int) -> dict[int, str]:
        """The /timezone of the ``limit`` most recently seen users who set one, oldest first
        (the rest use TIMEZONE)."""
        rows = await self._all(
            "SELECT user_id, timezone FROM ("
            "SELECT user_id, timezone, last_seen FROM users WHERE timezone IS NOT NULL "
            "ORDER BY last_seen DESC LIMIT ?) AS recent ORDER BY last_seen",
            (limit,),
        )
        return {r[0]: r[1] for r in rows}

    async def set_timezone(self, user_id: int, first_name: str, zone: str, now: datetime) -> None:
        async with self._tx() as db:
            await db.execute(UPSERT_USER, (user_id, first_name, iso(now), iso(now)))
            await db.execute("UPDATE users SET timezone = ? WHERE user_id = ?", (zone, user_id))

    async def set_hidden(self, user_id: int, first_name: str, hidden: bool, now: datetime) -> None:
        async with self._tx() as db:
            await db.execute(UPSERT_USER, (user_id, first_name, iso(now), iso(now)))
            await db.execute(
                "UPDATE users SET hidden = ? WHERE user_id = ?", (int(hidden), user_id)
            )
            await totals.set_hidden(db, user_id, hidden)

    async def set_report_pending(
        self, user_id: int, asking_id: int | None, now: datetime | None = None
    ) -> None:
        """The user's next private text is a report on this asking (None: no longer)."""
        await self._write(
            "UPDATE users SET report_asking_id = ?, report_since = ? WHERE user_id = ?",
            (asking_id, iso(now) if now and asking_id else None, user_id),
        )

    async def record_report(self, user_id: int, question_id: str, now: datetime) -> bool:
        """Keep a sent report, and clear the pending one; False if this user already
        reported this question (nothing kept)."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE users SET report_asking_id = NULL, report_since = NULL WHERE user_id = ?",
                (user_id,),
            )
            cur = await db.execute(
                "INSERT INTO reports (user_id, question_id, sent_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, question_id) DO NOTHING",
                (user_id, question_id, iso(now)),
            )
            return cur.rowcount > 0

    async def has_reported(self, user_id: int, question_id: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM reports WHERE user_id = ? AND question_id = ?", (user_id, question_id)
        )
        return row is not None

    async def reports_since(self, user_id: int, since: datetime) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM reports WHERE user_id = ? AND sent_at >= ?",
            (user_id, iso(since)),
        )
        return int(row[0]) if row else 0

    async def forget_user(self, user_id: int) -> int:
        """Delete every row about a user (contract §6), in one transaction: each table by
        the module that owns its writes (``forget_steps``); returns the rows deleted."""
        async with self._tx() as db:
            await totals.subtract_user(db, user_id)  # first: it reads the answers going now
            total = 0
            for step in self._forget_steps:
                total += await step(db, user_id)
            total += await changed_by_each(
                db,
                ("DELETE FROM users WHERE user_id = ?", "DELETE FROM reports WHERE user_id = ?"),
                (user_id,),
            )
        self._names.pop(user_id, None)  # the row is gone: the next answer writes it again
        return total

    async def rows_about_user(self, user_id: int) -> int:
        row = await self._one(
            "SELECT (SELECT COUNT(*) FROM answers WHERE user_id = ?)"
            " + (SELECT COUNT(*) FROM cards WHERE user_id = ?)"
            " + (SELECT COUNT(*) FROM quiz_sessions WHERE user_id = ? OR chat_id = ?)"
            " + (SELECT COUNT(*) FROM users WHERE user_id = ?)"
            " + (SELECT COUNT(*) FROM score_totals WHERE user_id = ?)",
            [user_id] * 6,
        )
        return int(row[0]) if row else 0


async def upsert_users(db: Conn, seen: Sequence[tuple[int, str, str]]) -> None:
    """(user id, first name, when seen as stored: ``iso``) rows in the caller's transaction
    (db.answers records an answer and its user together)."""
    await db.executemany(UPSERT_USER, [(u, name, at, at) for u, name, at in seen])
