"""The key-value settings (schedule, pause, queue state)."""

from __future__ import annotations

from bot.db.connection import Table


class Settings(Table):
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
