"""/start (with its deep links), /help, and plain messages (mistake reports)."""

from __future__ import annotations

import logging

from telegram import BotCommandScopeChat, Update
from telegram.error import TelegramError

from bot.services import reports
from bot.services.messages import NO_PREVIEW
from bot.services.quiz import practise
from bot.state.context import BotContext
from bot.ui import render
from bot.ui.commands import ADMIN_COMMANDS, PUBLIC_COMMANDS, bot_commands

log = logging.getLogger(__name__)


WELCOME = (
    "👋 <b>Python interview practice</b>\n\n"
    "I ask real interview questions with buttons, keep your score and streak, and bring back "
    "the ones you missed just before you would forget them.\n\n"
    "• /quiz: 5 questions (/quiz asyncio 10 for a topic and a count)\n"
    "• /review: the questions due for a second look\n"
    "• /topics · /score · /leaderboard\n\n"
    "/help lists everything."
)


def help_text(is_admin: bool) -> str:
    lines = ["<b>Commands</b>"]
    lines += [f"/{name} — {render.esc(desc)}" for name, desc in PUBLIC_COMMANDS]
    if is_admin:
        lines += ["", "<b>Admin commands</b>"]
        lines += [f"/{name} — {render.esc(desc)}" for name, desc in ADMIN_COMMANDS]
    lines += [
        "",
        "Points: easy 1, medium 2, hard 3 for a right quiz answer. A day counts for your "
        "streak when you answer at least one question (set your zone with /timezone).",
    ]
    return "\n".join(lines)


async def cmd_start(update: Update, context: BotContext) -> None:
    """/start, /start q_<id> (practise that question), /start a_<id> (its full answer)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    await context.store.users.touch_user(user.id, user.first_name, context.now())
    if user.id in context.settings.admin_ids:
        await _set_admin_menu(context, user.id)
    arg = (context.args or [""])[0]
    if arg[:2] in ("q_", "a_"):
        q = context.bank.get(arg[2:])
        if q is None:
            await message.reply_text(
                "That question is no longer in the bank. /quiz has plenty of others."
            )
            return
        if arg.startswith("a_"):
            for text in render.answer_messages(q):
                await message.reply_text(text, link_preview_options=NO_PREVIEW)
            return
        if q.quizzable:
            await practise(context, chat, user, q)
        else:
            for text in render.answer_messages(q):
                await message.reply_text(text, link_preview_options=NO_PREVIEW)
        return
    await message.reply_text(WELCOME)


async def _set_admin_menu(context: BotContext, admin_id: int) -> None:
    """Per-chat menus fail for an admin who never opened the bot; /start is the first chance."""
    try:
        await context.bot.set_my_commands(
            bot_commands(admin=True), scope=BotCommandScopeChat(admin_id)
        )
    except TelegramError as exc:
        log.warning("could not set the admin menu for %s: %s", admin_id, exc)


async def cmd_help(update: Update, context: BotContext) -> None:
    """/help: every command, with the admin ones for admins."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    await message.reply_text(help_text(user.id in context.settings.admin_ids))


async def on_text(update: Update, context: BotContext) -> None:
    """A plain private message: a pending mistake report, or a nudge towards /help."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    pending = await reports.pending_question(context, user.id)
    if pending is None:
        await message.reply_text("Send /quiz to practise, or /help to see what I can do.")
        return
    if not message.text:
        # A photo or a sticker: the report stays pending for the note itself.
        await message.reply_text(
            "Please send your note as text: what is wrong, and what it should say."
        )
        return
    if await reports.send(context, user, pending, message.text):
        await message.reply_text("Thank you! Your note went to the admins. /quiz to carry on.")
    else:
        await message.reply_text("You already reported this question. Thank you!")
