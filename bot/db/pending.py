"""Updates the bot took from Telegram but could not handle before it stopped.

Telegram counts an update as delivered once the bot confirmed it (the next ``getUpdates``
offset, or a webhook's 200), and never sends it again. Those still queued when a stop's
deadline came are kept here as Telegram sent them, and run first at the next start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.db.connection import Conn, Table


class PendingUpdates(Table):
    async def keep(self, updates: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """(update_id, the update as JSON) for each; an id already kept is kept once."""
        async with self._tx() as db:
            await db.executemany(
                "INSERT INTO pending_updates (update_id, body) VALUES (?, ?) "
                "ON CONFLICT (update_id) DO NOTHING",
                [(update_id, json.dumps(body)) for update_id, body in updates],
            )

    async def take(self) -> list[dict[str, Any]]:
        """Every kept update, oldest first, and forgets them (they are about to run). One
        DELETE … RETURNING: two processes taking at once (a standby taking over while
        another starts, CONTRACT §10) each get the rows only they deleted, never the same."""
        async with self._tx() as db:
            if self.database.dialect == "sqlite":  # one process; RETURNING needs SQLite 3.35
                cur = await db.execute("SELECT update_id, body FROM pending_updates")
                rows = list(await cur.fetchall())
                await db.execute("DELETE FROM pending_updates")
            else:
                cur = await db.execute("DELETE FROM pending_updates RETURNING update_id, body")
                rows = list(await cur.fetchall())
        return [json.loads(row[1]) for row in sorted(rows, key=lambda row: int(row[0]))]


async def forget_user(db: Conn, user_id: int) -> int:
    """/forget (contract §6), in the caller's transaction: the user's kept updates. They wait
    here only between a stop and the next start; with several processes (CONTRACT §10) one
    stopped worker's could otherwise run after another worker forgot the user, and bring
    their rows back. The table is small (a stop's backlog): its bodies are read here."""
    cur = await db.execute("SELECT update_id, body FROM pending_updates")
    theirs = [
        (int(row[0]),) for row in await cur.fetchall() if _sender(json.loads(row[1])) == user_id
    ]
    if theirs:
        await db.executemany("DELETE FROM pending_updates WHERE update_id = ?", theirs)
    return len(theirs)


def _sender(update: dict[str, Any]) -> int | None:
    """Who sent an update as Telegram sent it: the ``from`` of its one payload."""
    for value in update.values():
        if isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return int(sender["id"])
    return None
