"""Who may run an admin command: ADMIN_IDS, in their private chat with the bot (contract
§5, §6). Everyone else is refused politely and nothing happens. Shared by ``handlers.admin``
and ``handlers.admin_schedule``, so that neither handler imports the other.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update

from bot.services.messages import NO_PREVIEW
from bot.state.context import BotContext

log = logging.getLogger(__name__)

Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def admin_only(func: Handler) -> Handler:
    """Run ``func`` only for ADMIN_IDS; anyone else gets a polite refusal and nothing happens."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: BotContext) -> None:
        user, message = update.effective_user, update.effective_message
        if user is None or message is None:
            return
        if user.id not in context.settings.admin_ids:
            log.info("refused admin command from %s", user.id)
            await message.reply_text("Sorry, that command is for the channel's admins.")
            return
        if message.chat.id != user.id:
            # Its reply could show answers and statistics to a whole group (contract §6).
            await message.reply_text("Admin commands work in your private chat with me.")
            return
        await func(update, context)

    return wrapper


async def reply_to(update: Update, text: str) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, link_preview_options=NO_PREVIEW)
