"""The bot's own membership: removed from the channel, made admin again, kicked from a group."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.services import channel, game
from bot.services.messages import is_group, migrate_chat
from bot.state.context import BotContext

log = logging.getLogger(__name__)

GONE = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """my_chat_member: the channel's admins are told at once; a group's quiz ends quietly."""
    change = update.my_chat_member
    if change is None:
        return
    chat, member = change.chat, change.new_chat_member
    status = member.status
    if chat.type == ChatType.CHANNEL:
        if not channel.is_our_channel(context.data, chat.id, chat.username):
            return
        can_post = status == ChatMemberStatus.ADMINISTRATOR and bool(
            getattr(member, "can_post_messages", False)
        )
        if can_post:
            await channel.channel_back(context.data, context.bot)
        else:
            await channel.channel_lost(context.data, context.bot, f"my status is now {status}")
        return
    if is_group(chat) and status in GONE:
        # Nothing can be sent there any more: the quiz ends without a goodbye.
        session = await context.store.quizzes.active_session(chat.id, None)
        if session is not None:
            await context.store.quizzes.end_session(session.id, "stopped", context.now())
        running = await context.store.games.active(chat.id)
        if running is not None:
            await game.end_quietly(context, running.id, f"my status is now {status}")
        log.info("removed from group %s; its quiz (if any) ended", chat.id)


async def on_migrate(update: Update, context: BotContext) -> None:
    """A group became a supergroup: the service message in either chat names the other."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        await migrate_chat(context, message.chat.id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await migrate_chat(context, message.migrate_from_chat_id, message.chat.id)
