"""/daily: subscriptions, the day's question, and one delivery row per subscriber per day.

A row's ``day`` is the subscriber's local date (core/daily_moments.py says why), which is
also the day whose question it carries.

A delivery row is 'pending' when its moment has come, 'sending' from just before its send
(committed first), then 'sent', 'blocked' (403: the user is unsubscribed in the same
transaction), 'failed' (Telegram refused it), 'unknown' (no answer after the request went
out), 'missed' (the bot was down all that day) or 'skipped' (its question left the bank).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.db import quizzes
from bot.db.connection import Conn, Row, Table, changed_by_each, from_iso, iso


@dataclass(frozen=True, slots=True)
class Subscription:
    user_id: int
    at: str | None  # HH:MM in the user's zone; None: the channel's posting time
    since: datetime
    timezone: str | None  # the user's /timezone, if set


@dataclass(frozen=True, slots=True)
class Delivery:
    day: str
    user_id: int
    question_id: str
    status: str
    session_id: int | None
    asking_id: int | None
    zone: str | None = None  # the subscriber's zone for their days; None: TIMEZONE


# The zone a subscriber's days are counted in: their /timezone when they chose a time of their
# own, TIMEZONE (NULL here) when they follow the channel's time or set no /timezone.
_ZONE = "CASE WHEN s.at IS NULL THEN NULL ELSE u.timezone END"


@dataclass(frozen=True, slots=True)
class DayQuestion:
    day: str
    question_id: str
    cycle: int
    chosen_at: datetime


def _delivery(row: Row) -> Delivery:
    return Delivery(
        day=row["day"],
        user_id=row["user_id"],
        question_id=row["question_id"],
        status=row["status"],
        session_id=row["session_id"],
        asking_id=row["asking_id"],
        zone=row["zone"],
    )


class Daily(Table):
    # ------------------------------------------------------------ subscriptions

    async def subscribe(self, user_id: int, at: str | None, now: datetime) -> None:
        await self._write(
            "INSERT INTO daily_subscriptions (user_id, at, since) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET at = excluded.at, since = excluded.since",
            (user_id, at, iso(now)),
        )

    async def unsubscribe(self, user_id: int) -> bool:
        return (
            await self._write("DELETE FROM daily_subscriptions WHERE user_id = ?", (user_id,)) > 0
        )

    async def subscription(self, user_id: int) -> Subscription | None:
        rows = await self._subscriptions("WHERE s.user_id = ?", (user_id,))
        return rows[0] if rows else None

    async def count(self) -> int:
        row = await self._one("SELECT COUNT(*) FROM daily_subscriptions")
        return int(row[0]) if row else 0

    async def zones(self) -> list[str | None]:
        """The zones subscribers' days are counted in (None: TIMEZONE); a handful."""
        rows = await self._all(
            f"SELECT DISTINCT {_ZONE} FROM daily_subscriptions s "  # noqa: S608
            "LEFT JOIN users u ON u.user_id = s.user_id"
        )
        return [r[0] for r in rows]

    async def unplanned(self, day: str, zones: Sequence[str | None]) -> list[Subscription]:
        """Subscribers whose days are counted in one of ``zones`` (all of them on the same
        date now) with no delivery row for ``day``; the cheap test on the row comes first."""
        named = [z for z in zones if z is not None]
        tests = [f"({_ZONE}) IS NULL"] if None in zones else []
        if named:
            tests.append(f"({_ZONE}) IN ({', '.join('?' for _ in named)})")
        return await self._subscriptions(
            "WHERE NOT EXISTS (SELECT 1 FROM daily_deliveries d "  # noqa: S608
            f"WHERE d.day = ? AND d.user_id = s.user_id) AND ({' OR '.join(tests) or '0 = 1'})",
            (day, *named),
        )

    async def _subscriptions(self, where: str, params: Sequence[object]) -> list[Subscription]:
        rows = await self._all(
            "SELECT s.user_id, s.at, s.since, u.timezone FROM daily_subscriptions s "  # noqa: S608
            f"LEFT JOIN users u ON u.user_id = s.user_id {where}",
            params,
        )
        return [Subscription(r[0], r[1], from_iso(r[2]), r[3]) for r in rows]

    # ------------------------------------------------------------ the day's question

    async def day_question(self, day: str) -> DayQuestion | None:
        row = await self._one("SELECT * FROM daily_questions WHERE day = ?", (day,))
        if row is None:
            return None
        return DayQuestion(
            row["day"], row["question_id"], row["cycle"], from_iso(row["chosen_at"])
        )

    async def choose(self, day: str, question_id: str, cycle: int, now: datetime) -> bool:
        """Keep ``question_id`` as the day's question: False if a question was chosen for
        ``day`` first, or ``question_id`` for another day of ``cycle`` (another process
        planning at the same moment; unique ``daily_questions_once``)."""
        changed = await self._write(
            "INSERT INTO daily_questions (day, question_id, cycle, chosen_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (day, question_id, cycle, iso(now)),
        )
        return changed == 1

    async def replace_question(self, day: str, question_id: str, cycle: int) -> bool:
        """The day's question left the bank (a /reload): a new one stands in from now on.
        False if ``question_id`` is another day's in ``cycle`` already."""
        changed = await self._write(
            "UPDATE daily_questions SET question_id = ?, cycle = ? WHERE day = ? "
            "AND NOT EXISTS (SELECT 1 FROM daily_questions AS other "
            "WHERE other.cycle = ? AND other.question_id = ?)",
            (question_id, cycle, day, cycle, question_id),
        )
        return changed == 1

    async def chosen_in_cycle(self, cycle: int) -> set[str]:
        rows = await self._all("SELECT question_id FROM daily_questions WHERE cycle = ?", (cycle,))
        return {r[0] for r in rows}

    async def answered_since(self, user_id: int, question_id: str, since: datetime) -> bool:
        """Has the user answered this question (quiz or channel) since ``since``?"""
        row = await self._one(
            "SELECT 1 FROM answers WHERE user_id = ? AND question_id = ? AND answered_at >= ? "
            "LIMIT 1",
            (user_id, question_id, iso(since)),
        )
        return row is not None

    # ------------------------------------------------------------ deliveries

    async def plan(
        self, day: str, question_id: str, due: Sequence[tuple[int, datetime]], now: datetime
    ) -> int:
        """Add a 'pending' row per (user, moment); a row that exists is left alone."""
        async with self._tx() as db:
            cur = await db.executemany(
                "INSERT INTO daily_deliveries (day, user_id, question_id, due_at, status, "
                "updated_at) VALUES (?, ?, ?, ?, 'pending', ?) "
                "ON CONFLICT (day, user_id) DO NOTHING",
                [(day, uid, question_id, iso(at), iso(now)) for uid, at in due],
            )
            # PostgreSQL's pipelined executemany reports no count: there, the rows asked for.
            return cur.rowcount if cur.rowcount >= 0 else len(due)

    async def open_rows(self, limit: int) -> list[Delivery]:
        """The rows still to send, oldest moment first, with the zone their day is in."""
        rows = await self._all(
            f"SELECT d.*, {_ZONE} AS zone FROM daily_deliveries d "  # noqa: S608
            "LEFT JOIN daily_subscriptions s ON s.user_id = d.user_id "
            "LEFT JOIN users u ON u.user_id = d.user_id "
            "WHERE d.status IN ('pending', 'sending') ORDER BY d.due_at, d.user_id LIMIT ?",
            (limit,),
        )
        return [_delivery(r) for r in rows]

    async def count_status(self, day: str, status: str) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM daily_deliveries WHERE day = ? AND status = ?", (day, status)
        )
        return int(row[0]) if row else 0

    async def expire_before(self, day: str, now: datetime) -> int:
        """Rows of days before ``day`` never sent: a days-old question is not delivered late."""
        return await self._write(
            "UPDATE daily_deliveries SET status = 'missed', updated_at = ? "
            "WHERE status IN ('pending', 'sending') AND day < ?",
            (iso(now), day),
        )

    async def begin(
        self, d: Delivery, *, order: Sequence[int] | None, choices_sig: str, now: datetime
    ) -> tuple[int | None, int | None, tuple[int, ...]] | None:
        """Claim a row: mark it 'sending' (committed before the send); (session, asking, order).

        None when the row is no longer owed: the user said /daily off, or changed their time
        (a moment before the subscription is not owed), or /forget took the row, after it was
        planned. That is checked in the very statement that claims the row, so a run planned
        minutes ago sends nothing to someone who left since; a cancelled row is deleted (a
        new time later that day is then planned afresh).
        With ``order``, the row gets a one-question session of kind 'daily' and its asking,
        made once: a resend after a crash reuses them, so the answer still counts once.
        Unlike /quiz, a daily session stops no other quiz (and no other quiz stops it).
        """
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE daily_deliveries SET status = 'sending', updated_at = ? "
                "WHERE day = ? AND user_id = ? AND EXISTS (SELECT 1 FROM daily_subscriptions s"
                " WHERE s.user_id = daily_deliveries.user_id"
                " AND s.since <= daily_deliveries.due_at)",
                (iso(now), d.day, d.user_id),
            )
            if cur.rowcount == 0:
                await db.execute(
                    "DELETE FROM daily_deliveries WHERE day = ? AND user_id = ?",
                    (d.day, d.user_id),
                )
                return None
            if order is None:
                return None, None, ()
            if d.asking_id is not None:
                cur = await db.execute(
                    "SELECT choice_order FROM askings WHERE id = ?", (d.asking_id,)
                )
                row = await cur.fetchone()
                if row is not None:
                    kept = tuple(int(x) for x in row[0].split(",") if x != "")
                    return d.session_id, d.asking_id, kept
            session_id, asking_id = await quizzes.open_daily_session(
                db,
                user_id=d.user_id,
                question_id=d.question_id,
                order=order,
                choices_sig=choices_sig,
                now=now,
            )
            await db.execute(
                "UPDATE daily_deliveries SET session_id = ?, asking_id = ? "
                "WHERE day = ? AND user_id = ?",
                (session_id, asking_id, d.day, d.user_id),
            )
            return session_id, asking_id, tuple(order)

    async def finish(
        self, d: Delivery, status: str, now: datetime, message_id: int | None = None
    ) -> None:
        """Settle a row; 'blocked' also ends the subscription, in the same transaction."""
        async with self._tx() as db:
            await db.execute(
                "UPDATE daily_deliveries SET status = ?, message_id = ?, updated_at = ? "
                "WHERE day = ? AND user_id = ?",
                (status, message_id, iso(now), d.day, d.user_id),
            )
            if status == "blocked":
                await db.execute("DELETE FROM daily_subscriptions WHERE user_id = ?", (d.user_id,))
            if message_id is not None and d.asking_id is not None:
                await quizzes.place_asking(db, d.asking_id, d.user_id, message_id)

    async def release(self, d: Delivery, now: datetime) -> None:
        """Back to 'pending' (a flood wait): the next run sends it."""
        await self._write(
            "UPDATE daily_deliveries SET status = 'pending', updated_at = ? "
            "WHERE day = ? AND user_id = ?",
            (iso(now), d.day, d.user_id),
        )


# /forget's statements here (``forget_user``), each given the user's id.
_FORGET = (
    "DELETE FROM daily_subscriptions WHERE user_id = ?",
    "DELETE FROM daily_deliveries WHERE user_id = ?",
)


async def forget_user(db: Conn, user_id: int) -> int:
    """/forget (contract §6), in the caller's transaction: the user's /daily subscription and
    deliveries. Returns the rows deleted."""
    return await changed_by_each(db, _FORGET, (user_id,))
