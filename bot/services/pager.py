"""Paging the admins: a message to every admin, never fatal."""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.state.context import BotData

log = logging.getLogger(__name__)


async def notify_admins(data: BotData, bot: Bot, text: str) -> None:
    """Tell every admin; an admin who never opened the bot is logged, not fatal."""
    for admin in sorted(data.settings.admin_ids):
        try:
            await bot.send_message(admin, text, parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.warning("could not notify admin %s: %s", admin, exc)
