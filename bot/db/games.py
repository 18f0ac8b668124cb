"""Live group games (contract §11): the game, its questions with their deadlines, and the
speed points of each answer. The answer itself is an ``answers`` row (db.answers), recorded
in the same transaction, so a game answer counts once as a quiz answer or not at all.

A little over 300 lines: ``games``, ``game_questions`` and ``game_answers`` are written here
only (/forget and a group's new chat id included), one module per thing kept."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.db.answers import AnswerRecord, Answers, Recorded
from bot.db.connection import (
    GROUP_ROUND,
    Conn,
    Database,
    Row,
    Table,
    changed_by_each,
    from_iso,
    iso,
)


def exact(dt: datetime) -> str:
    """UTC ISO-8601 to the microsecond (``iso`` keeps whole seconds): speed points and
    deadlines need the fraction. Same offset, so text order is still time order."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _when(text: str | None) -> datetime | None:
    return from_iso(text) if text else None


class Busy(StrEnum):
    """Why a group's game did not start: its round is taken."""

    GAME = "game"
    QUIZ = "quiz"


class QuestionClosed(Exception):
    """The question closed before this press was recorded: nothing is written."""


@dataclass(frozen=True, slots=True)
class Game:
    id: int
    chat_id: int
    thread_id: int | None
    starter_id: int
    topic: str | None
    question_ids: tuple[str, ...]
    seconds: int
    status: str
    started_at: datetime

    @property
    def total(self) -> int:
        return len(self.question_ids)


@dataclass(frozen=True, slots=True)
class GameQuestion:
    game_id: int
    position: int
    asking_id: int
    opened_at: datetime | None  # when its message was sent (None: not yet known)
    deadline: datetime | None
    closed_at: datetime | None
    refreshes: tuple[float, ...]  # planned time-left refreshes, seconds after opened_at


@dataclass(frozen=True, slots=True)
class GameAnswer:
    user_id: int
    name: str
    position: int
    correct: bool
    points: int
    elapsed_ms: int


def _game(row: Row) -> Game:
    return Game(
        id=row["id"],
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        starter_id=row["starter_id"],
        topic=row["topic"],
        question_ids=tuple(json.loads(row["question_ids"])),
        seconds=row["seconds"],
        status=row["status"],
        started_at=from_iso(row["started_at"]),
    )


def _question(row: Row) -> GameQuestion:
    return GameQuestion(
        game_id=row["game_id"],
        position=row["position"],
        asking_id=row["asking_id"],
        opened_at=_when(row["opened_at"]),
        deadline=_when(row["deadline"]),
        closed_at=_when(row["closed_at"]),
        refreshes=tuple(float(x) for x in row["refreshes"].split(",") if x),
    )


