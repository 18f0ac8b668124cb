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
        """Every kept update, oldest first, and forgets them (they are about to run)."""
        async with self._tx() as db:
            cur = await db.execute("SELECT body FROM pending_updates ORDER BY update_id")
            rows = list(await cur.fetchall())
            await db.execute("DELETE FROM pending_updates")
        return [json.loads(row["body"]) for row in rows]
