"""The weekly recap post (contract §12): one row per week, claimed before the send.

Only ``slot`` and ``status`` are read back. ``chat_id``, ``message_id``, ``sent_at``,
``error`` and ``created_at`` are written for the operator (which message went out where and
when, or why it failed, when a recap is questioned), not for the bot: kept on purpose.
"""

from __future__ import annotations

from datetime import datetime

from bot.db.connection import Table, iso


class WeeklyPosts(Table):
    async def claim(self, slot: str, now: datetime) -> bool:
        """Record that a week's recap is being posted; False if it was claimed already.

        Committed *before* the send, as ``ChannelPosts.claim_slot``: a crash mid-send leaves
        a 'sending' row, which the next start turns into an unknown outcome, never a repeat.
        """
        async with self._tx() as db:
            cur = await db.execute(
                "INSERT INTO weekly_posts (slot, status, created_at) VALUES (?, 'sending', ?) "
                "ON CONFLICT (slot) DO NOTHING",
                (slot, iso(now)),
            )
            return cur.rowcount > 0

    async def sent(self, slot: str, *, chat_id: int, message_id: int, now: datetime) -> None:
        await self._write(
            "UPDATE weekly_posts SET status = 'sent', chat_id = ?, message_id = ?, sent_at = ?, "
            "error = NULL WHERE slot = ?",
            (chat_id, message_id, iso(now), slot),
        )

    async def set_status(self, slot: str, status: str, error: str | None = None) -> None:
        await self._write(
            "UPDATE weekly_posts SET status = ?, error = ? WHERE slot = ?", (status, error, slot)
        )

    async def release(self, slot: str) -> None:
        """Forget a recap Telegram certainly refused, so the week can be tried again."""
        await self._write("DELETE FROM weekly_posts WHERE slot = ? AND status != 'sent'", (slot,))

    async def status(self, slot: str) -> str | None:
        row = await self._one("SELECT status FROM weekly_posts WHERE slot = ?", (slot,))
        return str(row[0]) if row else None

    async def with_status(self, status: str) -> list[str]:
        rows = await self._all("SELECT slot FROM weekly_posts WHERE status = ?", (status,))
        return [str(r[0]) for r in rows]