class Games(Table):
    def __init__(self, database: Database, answers: Answers) -> None:
        super().__init__(database)
        self._answers = answers

    async def start(
        self,
        *,
        chat_id: int,
        thread_id: int | None,
        starter_id: int,
        topic: str | None,
        question_ids: Sequence[str],
        seconds: int,
        now: datetime,
    ) -> int | Busy:
        """A new active game, or what the group is busy with: one round at a time, a game or
        a group quiz (checked in the transaction under the group's round lock, as
        db.quizzes.start_session does; the partial unique index games_one_active backs up the
        one game)."""
        async with self._tx() as db:
            await self.database.hold(db, GROUP_ROUND, chat_id)
            cur = await db.execute(
                "SELECT 1 FROM games WHERE chat_id = ? AND status = 'active'", (chat_id,)
            )
            if await cur.fetchone() is not None:
                return Busy.GAME
            cur = await db.execute(
                "SELECT 1 FROM quiz_sessions WHERE chat_id = ? AND user_id IS NULL "
                "AND status = 'active'",
                (chat_id,),
            )
            if await cur.fetchone() is not None:
                return Busy.QUIZ
            cur = await db.execute(
                "INSERT INTO games (chat_id, thread_id, starter_id, topic, question_ids, "
                "seconds, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    thread_id,
                    starter_id,
                    topic,
                    json.dumps(list(question_ids)),
                    seconds,
                    iso(now),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def get(self, game_id: int) -> Game | None:
        row = await self._one("SELECT * FROM games WHERE id = ?", (game_id,))
        return _game(row) if row else None

    async def active(self, chat_id: int) -> Game | None:
        row = await self._one(
            "SELECT * FROM games WHERE chat_id = ? AND status = 'active'", (chat_id,)
        )
        return _game(row) if row else None

    async def all_active(self) -> list[Game]:
        rows = await self._all("SELECT * FROM games WHERE status = 'active' ORDER BY id")
        return [_game(r) for r in rows]

    async def end(self, game_id: int, status: str, now: datetime) -> bool:
        """End an active game (finished, stopped, blocked); False if it was not active.
        Its open question closes with it, so no press counts after."""
        async with self._tx() as db:
            cur = await db.execute(
                # finished_at is read by no code: the operator's record of when a game ended.
                "UPDATE games SET status = ?, finished_at = ? WHERE id = ? AND status = 'active'",
                (status, iso(now), game_id),
            )
            if cur.rowcount == 0:
                return False
            await db.execute(
                "UPDATE game_questions SET closed_at = ? WHERE game_id = ? AND closed_at IS NULL",
                (exact(now), game_id),
            )
            return True

    async def add_question(self, game_id: int, position: int, asking_id: int) -> bool:
        """The question at ``position`` is being asked; False if it was asked already."""
        changed = await self._write(
            "INSERT INTO game_questions (game_id, position, asking_id) VALUES (?, ?, ?) "
            "ON CONFLICT (game_id, position) DO NOTHING",
            (game_id, position, asking_id),
        )
        return changed > 0

    async def open_question(
        self,
        game_id: int,
        position: int,
        *,
        opened_at: datetime,
        deadline: datetime,
        refreshes: Sequence[float],
    ) -> None:
        """Its message is out: points count from ``opened_at``, it closes at ``deadline``."""
        await self._write(
            "UPDATE game_questions SET opened_at = ?, deadline = ?, refreshes = ? "
            "WHERE game_id = ? AND position = ?",
            (
                exact(opened_at),
                exact(deadline),
                ",".join(f"{r:g}" for r in refreshes),
                game_id,
                position,
            ),
        )

    async def question(self, game_id: int, position: int) -> GameQuestion | None:
        row = await self._one(
            "SELECT * FROM game_questions WHERE game_id = ? AND position = ?",
            (game_id, position),
        )
        return _question(row) if row else None

    async def by_asking(self, asking_id: int) -> tuple[Game, GameQuestion] | None:
        """The game and question an asking belongs to (a press names the asking)."""
        # One query (this is on every press); the two tables share no column name.
        row = await self._one(
            "SELECT g.*, q.* FROM game_questions q JOIN games g ON g.id = q.game_id "
            "WHERE q.asking_id = ?",
            (asking_id,),
        )
        return None if row is None else (_game(row), _question(row))

    async def last_question(self, game_id: int) -> GameQuestion | None:
        row = await self._one(
            "SELECT * FROM game_questions WHERE game_id = ? ORDER BY position DESC LIMIT 1",
            (game_id,),
        )
        return _question(row) if row else None

    async def close_question(self, game_id: int, position: int, now: datetime) -> bool:
        """Close an open question; False if it was closed already (the deadline and an early
        close race: exactly one of them reveals it)."""
        changed = await self._write(
            "UPDATE game_questions SET closed_at = ? "
            "WHERE game_id = ? AND position = ? AND closed_at IS NULL",
            (exact(now), game_id, position),
        )
        return changed > 0

    async def record(
        self,
        rec: AnswerRecord,
        *,
        game_id: int,
        position: int,
        points: int,
        elapsed_ms: int,
    ) -> Recorded | None:
        """Record a game answer exactly once, as a quiz answer and its speed points, in one
        transaction; None if it was recorded before. QuestionClosed (nothing written) if it
        closed meanwhile."""

        async def speed_points(db: Conn) -> None:
            cur = await db.execute(
                "INSERT INTO game_answers (asking_id, user_id, game_id, position, correct, "
                "points, elapsed_ms) SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM "
                "game_questions WHERE game_id = ? AND position = ? AND closed_at IS NULL)",
                (
                    rec.asking_id,
                    rec.user_id,
                    game_id,
                    position,
                    int(rec.correct),
                    points,
                    elapsed_ms,
                    game_id,
                    position,
                ),
            )
            if cur.rowcount == 0:
                raise QuestionClosed  # rolls the answer back too

        return await self._answers.record_answer(rec, also=speed_points)

    async def answers(self, game_id: int, position: int | None = None) -> list[GameAnswer]:
        """A game's answers (of one question, or all), in the order they were recorded."""
        where, params = "g.game_id = ?", [game_id]
        if position is not None:
            where += " AND g.position = ?"
            params.append(position)
        rows = await self._all(
            "SELECT g.user_id, COALESCE(u.first_name, '') AS first_name, g.position, "  # noqa: S608 - fixed fragments
            "g.correct, g.points, g.elapsed_ms FROM game_answers g "
            f"LEFT JOIN users u ON u.user_id = g.user_id WHERE {where} "
            "ORDER BY g.position, g.elapsed_ms, g.user_id",
            params,
        )
        return [
            GameAnswer(
                r["user_id"],
                r["first_name"],
                r["position"],
                bool(r["correct"]),
                int(r["points"]),
                int(r["elapsed_ms"]),
            )
            for r in rows
        ]

    async def players_before(self, game_id: int, position: int) -> set[int]:
        rows = await self._all(
            "SELECT DISTINCT user_id FROM game_answers WHERE game_id = ? AND position < ?",
            (game_id, position),
        )
        return {int(r[0]) for r in rows}

    async def answered(self, game_id: int, position: int) -> set[int]:
        rows = await self._all(
            "SELECT user_id FROM game_answers WHERE game_id = ? AND position = ?",
            (game_id, position),
        )
        return {int(r[0]) for r in rows}


# /forget's statements here (``forget_user``), each given the user's id.
_FORGET = (
    "DELETE FROM game_answers WHERE user_id = ?",
    "UPDATE games SET starter_id = 0 WHERE starter_id = ?",
)


async def forget_user(db: Conn, user_id: int) -> int:
    """/forget (contract §6), in the caller's transaction: the user's game answers; the games they
    started keep going, started by nobody (0). Returns the rows deleted."""
    return await changed_by_each(db, _FORGET, (user_id,))


async def move_chat(db: Conn, old: int, new: int) -> None:
    """A group's new chat id (db.quizzes' migrate_chat, in its transaction)."""
    await db.execute("UPDATE games SET chat_id = ? WHERE chat_id = ?", (new, old))
