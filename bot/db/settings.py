"""The key-value settings (schedule, pause, queue state)."""

from __future__ import annotations

from enum import StrEnum

from bot.db.connection import Table


class Key(StrEnum):
    """Every key-value setting the bot keeps: defined here once, typed at every use."""

    QUEUE_SEED = "queue_seed"  # the channel queue's shuffle seed (set on first use)
    CYCLE = "cycle"  # the channel queue's current cycle number
    DAILY_TIME = "daily_time"  # /schedule HH:MM, overriding POST_TIME
    PAUSED = "paused"  # "1" while /pause holds daily posts
    WEBHOOK = "webhook"  # the running webhook workers' URL, secret hash, allowed updates


class KeyValues(Table):
    """The kv table: one text value per ``Key`` (named apart from ``bot.config.Settings``)."""

    async def get_kv(self, key: Key) -> str | None:
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    async def set_kv(self, key: Key, value: str | None) -> None:
        if value is None:
            await self._write("DELETE FROM kv WHERE key = ?", (key,))
        else:
            await self._write(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
