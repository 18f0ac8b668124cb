"""Quiz sessions and askings (the stored message a press names).

Over 300 lines because this is the one module that writes ``quiz_sessions`` and ``askings``:
the statements other db/ modules run on them inside their own transaction (a /daily
delivery's session, a sent post's message, a quiz answer's mark) are here too, at the end.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.limits import CACHE_BOUND
from bot.db import keyboards
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


@dataclass(frozen=True, slots=True)
class Asking:
    id: int
    kind: str  # quiz | channel
    session_id: int | None
    position: int | None
    question_id: str
    chat_id: int | None
    message_id: int | None
    order: tuple[int, ...]  # shown position -> bank index
    choices_sig: str
    closed: bool


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    chat_id: int
    user_id: int | None
    kind: str
    topic: str | None
    question_ids: tuple[str, ...]
    position: int
    right_count: int
    status: str
    started_at: datetime
    updated_at: datetime
    thread_id: int | None = None  # the forum topic it runs in

    @property
    def total(self) -> int:
        return len(self.question_ids)


def _asking(row: Row) -> Asking:
    return Asking(
        id=row["id"],
        kind=row["kind"],
        session_id=row["session_id"],
        position=row["position"],
        question_id=row["question_id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        order=tuple(int(x) for x in row["choice_order"].split(",") if x != ""),
        choices_sig=row["choices_sig"],
        closed=bool(row["closed"]),
    )


def _session(row: Row, prefix: str = "") -> Session:
    """A session from its row; ``prefix`` names its columns in a join (``s_id``, ...)."""
    return Session(
        id=row[f"{prefix}id"],
        chat_id=row[f"{prefix}chat_id"],
        user_id=row[f"{prefix}user_id"],
        kind=row[f"{prefix}kind"],
        topic=row[f"{prefix}topic"],
        question_ids=tuple(json.loads(row[f"{prefix}question_ids"])),
        position=row[f"{prefix}position"],
        right_count=row[f"{prefix}right_count"],
        status=row[f"{prefix}status"],
        started_at=from_iso(row[f"{prefix}started_at"]),
        updated_at=from_iso(row[f"{prefix}updated_at"]),
        thread_id=row[f"{prefix}thread_id"],
    )


# Another table's step when a group's chat id changes, run in the same transaction:
# ``move_chat`` of the module that owns it (db.answers, db.keyboards, db.games), which
# quizzes.py cannot import (db.answers imports it). The Store hands them over.
MoveChatStep = Callable[[Conn, int, int], Awaitable[None]]


_INSERT_ASKING = (
    "INSERT INTO askings (kind, session_id, position, question_id, chat_id, message_id, "
    "choice_order, choices_sig, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PLACE_ASKING = "UPDATE askings SET chat_id = ?, message_id = ? WHERE id = ?"


class Quizzes(Table):
    def __init__(
        self, database: Database, *, move_chat_steps: Sequence[MoveChatStep] = ()
    ) -> None:
        super().__init__(database)
        self._move_chat_steps = tuple(move_chat_steps)
        # Every channel press names its post's asking: kept in memory (see get_asking_and_session).
        self._channel_askings: dict[int, Asking] = {}

    async def start_session(
        self,
        *,
        chat_id: int,
        user_id: int | None,
        kind: str,
        topic: str | None,
        question_ids: Sequence[str],
        now: datetime,
        thread_id: int | None = None,
    ) -> int | None:
        """Open a session, stopping any other active one in the same chat (for that user).
        None in a group whose live game runs: one round at a time (db.games.start)."""
        async with self._tx() as db:
            if user_id is None:
                await self.database.hold(db, GROUP_ROUND, chat_id)
                cur = await db.execute(
                    "SELECT 1 FROM games WHERE chat_id = ? AND status = 'active'", (chat_id,)
                )
                if await cur.fetchone() is not None:
                    return None
                await db.execute(
                    "UPDATE quiz_sessions SET status = 'stopped', finished_at = ? "
                    "WHERE chat_id = ? AND status = 'active' AND kind != 'daily'",
                    (iso(now), chat_id),
                )
            else:
                await db.execute(
                    "UPDATE quiz_sessions SET status = 'stopped', finished_at = ? "
                    "WHERE chat_id = ? AND user_id = ? AND status = 'active' AND kind != 'daily'",
                    (iso(now), chat_id, user_id),
                )
            cur = await db.execute(
                "INSERT INTO quiz_sessions (chat_id, user_id, kind, topic, question_ids, "
                "started_at, updated_at, thread_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    user_id,
                    kind,
                    topic,
                    json.dumps(list(question_ids)),
                    iso(now),
                    iso(now),
                    thread_id,
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def migrate_chat(self, old: int, new: int) -> None:
        """A group became a supergroup (a new chat id): its quizzes, buttons and answers move
        with it, so presses there are honoured and the group's leaderboard carries on."""
        async with self._tx() as db:
            for table in ("quiz_sessions", "askings"):
                await db.execute(
                    f"UPDATE {table} SET chat_id = ? WHERE chat_id = ?",  # noqa: S608 - fixed names
                    (new, old),
                )
            for step in self._move_chat_steps:
                await step(db, old, new)

    async def get_session(self, session_id: int) -> Session | None:
        row = await self._one("SELECT * FROM quiz_sessions WHERE id = ?", (session_id,))
        return _session(row) if row else None

    async def active_session(self, chat_id: int, user_id: int | None) -> Session | None:
        if user_id is None:
            row = await self._one(
                "SELECT * FROM quiz_sessions WHERE chat_id = ? AND status = 'active' "
                "ORDER BY id DESC LIMIT 1",
                (chat_id,),
            )
        else:
            row = await self._one(
                "SELECT * FROM quiz_sessions WHERE chat_id = ? AND user_id = ? "
                "AND status = 'active' AND kind != 'daily' ORDER BY id DESC LIMIT 1",
                (chat_id, user_id),
            )
        return _session(row) if row else None

    async def end_session(self, session_id: int, status: str, now: datetime) -> bool:
        """Mark an active session finished/stopped/expired; False if it was not active.
        (``finished_at`` is read by no code: the operator's record of when a quiz ended;
        pruning goes by ``updated_at``.)"""
        changed = await self._write(
            "UPDATE quiz_sessions SET status = ?, finished_at = ?, updated_at = ? "
            "WHERE id = ? AND status = 'active'",
            (status, iso(now), iso(now), session_id),
        )
        if changed:
            await self._write(
                "UPDATE askings SET closed = 1 WHERE session_id = ? AND closed = 0", (session_id,)
            )
        return changed > 0

    async def advance_session(self, session_id: int, from_position: int, now: datetime) -> bool:
        """Move a session from ``from_position`` to the next; False if someone else did first."""
        changed = await self._write(
            "UPDATE quiz_sessions SET position = position + 1, updated_at = ? "
            "WHERE id = ? AND position = ? AND status = 'active'",
            (iso(now), session_id, from_position),
        )
        return changed > 0

    async def expire_sessions(self, older_than: datetime, now: datetime) -> int:
        async with self._tx() as db:
            cur = await db.execute(
                "UPDATE askings SET closed = 1 WHERE closed = 0 AND session_id IN "
                "(SELECT id FROM quiz_sessions WHERE status = 'active' AND kind != 'daily' "
                "AND updated_at < ?)",
                (iso(older_than),),
            )
            cur = await db.execute(
                "UPDATE quiz_sessions SET status = 'expired', finished_at = ? "
                "WHERE status = 'active' AND kind != 'daily' AND updated_at < ?",
                (iso(now), iso(older_than)),
            )
            return cur.rowcount

    async def prune(self, before: datetime) -> tuple[int, int, int]:
        """Forget what no button can reach any more, created before ``before``; keep every
        answer. Returns (askings, sessions, keyboards) deleted.

        An asking with an answer stays (deleting it would cascade to the answer), and so does
        a channel post's (its buttons live as long as the question); a session goes only when
        it is over and no asking points at it any more.
        """
        async with self._tx() as db:
            askings = await db.execute(
                "DELETE FROM askings WHERE kind != 'channel' AND created_at < ? "
                "AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.asking_id = askings.id) "
                "AND (session_id IS NULL OR EXISTS (SELECT 1 FROM quiz_sessions s "
                "WHERE s.id = askings.session_id AND s.status != 'active'))",
                (iso(before),),
            )
            sessions = await db.execute(
                "DELETE FROM quiz_sessions WHERE status != 'active' AND updated_at < ? "
                "AND NOT EXISTS (SELECT 1 FROM askings k WHERE k.session_id = quiz_sessions.id)",
                (iso(before),),
            )
            keyboards_deleted = await keyboards.prune(db, before)
            return askings.rowcount, sessions.rowcount, keyboards_deleted

    async def create_asking(
        self,
        *,
        kind: str,
        question_id: str,
        order: Sequence[int],
        choices_sig: str,
        now: datetime,
        session_id: int | None = None,
        position: int | None = None,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> int:
        """A new asking; ``message_id`` when it is shown by editing a message that exists."""
        return await self._insert(
            _INSERT_ASKING,
            (
                kind,
                session_id,
                position,
                question_id,
                chat_id,
                message_id,
                ",".join(map(str, order)),
                choices_sig,
                iso(now),
            ),
        )

    async def set_asking_message(self, asking_id: int, chat_id: int, message_id: int) -> None:
        """The message an asking was sent as: its buttons are honoured there only."""
        self._channel_askings.pop(asking_id, None)
        await self._write(_PLACE_ASKING, (chat_id, message_id, asking_id))

    async def bind_asking_message(self, asking_id: int, chat_id: int, message_id: int) -> bool:
        """Bind an asking whose message is not known yet to the message a press came from;
        False if another message was bound first (two presses at once: the first wins)."""
        self.forget_asking(asking_id)
        changed = await self._write(
            "UPDATE askings SET chat_id = ?, message_id = ? WHERE id = ? AND message_id IS NULL",
            (chat_id, message_id, asking_id),
        )
        return changed == 1

    def forget_asking(self, asking_id: int) -> None:
        """Drop an asking from the press path's cache: its row changed (this module owns the
        cache; ``ChannelPosts.post_sent`` calls this too)."""
        self._channel_askings.pop(asking_id, None)

    async def update_asking_choices(
        self, asking_id: int, order: Sequence[int], choices_sig: str
    ) -> None:
        self._channel_askings.pop(asking_id, None)
        await self._write(
            "UPDATE askings SET choice_order = ?, choices_sig = ? WHERE id = ?",
            (",".join(map(str, order)), choices_sig, asking_id),
        )

    async def get_asking_and_session(self, asking_id: int) -> tuple[Asking | None, Session | None]:
        """An asking and the session it belongs to, in one query (the press path)."""
        cached = self._channel_askings.get(asking_id)
        if cached is not None:
            return cached, None
        row = await self._one(
            "SELECT k.*, s.id AS s_id, s.chat_id AS s_chat_id, s.user_id AS s_user_id, "
            "s.kind AS s_kind, s.topic AS s_topic, s.question_ids AS s_question_ids, "
            "s.position AS s_position, s.right_count AS s_right_count, s.status AS s_status, "
            "s.started_at AS s_started_at, s.updated_at AS s_updated_at, "
            "s.thread_id AS s_thread_id "
            "FROM askings k LEFT JOIN quiz_sessions s ON s.id = k.session_id WHERE k.id = ?",
            (asking_id,),
        )
        if row is None:
            return None, None
        session = _session(row, "s_") if row["s_id"] is not None else None
        asking = _asking(row)
        # Only a channel asking whose message is known is cached: one still being sent (or
        # sent with an unknown outcome) changes when its message becomes known, and a stale
        # copy would refuse every press on the post until a restart.
        if asking.kind == "channel" and asking.message_id is not None:
            if len(self._channel_askings) > CACHE_BOUND:
                self._channel_askings.clear()
            self._channel_askings[asking.id] = asking
        return asking, session

    async def get_asking(self, asking_id: int) -> Asking | None:
        row = await self._one("SELECT * FROM askings WHERE id = ?", (asking_id,))
        return _asking(row) if row else None

    async def close_asking(self, asking_id: int) -> None:
        await self._write("UPDATE askings SET closed = 1 WHERE id = ?", (asking_id,))

    async def asking_answers(self, asking_id: int) -> list[tuple[int, str, bool]]:
        """(user_id, first name, correct) for each answer to an asking, in answer order."""
        rows = await self._all(
            "SELECT a.user_id, COALESCE(u.first_name, '') AS first_name, a.correct "
            "FROM answers a LEFT JOIN users u ON u.user_id = a.user_id "
            "WHERE a.asking_id = ? ORDER BY a.id",
            (asking_id,),
        )
        return [(r["user_id"], r["first_name"], bool(r["correct"])) for r in rows]

    async def session_results(self, session_id: int) -> list[tuple[int, str, str, bool, int]]:
        """(user_id, first name, question_id, correct, points) for every answer in a session."""
        rows = await self._all(
            "SELECT a.user_id, COALESCE(u.first_name, ''), a.question_id, a.correct, a.points "
            "FROM answers a JOIN askings k ON k.id = a.asking_id "
            "LEFT JOIN users u ON u.user_id = a.user_id WHERE k.session_id = ? ORDER BY a.id",
            (session_id,),
        )
        return [(r[0], r[1], r[2], bool(r[3]), int(r[4])) for r in rows]


# /forget's statements here (``forget_user``), each given the user's id.
_FORGET = (
    "DELETE FROM quiz_sessions WHERE user_id = ?",
    "DELETE FROM quiz_sessions WHERE chat_id = ?",
)


async def forget_user(db: Conn, user_id: int) -> int:
    """/forget (contract §6), in the caller's transaction: the user's quiz sessions, and every
    session of their private chat (chat_id == user_id), with their askings (ON DELETE CASCADE).
    Returns the rows deleted."""
    return await changed_by_each(db, _FORGET, (user_id,))


# ---- Writes other db/ modules make inside their own transaction: this module owns
# quiz_sessions and askings, so their SQL is here.


async def open_daily_session(
    db: Conn,
    *,
    user_id: int,
    question_id: str,
    order: Sequence[int],
    choices_sig: str,
    now: datetime,
) -> tuple[int, int]:
    """A /daily delivery's one-question session in the user's private chat, and its asking
    (db.daily, in the delivery's transaction). Returns (session id, asking id)."""
    cur = await db.execute(
        "INSERT INTO quiz_sessions (chat_id, user_id, kind, topic, question_ids, "
        "started_at, updated_at) VALUES (?, ?, 'daily', NULL, ?, ?, ?)",
        (user_id, user_id, json.dumps([question_id]), iso(now), iso(now)),
    )
    session_id = cur.lastrowid
    assert session_id is not None
    cur = await db.execute(
        _INSERT_ASKING,
        (
            "quiz",
            session_id,
            0,
            question_id,
            user_id,
            None,
            ",".join(map(str, order)),
            choices_sig,
            iso(now),
        ),
    )
    asking_id = cur.lastrowid
    assert asking_id is not None
    return session_id, asking_id


async def place_asking(db: Conn, asking_id: int, chat_id: int, message_id: int) -> None:
    """The message an asking was sent as (db.channel, db.daily: in their transaction). The
    caller drops it from ``Quizzes``' cache after the commit (``forget_asking``)."""
    await db.execute(_PLACE_ASKING, (chat_id, message_id, asking_id))


async def count_answer(
    db: Conn, *, asking_id: int, correct: bool, at: str, advance_session: int | None
) -> None:
    """A quiz answer's mark on its session (db.answers, in the answer's transaction): with
    ``advance_session``, a right answer counted and the session moved on (the asking needs
    no "closed" mark: its position is now behind the session's); else only touched. ``at``:
    the answer's time as stored (``iso``)."""
    if advance_session is not None:
        await db.execute(
            "UPDATE quiz_sessions SET right_count = right_count + ?, "
            "position = position + 1, updated_at = ? WHERE id = ?",
            (int(correct), at, advance_session),
        )
    else:
        await db.execute(
            "UPDATE quiz_sessions SET updated_at = ? WHERE id = "
            "(SELECT session_id FROM askings WHERE id = ?)",
            (at, asking_id),
        )
