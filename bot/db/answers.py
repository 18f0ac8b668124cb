"""Answers, recorded exactly once; channel presses group-committed; FSRS review cards."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from bot.core import srs
from bot.core.limits import CACHE_BOUND
from bot.db import quizzes, totals, users
from bot.db.connection import CARD_REVIEW, Conn, Database, Table, changed_by_each, from_iso, iso


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One press to record; ``review``: its question's FSRS card is reviewed with it (quiz
    answers)."""

    asking_id: int
    user_id: int
    first_name: str
    chat_id: int
    question_id: str
    source: str
    choice: int
    correct: bool
    points: int
    now: datetime
    local_day: str
    review: bool = False


@dataclass(frozen=True, slots=True)
class Recorded:
    """A new answer, committed (``record_answer``)."""

    due_at: datetime | None = None  # with ``review``: when its question's card is due again


GROUP_COMMIT_MAX = 500  # rows per multi-row INSERT: 5,000 bound values, far below SQLite's cap


RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

# The one column list of an answers row (every INSERT INTO answers is built from it): a new
# column is added here and in ``_answer_row``, nowhere else.
_INSERT_ANSWERS = (
    "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, correct, "
    "points, answered_at, local_day) VALUES "
)
_ANSWER_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ONCE = " ON CONFLICT (asking_id, user_id) DO NOTHING"  # exactly once per (asking, user)
_CARD = "SELECT card FROM cards WHERE user_id = ? AND question_id = ?"
_AT: Final = 8  # answered_at's place in a row: the time as stored, for the rows written beside it


_Row = tuple[int, int, int, str, str, int, int, int, str, str]


def _answer_row(rec: AnswerRecord) -> _Row:
    """``rec`` as the values of ``_INSERT_ANSWERS``'s columns, in their order."""
    return (
        rec.asking_id,
        rec.user_id,
        rec.chat_id,
        rec.question_id,
        rec.source,
        rec.choice,
        int(rec.correct),
        rec.points,
        iso(rec.now),
        rec.local_day,
    )


