"""The one place that talks to SQLite: every SQL statement of the bot lives here.

One aiosqlite connection, WAL journal (readers never block the writer), foreign keys on, and
an asyncio lock so one coroutine's transaction never interleaves with another's statements.
Methods that write return only after COMMIT: a caller may acknowledge to a user afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.migrations import MIGRATIONS, SCHEMA_VERSION
from bot.quiz import ReviewState

log = logging.getLogger(__name__)


def iso(dt: datetime) -> str:
    """UTC ISO-8601 with a fixed offset, so text order is time order."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


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

    @property
    def total(self) -> int:
        return len(self.question_ids)


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    first_name: str
    timezone: str | None
    hidden: bool
    report_asking_id: int | None


@dataclass(frozen=True, slots=True)
class ChannelPost:
    id: int
    slot: str | None
    question_id: str
    cycle: int
    status: str
    asking_id: int | None
    chat_id: int | None
    message_id: int | None
    created_at: datetime
    tally_shown: str | None


@dataclass(frozen=True, slots=True)
class ExtraPost:
    id: int
    run_at: datetime
    question_id: str | None


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One press to record; ``review`` is the new spaced-repetition state (quiz answers)."""

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
    review: ReviewState | None = None


def _asking(row: sqlite3.Row) -> Asking:
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


def _session(row: sqlite3.Row, prefix: str = "") -> Session:
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
    )


def _post(row: sqlite3.Row) -> ChannelPost:
    return ChannelPost(
        id=row["id"],
        slot=row["slot"],
        question_id=row["question_id"],
        cycle=row["cycle"],
        status=row["status"],
        asking_id=row["asking_id"],
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        created_at=from_iso(row["created_at"]),
        tally_shown=row["tally_shown"],
    )


class Store:
    """All persistent state. Open with ``await Store.open(path)``; close with ``close()``."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        # Channel presses arrive in bursts: they are committed in groups (see
        # record_channel_answer), and the askings they name are immutable but for /repost.
        self._pending: list[tuple[AnswerRecord, bool, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._channel_askings: dict[int, Asking] = {}

    # ------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, path: Path, *, busy_timeout: float = 10.0) -> Store:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
        # the block we wrote, not whatever the sqlite3 module decides to wrap.
        db = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout)
        db.row_factory = sqlite3.Row
        await db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a COMMIT survives a crash of this process (the WAL write is done
        # before COMMIT returns); only an OS crash or power cut may lose the newest commits.
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        # Another process holding the lock (a backup, an operator's sqlite3 shell) is waited
        # for this long; past that the press fails loudly and the user is asked to retry.
        await db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        store = cls(db)
        try:
            await store.migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        async with self._lock:
            await self._db.close()

    async def migrate(self) -> int:
        """Apply pending migrations, one transaction each; return the schema version."""
        async with self._lock:
            cur = await self._db.execute("PRAGMA user_version")
            row = await cur.fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the database is schema version {version}, newer than this bot "
                    f"({SCHEMA_VERSION}): upgrade the bot instead of downgrading the data"
                )
            for number in range(version, SCHEMA_VERSION):
                script = MIGRATIONS[number]
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(script):
                        await self._db.execute(statement)
                    await self._db.execute(f"PRAGMA user_version = {number + 1}")
                    await self._db.execute("COMMIT")
                except BaseException:
                    await self._db.execute("ROLLBACK")
                    raise
                log.info("database migrated to schema version %d", number + 1)
            return SCHEMA_VERSION

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return list(await cur.fetchall())

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return await cur.fetchone()

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement, committed on its own (autocommit); returns the rows changed."""
        async with self._lock:
            cur = await self._db.execute(sql, params)
            return cur.rowcount

    async def _insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One INSERT, committed on its own; returns the new rowid."""
        async with self._lock:
            cur = await self._db.execute(sql, params)
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def integrity_check(self) -> str:
        row = await self._one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    # ------------------------------------------------------------ key/value settings

    async def get_kv(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    async def set_kv(self, key: str, value: str | None) -> None:
        if value is None:
            await self._write("DELETE FROM kv WHERE key = ?", (key,))
        else:
            await self._write(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # ------------------------------------------------------------ users

    async def touch_user(self, user_id: int, first_name: str, now: datetime) -> None:
        await self._write(_UPSERT_USER, (user_id, first_name, iso(now), iso(now)))

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
        )

    async def user_timezones(self) -> dict[int, str]:
        """Every user's /timezone (only those who set one: the rest use TIMEZONE)."""
        rows = await self._all("SELECT user_id, timezone FROM users WHERE timezone IS NOT NULL")
        return {r[0]: r[1] for r in rows}

    async def set_timezone(self, user_id: int, first_name: str, zone: str, now: datetime) -> None:
        async with self._tx() as db:
            await db.execute(_UPSERT_USER, (user_id, first_name, iso(now), iso(now)))
            await db.execute("UPDATE users SET timezone = ? WHERE user_id = ?", (zone, user_id))

    async def set_hidden(self, user_id: int, first_name: str, hidden: bool, now: datetime) -> None:
        async with self._tx() as db:
            await db.execute(_UPSERT_USER, (user_id, first_name, iso(now), iso(now)))
            await db.execute(
                "UPDATE users SET hidden = ? WHERE user_id = ?", (int(hidden), user_id)
            )

    async def set_report_pending(self, user_id: int, asking_id: int | None) -> None:
        await self._write(
            "UPDATE users SET report_asking_id = ? WHERE user_id = ?", (asking_id, user_id)
        )

    async def forget_user(self, user_id: int) -> int:
        """Delete every row about a user (contract §6); returns the rows deleted."""
        async with self._tx() as db:
            total = 0
            for sql in (
                "DELETE FROM answers WHERE user_id = ?",
                "DELETE FROM reviews WHERE user_id = ?",
                "DELETE FROM quiz_sessions WHERE user_id = ?",
                "DELETE FROM users WHERE user_id = ?",
            ):
                cur = await db.execute(sql, (user_id,))
                total += cur.rowcount
            # Private chats have chat_id == user_id: their sessions and askings go too.
            cur = await db.execute("DELETE FROM quiz_sessions WHERE chat_id = ?", (user_id,))
            total += cur.rowcount
            return total

    async def rows_about_user(self, user_id: int) -> int:
        row = await self._one(
            "SELECT (SELECT COUNT(*) FROM answers WHERE user_id = ?)"
            " + (SELECT COUNT(*) FROM reviews WHERE user_id = ?)"
            " + (SELECT COUNT(*) FROM quiz_sessions WHERE user_id = ? OR chat_id = ?)"
            " + (SELECT COUNT(*) FROM users WHERE user_id = ?)",
            [user_id] * 5,
        )
        return int(row[0]) if row else 0

    # ------------------------------------------------------------ quiz sessions and askings

    async def start_session(
        self,
        *,
        chat_id: int,
        user_id: int | None,
        kind: str,
        topic: str | None,
        question_ids: Sequence[str],
        now: datetime,
    ) -> int:
        """Open a session, stopping any other active one in the same chat (for that user)."""
        async with self._tx() as db:
            if user_id is None:
                await db.execute(
                    "UPDATE quiz_sessions SET status = 'stopped', finished_at = ? "
                    "WHERE chat_id = ? AND status = 'active'",
                    (iso(now), chat_id),
                )
            else:
                await db.execute(
                    "UPDATE quiz_sessions SET status = 'stopped', finished_at = ? "
                    "WHERE chat_id = ? AND user_id = ? AND status = 'active'",
                    (iso(now), chat_id, user_id),
                )
            cur = await db.execute(
                "INSERT INTO quiz_sessions (chat_id, user_id, kind, topic, question_ids, "
                "started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    user_id,
                    kind,
                    topic,
                    json.dumps(list(question_ids)),
                    iso(now),
                    iso(now),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

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
                "AND status = 'active' ORDER BY id DESC LIMIT 1",
                (chat_id, user_id),
            )
        return _session(row) if row else None

    async def end_session(self, session_id: int, status: str, now: datetime) -> bool:
        """Mark an active session finished/stopped/expired; False if it was not active."""
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
                "(SELECT id FROM quiz_sessions WHERE status = 'active' AND updated_at < ?)",
                (iso(older_than),),
            )
            cur = await db.execute(
                "UPDATE quiz_sessions SET status = 'expired', finished_at = ? "
                "WHERE status = 'active' AND updated_at < ?",
                (iso(now), iso(older_than)),
            )
            return cur.rowcount

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
    ) -> int:
        return await self._insert(
            "INSERT INTO askings (kind, session_id, position, question_id, chat_id, "
            "choice_order, choices_sig, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                kind,
                session_id,
                position,
                question_id,
                chat_id,
                ",".join(map(str, order)),
                choices_sig,
                iso(now),
            ),
        )

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
            "s.started_at AS s_started_at, s.updated_at AS s_updated_at "
            "FROM askings k LEFT JOIN quiz_sessions s ON s.id = k.session_id WHERE k.id = ?",
            (asking_id,),
        )
        if row is None:
            return None, None
        session = _session(row, "s_") if row["s_id"] is not None else None
        asking = _asking(row)
        if asking.kind == "channel":
            if len(self._channel_askings) > 10_000:
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

    # ------------------------------------------------------------ answers

    async def record_answer(
        self, rec: AnswerRecord, *, advance_session: int | None = None, upsert_user: bool = True
    ) -> bool:
        """Record one press exactly once and commit; True if it was new.

        For a private quiz, the same transaction closes the asking, counts a right answer on
        the session and moves it on, so a crash can never leave half of that done.
        """
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, "
                "correct, points, answered_at, local_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (asking_id, user_id) DO NOTHING",
                (
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
                ),
            )
            if cur.rowcount == 0:
                return False
            if upsert_user:
                await db.execute(
                    _UPSERT_USER, (rec.user_id, rec.first_name, iso(rec.now), iso(rec.now))
                )
            if rec.review is not None:
                r = rec.review
                assert r.due_at is not None
                await db.execute(
                    "INSERT INTO reviews (user_id, question_id, reps, interval_days, ease, "
                    "lapses, "
                    "due_at, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (user_id, question_id) DO UPDATE SET reps = excluded.reps, "
                    "interval_days = excluded.interval_days, ease = excluded.ease, "
                    "lapses = excluded.lapses, due_at = excluded.due_at, "
                    "last_at = excluded.last_at",
                    (
                        rec.user_id,
                        rec.question_id,
                        r.reps,
                        r.interval_days,
                        r.ease,
                        r.lapses,
                        iso(r.due_at),
                        iso(rec.now),
                    ),
                )
            if advance_session is not None:
                # The asking needs no "closed" mark: its position is now behind the session's.
                await db.execute(
                    "UPDATE quiz_sessions SET right_count = right_count + ?, "
                    "position = position + 1, updated_at = ? WHERE id = ?",
                    (int(rec.correct), iso(rec.now), advance_session),
                )
            elif rec.source == "quiz":
                await db.execute(
                    "UPDATE quiz_sessions SET updated_at = ? WHERE id = "
                    "(SELECT session_id FROM askings WHERE id = ?)",
                    (iso(rec.now), rec.asking_id),
                )
            return True

    async def record_channel_answer(self, rec: AnswerRecord, *, upsert_user: bool = True) -> bool:
        """Record a channel press exactly once; True if new. Returns only after COMMIT.

        Presses that arrive while a commit is under way wait and are committed together in
        the next one (group commit): under a burst, one transaction serves hundreds of
        readers, and still nobody is answered before their row is on disk.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((rec, upsert_user, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_channel_answers())
        return await future

    async def _flush_channel_answers(self) -> None:
        while self._pending:
            batch, self._pending = (
                self._pending[:GROUP_COMMIT_MAX],
                self._pending[GROUP_COMMIT_MAX:],
            )
            try:
                inserted = await self._insert_channel_answers(batch)
            except Exception as exc:  # every waiter hears of it; the next batch may succeed
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for rec, _, future in batch:
                key = (rec.asking_id, rec.user_id)
                if not future.done():
                    future.set_result(key in inserted)
                inserted.discard(key)  # a duplicate in the same batch is "already answered"

    async def _insert_channel_answers(
        self, batch: list[tuple[AnswerRecord, bool, asyncio.Future[bool]]]
    ) -> set[tuple[int, int]]:
        unique: dict[tuple[int, int], tuple[AnswerRecord, bool]] = {}
        for rec, upsert, _ in batch:
            unique.setdefault((rec.asking_id, rec.user_id), (rec, upsert))
        rows = [
            (
                r.asking_id,
                r.user_id,
                r.chat_id,
                r.question_id,
                r.source,
                r.choice,
                int(r.correct),
                r.points,
                iso(r.now),
                r.local_day,
            )
            for r, _ in unique.values()
        ]
        async with self._tx() as db:
            inserted: set[tuple[int, int]] = set()
            if RETURNING:
                values = ",".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
                cur = await db.execute(
                    "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, "  # noqa: S608
                    f"choice, correct, points, answered_at, local_day) VALUES {values} "
                    "ON CONFLICT (asking_id, user_id) DO NOTHING RETURNING asking_id, user_id",
                    [v for row in rows for v in row],
                )
                inserted = {(r[0], r[1]) for r in await cur.fetchall()}
            else:  # SQLite before 3.35 has no RETURNING: one statement per row
                for row in rows:
                    cur = await db.execute(
                        "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, "
                        "choice, correct, points, answered_at, local_day) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (asking_id, user_id) DO NOTHING",
                        row,
                    )
                    if cur.rowcount:
                        inserted.add((row[0], row[1]))
            users = [
                (r.user_id, r.first_name, iso(r.now), iso(r.now))
                for key, (r, upsert) in unique.items()
                if upsert and key in inserted
            ]
            if users:
                await db.executemany(_UPSERT_USER, users)
        return inserted

    async def review_state(self, user_id: int, question_id: str) -> ReviewState | None:
        row = await self._one(
            "SELECT * FROM reviews WHERE user_id = ? AND question_id = ?", (user_id, question_id)
        )
        if row is None:
            return None
        return ReviewState(
            reps=row["reps"],
            interval_days=row["interval_days"],
            ease=row["ease"],
            lapses=row["lapses"],
            due_at=from_iso(row["due_at"]),
        )

    async def due_dates(self, user_id: int) -> dict[str, datetime]:
        rows = await self._all(
            "SELECT question_id, due_at FROM reviews WHERE user_id = ?", (user_id,)
        )
        return {r["question_id"]: from_iso(r["due_at"]) for r in rows}

    async def seen_questions(self, user_id: int) -> set[str]:
        rows = await self._all(
            "SELECT DISTINCT question_id FROM answers WHERE user_id = ?", (user_id,)
        )
        return {r["question_id"] for r in rows}

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
        rows = await self._all(
            "SELECT DISTINCT local_day FROM answers WHERE user_id = ? ORDER BY local_day",
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

    # ------------------------------------------------------------ channel posts

    async def claim_slot(
        self, *, slot: str | None, question_id: str, cycle: int, now: datetime
    ) -> int | None:
        """Record that a slot is being posted; None if that slot was already claimed.

        The row is committed *before* the send, so a crash mid-send leaves a 'sending' row
        behind: on the next start it is an unknown outcome, never a silent second post.
        """
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO channel_posts (slot, question_id, cycle, status, created_at) "
                "VALUES (?, ?, ?, 'sending', ?) ON CONFLICT (slot) DO NOTHING",
                (slot, question_id, cycle, iso(now)),
            )
            if cur.rowcount == 0:
                return None
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def post_sent(
        self, post_id: int, *, asking_id: int | None, chat_id: int, message_id: int, now: datetime
    ) -> None:
        async with self._tx() as db:
            await db.execute(
                "UPDATE channel_posts SET status = 'sent', asking_id = ?, chat_id = ?, "
                "message_id = ?, sent_at = ?, error = NULL WHERE id = ?",
                (asking_id, chat_id, message_id, iso(now), post_id),
            )
            if asking_id is not None:
                await db.execute(
                    "UPDATE askings SET chat_id = ?, message_id = ? WHERE id = ?",
                    (chat_id, message_id, asking_id),
                )

    async def post_status(self, post_id: int, status: str, error: str | None = None) -> None:
        await self._write(
            "UPDATE channel_posts SET status = ?, error = ? WHERE id = ?", (status, error, post_id)
        )

    async def release_slot(self, post_id: int) -> None:
        """Forget a post that certainly failed (Telegram said no), so the slot can be retried."""
        await self._write(
            "DELETE FROM channel_posts WHERE id = ? AND status != 'sent'", (post_id,)
        )

    async def add_skip(self, question_id: str, cycle: int, now: datetime) -> None:
        await self._write(
            "INSERT INTO channel_posts (slot, question_id, cycle, status, created_at) "
            "VALUES (NULL, ?, ?, 'skipped', ?)",
            (question_id, cycle, iso(now)),
        )

    async def done_in_cycle(self, cycle: int) -> set[str]:
        """Questions posted (or skipped, or possibly posted) in a cycle."""
        rows = await self._all(
            "SELECT DISTINCT question_id FROM channel_posts WHERE cycle = ? "
            "AND status IN ('sending', 'sent', 'unknown', 'skipped')",
            (cycle,),
        )
        return {r[0] for r in rows}

    async def posts_with_status(self, status: str) -> list[ChannelPost]:
        rows = await self._all("SELECT * FROM channel_posts WHERE status = ?", (status,))
        return [_post(r) for r in rows]

    async def get_post(self, post_id: int) -> ChannelPost | None:
        row = await self._one("SELECT * FROM channel_posts WHERE id = ?", (post_id,))
        return _post(row) if row else None

    async def slot_post(self, slot: str) -> ChannelPost | None:
        row = await self._one("SELECT * FROM channel_posts WHERE slot = ?", (slot,))
        return _post(row) if row else None

    async def post_by_asking(self, asking_id: int) -> ChannelPost | None:
        row = await self._one("SELECT * FROM channel_posts WHERE asking_id = ?", (asking_id,))
        return _post(row) if row else None

    async def latest_post_of(self, question_id: str) -> ChannelPost | None:
        row = await self._one(
            "SELECT * FROM channel_posts WHERE question_id = ? AND status = 'sent' "
            "ORDER BY id DESC LIMIT 1",
            (question_id,),
        )
        return _post(row) if row else None

    async def tally(self, asking_id: int) -> tuple[int, int]:
        row = await self._one(
            "SELECT COUNT(*), COALESCE(SUM(correct), 0) FROM answers WHERE asking_id = ?",
            (asking_id,),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    async def set_tally_shown(self, post_id: int, shown: str) -> None:
        await self._write(
            "UPDATE channel_posts SET tally_shown = ? WHERE id = ?", (shown, post_id)
        )

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

    # ------------------------------------------------------------ extra scheduled posts

    async def add_extra(
        self, run_at: datetime, question_id: str | None, created_by: int, now: datetime
    ) -> int:
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO extra_posts (run_at, question_id, created_by, created_at) "
                "VALUES (?, ?, ?, ?)",
                (iso(run_at), question_id, created_by, iso(now)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    async def pending_extras(self) -> list[ExtraPost]:
        rows = await self._all(
            "SELECT id, run_at, question_id FROM extra_posts WHERE done = 0 ORDER BY run_at, id"
        )
        return [ExtraPost(r[0], from_iso(r[1]), r[2]) for r in rows]

    async def finish_extra(self, extra_id: int) -> None:
        await self._write("UPDATE extra_posts SET done = 1 WHERE id = ?", (extra_id,))

    async def delete_extra(self, extra_id: int) -> bool:
        return (
            await self._write("DELETE FROM extra_posts WHERE id = ? AND done = 0", (extra_id,)) > 0
        )

    # ------------------------------------------------------------ bulk (benchmarks, tests)

    async def count(self, table: str) -> int:
        if table not in {
            "answers",
            "users",
            "askings",
            "quiz_sessions",
            "channel_posts",
            "reviews",
        }:
            raise ValueError(f"unknown table {table!r}")
        row = await self._one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - checked name
        return int(row[0]) if row else 0


GROUP_COMMIT_MAX = 500  # rows per multi-row INSERT: 5,000 bound values, far below SQLite's cap
RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)

_UPSERT_USER = (
    "INSERT INTO users (user_id, first_name, created_at, last_seen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name, "
    "last_seen = excluded.last_seen"
)


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


def _statements(script: str) -> list[str]:
    """Split a migration into statements (ours never put ';' inside a string)."""
    return [s.strip() for s in script.split(";") if s.strip()]


async def backup_database(source: Path, target: Path) -> None:
    """A consistent copy of a live database through SQLite's online backup API."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy() -> None:
        src = sqlite3.connect(source)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()

    await asyncio.to_thread(copy)
