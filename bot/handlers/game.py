"""Live games in groups (contract §11): /game, /stop of a game, and presses on its choices."""

from __future__ import annotations

from telegram import Update

from bot.core import game as rules_game
from bot.services import game, game_members
from bot.services.messages import is_group, topic_of
from bot.services.presses import GamePress, Reply
from bot.state.context import BotContext
from bot.ui import game as ui
from bot.ui import render


async def cmd_game(update: Update, context: BotContext) -> None:
    """/game [topic] [count] [seconds]: a timed game for the whole group."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    if not is_group(chat):
        await message.reply_text(ui.GROUP_ONLY)
        return
    try:
        args = rules_game.parse_args(context.args or [])
    except ValueError:
        await message.reply_text(ui.USAGE)
        return
    topic: str | None = None
    if args.topic:
        text = args.topic[:40]  # user text: echoed back, so bounded
        matches = context.bank.match_topic(text)
        if len(matches) != 1:
            listing = "\n".join(f"• {render.esc(t)}" for t in matches or context.bank.topics)
            head = "matches several topics; pick one:" if matches else "matches no topic:"
            await message.reply_text(f"“{render.esc(text)}” {head}\n{listing}")
            return
        topic = matches[0]
    await game.start_game(
        context,
        chat,
        user,
        topic=topic,
        count=args.count,
        seconds=args.seconds,
        thread_id=topic_of(message),
    )


async def cmd_stop(update: Update, context: BotContext) -> bool:
    """/stop of a group's running game (by its starter or an admin); False when no game runs
    here, so that /stop goes on to the quiz (handlers.register chains them)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None or not is_group(chat):
        return False
    running = await context.store.games.active(chat.id)
    if running is None:
        return False
    sender_chat = message.sender_chat.id if message.sender_chat is not None else None
    if not await game_members.may_stop(context, running, user, sender_chat):
        await message.reply_text(ui.NOT_YOURS)
        return True
    await game.stop(context, running)
    return True


async def on_choice(context: BotContext, press: GamePress) -> Reply:
    """A choice under a game's question, admitted by the door."""
    return await game_members.on_choice(context, press)
