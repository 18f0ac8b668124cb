"""Updates the bot took from Telegram but could not handle before it stopped.

Telegram counts an update as delivered once the bot confirmed it (the next ``getUpdates``
offset, or a webhook's 200), and never sends it again. Those still queued when a stop's
deadline came are kept here as Telegram sent them, and run first at the next start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.db.connection import Table


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