class Answers(Table):
    def __init__(self, database: Database, names: dict[int, str] | None = None) -> None:
        super().__init__(database)
        # The users rows known to hold a name, by user id (bounded): an answer upserts its
        # user only when the name is not known to be there, so a returning reader's press
        # writes one row less. Filled after COMMIT; db.users' /forget drops its user's entry.
        self.names: dict[int, str] = {} if names is None else names
        # Channel presses arrive in bursts: they are committed in groups (see
        # record_channel_answer).
        self._pending: list[tuple[AnswerRecord, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def drain(self) -> None:
        """Wait for the group commit under way (at shutdown)."""
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)

    async def record_answer(
        self,
        rec: AnswerRecord,
        *,
        advance_session: int | None = None,
        also: Callable[[Conn], Awaitable[None]] | None = None,
    ) -> Recorded | None:
        """Record one press exactly once and commit; None if it was recorded before.

        For a private quiz, the same transaction closes the asking, counts a right answer on
        the session and moves it on, so a crash can never leave half of that done. ``also``
        runs in that transaction after a new answer (a live game's speed points, db.games).
        With ``rec.review``, the question's FSRS card is read, reviewed and written in it too,
        so two answers to one question at once (a group's quiz and a private one) review it one
        after the other. On SQLite transactions run one at a time. On PostgreSQL a reviewed
        answer first takes its learner's advisory lock (``Database.hold``), before any row
        lock: READ COMMITTED alone let two such transactions both read the card as it was
        before either (seen in the PostgreSQL pass), and the later write lost a review.
        """
        # The values are ready before the transaction opens: its body runs the statements.
        row = _answer_row(rec)
        at = row[_AT]
        upsert_user = self.names.get(rec.user_id) != rec.first_name
        async with self._tx() as db:
            if rec.review:
                await self.database.hold(db, CARD_REVIEW, rec.user_id)
            cur = await db.execute(_INSERT_ANSWERS + _ANSWER_VALUES + _ONCE, row)
            if cur.rowcount == 0:
                return None  # the transaction commits nothing
            assert cur.lastrowid is not None
            new = [(cur.lastrowid, rec)]
            await totals.add_answers(db, new)
            if upsert_user:
                await users.upsert_users(db, [(rec.user_id, rec.first_name, at)])
            due_at = None
            if rec.review:
                found = await (await db.execute(_CARD, (rec.user_id, rec.question_id))).fetchone()
                review = srs.review(None if found is None else found[0], rec.correct, rec.now)
                due_at = review.due_at
                # last_at is read by no code (the FSRS card's JSON has its own last review):
                # kept as a plain column for the operator's SQL beside due_at.
                await db.execute(
                    "INSERT INTO cards (user_id, question_id, card, due_at, last_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, question_id) DO UPDATE SET "
                    "card = excluded.card, due_at = excluded.due_at, last_at = excluded.last_at",
                    (rec.user_id, rec.question_id, review.card_json, iso(due_at), at),
                )
            if advance_session is not None or rec.source == "quiz":
                await quizzes.count_answer(
                    db,
                    asking_id=rec.asking_id,
                    correct=rec.correct,
                    at=at,
                    advance_session=advance_session,
                )
            if also is not None:
                await also(db)
        self._remember(new)
        return Recorded(due_at)

    def _remember(self, new: list[tuple[int, AnswerRecord]]) -> None:
        """Committed: the users rows of these new answers hold their names. SQLite only: on
        PostgreSQL other processes share the rows (a /forget there would leave this stale),
        so every answer upserts its user."""
        if self.database.dialect != "sqlite":
            return
        names = self.names
        if len(names) > CACHE_BOUND:
            names.clear()
        for _, rec in new:
            names[rec.user_id] = rec.first_name

    async def record_channel_answer(self, rec: AnswerRecord) -> bool:
        """Record a channel press exactly once; True if new. Returns only after COMMIT.

        Presses that arrive while a commit is under way wait and are committed together in
        the next one (group commit): under a burst, one transaction serves hundreds of
        readers, and still nobody is answered before their row is on disk.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((rec, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_channel_answers())
        async with self.database.waiting():
            return await future

    async def _flush_channel_answers(self) -> None:
        while self._pending:
            batch, self._pending = (
                self._pending[:GROUP_COMMIT_MAX],
                self._pending[GROUP_COMMIT_MAX:],
            )
            try:
                try:
                    inserted = await self._insert_channel_answers(batch)
                except Exception as exc:
                    if not self.database.lost(exc):
                        raise
                    # The connection went (a PostgreSQL restart): once more on a new one. The
                    # insert is ON CONFLICT DO NOTHING, so a batch whose COMMIT did land before
                    # the cut is not doubled (its presses then read "already answered").
                    inserted = await self._insert_channel_answers(batch)
            except Exception as exc:  # every waiter hears of it; the next batch may succeed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for rec, future in batch:
                key = (rec.asking_id, rec.user_id)
                if not future.done():
                    future.set_result(key in inserted)
                inserted.discard(key)  # a duplicate in the same batch is "already answered"

    async def _insert_channel_answers(
        self, batch: list[tuple[AnswerRecord, asyncio.Future[bool]]]
    ) -> set[tuple[int, int]]:
        unique: dict[tuple[int, int], tuple[AnswerRecord, _Row]] = {}
        params: list[object] = []  # of one multi-row INSERT
        for rec, _ in batch:
            if (rec.asking_id, rec.user_id) not in unique:
                entry = unique[rec.asking_id, rec.user_id] = (rec, _answer_row(rec))
                params.extend(entry[1])
        inserted: set[tuple[int, int]] = set()
        ids: list[tuple[int, AnswerRecord]] = []
        returning = RETURNING or self.database.dialect != "sqlite"
        values = ",".join([_ANSWER_VALUES] * len(unique))
        async with self._tx() as db:
            if returning:
                cur = await db.execute(
                    _INSERT_ANSWERS + values + _ONCE + " RETURNING id, asking_id, user_id", params
                )
                for answer_id, asking_id, user_id in await cur.fetchall():
                    inserted.add((asking_id, user_id))
                    ids.append((answer_id, unique[asking_id, user_id][0]))
            else:  # SQLite before 3.35 has no RETURNING: one statement per row
                for r, row in unique.values():
                    cur = await db.execute(_INSERT_ANSWERS + _ANSWER_VALUES + _ONCE, row)
                    if cur.rowcount:
                        assert cur.lastrowid is not None
                        inserted.add((r.asking_id, r.user_id))
                        ids.append((cur.lastrowid, r))
            seen: list[tuple[int, str, str]] = []
            for _, r in ids:  # new answers whose users row may not hold their name yet
                if self.names.get(r.user_id) != r.first_name:
                    at = unique[r.asking_id, r.user_id][1][_AT]
                    seen.append((r.user_id, r.first_name, at))
            await totals.add_answers(db, ids)
            if seen:
                await users.upsert_users(db, seen)
        self._remember(ids)
        return inserted

    async def card(self, user_id: int, question_id: str) -> str | None:
        """The FSRS card (JSON) of a learner's question, None before their first answer."""
        row = await self._one(_CARD, (user_id, question_id))
        return None if row is None else str(row["card"])

    async def due_dates(self, user_id: int) -> dict[str, datetime]:
        rows = await self._all(
            "SELECT question_id, due_at FROM cards WHERE user_id = ?", (user_id,)
        )
        return {r["question_id"]: from_iso(r["due_at"]) for r in rows}

    async def seen_questions(self, user_id: int) -> set[str]:
        rows = await self._all(
            "SELECT DISTINCT question_id FROM answers WHERE user_id = ?", (user_id,)
        )
        return {r["question_id"] for r in rows}


# /forget's statements here (``forget_user``), each given the user's id.
_FORGET = (
    "DELETE FROM answers WHERE user_id = ?",
    "DELETE FROM cards WHERE user_id = ?",
)


async def forget_user(db: Conn, user_id: int) -> int:
    """/forget (contract §6), in the caller's transaction: the user's answers and FSRS cards.
    Returns the rows deleted."""
    return await changed_by_each(db, _FORGET, (user_id,))


async def move_chat(db: Conn, old: int, new: int) -> None:
    """A group's new chat id (db.quizzes' migrate_chat, in its transaction)."""
    await db.execute("UPDATE answers SET chat_id = ? WHERE chat_id = ?", (new, old))
