"""Channel posts (one per slot), the no-repeat cycle, extra scheduled posts.

A post's ``error`` is read by no code: why its last attempt failed, for the operator (the
admins are paged with it when it happens)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.db import quizzes
from bot.db.connection import Database, Row, Table, from_iso, iso


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


def _post(row: Row) -> ChannelPost:
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


class ChannelPosts(Table):
    def __init__(
        self, database: Database, *, forget_asking: Callable[[int], None] | None = None
    ) -> None:
        super().__init__(database)
        # Quizzes owns the press path's asking cache; post_sent changes an asking's row.
        self._forget_asking = forget_asking or (lambda _: None)

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
                await quizzes.place_asking(db, asking_id, chat_id, message_id)
        if asking_id is not None:
            self._forget_asking(asking_id)  # after the commit: a read now sees the new row

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

    async def set_tally_shown(self, post_id: int, shown: str) -> None:
        await self._write(
            "UPDATE channel_posts SET tally_shown = ? WHERE id = ?", (shown, post_id)
        )

    async def add_extra(
        self, run_at: datetime, question_id: str | None, created_by: int, now: datetime
    ) -> int:
        async with self._tx() as db:
            # created_by is read by no code: which admin scheduled it, for the operator.
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
