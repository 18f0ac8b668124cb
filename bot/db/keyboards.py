"""Messages with buttons that no asking describes: where they are, whose, and their data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.db.connection import Conn, Table, iso


@dataclass(frozen=True, slots=True)
class Keyboard:
    chat_id: int
    message_id: int
    user_id: int
    data: frozenset[str]  # every callback_data the bot put on that message


class Keyboards(Table):
    async def remember(
        self, chat_id: int, message_id: int, user_id: int, data: Iterable[str], now: datetime
    ) -> None:
        await self._write(
            "INSERT INTO keyboards (chat_id, message_id, user_id, data, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO UPDATE SET "
            "user_id = excluded.user_id, data = excluded.data",
            (chat_id, message_id, user_id, "\n".join(data), iso(now)),
        )

    async def find(self, chat_id: int, message_id: int) -> Keyboard | None:
        row = await self._one(
            "SELECT * FROM keyboards WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )
        if row is None:
            return None
        return Keyboard(
            chat_id=row["chat_id"],
            message_id=row["message_id"],
            user_id=row["user_id"],
            data=frozenset(str(row["data"]).split("\n")),
        )

    async def forget(self, chat_id: int, message_id: int) -> None:
        """The message no longer carries buttons (a confirmation was answered)."""
        await self._write(
            "DELETE FROM keyboards WHERE chat_id = ? AND message_id = ?", (chat_id, message_id)
        )


async def forget_user(db: Conn, user_id: int) -> int:
    """/forget (contract §6), in the caller's transaction: the messages with buttons bound to the
    user. Returns the rows deleted."""
    return (await db.execute("DELETE FROM keyboards WHERE user_id = ?", (user_id,))).rowcount


async def prune(db: Conn, before: datetime) -> int:
    """Drop the bindings of messages sent before ``before`` (db.quizzes' prune, in its
    transaction). Returns the rows deleted."""
    return (
        await db.execute("DELETE FROM keyboards WHERE created_at < ?", (iso(before),))
    ).rowcount


async def move_chat(db: Conn, old: int, new: int) -> None:
    """A group's new chat id (db.quizzes' migrate_chat, in its transaction)."""
    await db.execute("UPDATE keyboards SET chat_id = ? WHERE chat_id = ?", (new, old))
