"""All wiring in one ordered list: which update goes to which handler."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.handlers import admin, channel_press, common, daily, imports, membership, profile, quiz
from bot.runtime import metrics
from bot.runtime.context import BotContext
from bot.services import presses
from bot.services.messages import answer_press, follow_up, sent_by_a_person
from bot.ui import callback_data as cd

# The update types the handlers below take: asked of Telegram in run_polling (and setWebhook).
# What the bot asks Telegram for (getUpdates and setWebhook): exactly what it handles, so an
# update of a type it cannot read never arrives.
ALLOWED_UPDATES: tuple[str, ...] = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER)

# A press handler does the press's own work and says what the presser is told and what follows;
# it never answers the press or sends anything itself (on_press below does, in that order).
PressHandler = Callable[[BotContext, presses.Press], Awaitable[presses.Reply]]

# Where an admitted press goes, by the kind of its button (and, for a choice, what it answers).
PRESS_ROUTES: dict[str, PressHandler] = {
    cd.ANSWER: quiz.on_choice,
    cd.NEXT: quiz.on_next,
    cd.MORE: quiz.on_more,
    cd.DONE: quiz.on_done,
    cd.REPORT: profile.on_report,
    cd.FORGET: profile.on_forget,
    cd.HIDE: profile.on_hide,
    cd.IMPORT: imports.on_import,
}

# The update types register() handles: Telegram sends only these (setWebhook / getUpdates
# allowed_updates), so nothing else costs a request or a slot. Keep in step with register().


# Commands about the sender's own data: meaningless for a message sent on behalf of a chat
# (an anonymous group admin: ``sender_chat`` set, ``from`` the @GroupAnonymousBot placeholder).
PERSONAL = frozenset({"review", "score", "timezone", "daily", "forget"})
CommandCallback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def personal(callback: CommandCallback) -> CommandCallback:
    """Answer an anonymous admin's personal command with a sentence instead of the
    placeholder account's data."""

    async def guarded(update: Update, context: BotContext) -> None:
        message = update.effective_message
        if message is not None and not sent_by_a_person(message):
            await message.reply_text(
                "That is about your own progress: send it from your own account, not as the "
                "group (anonymous admins all share one placeholder account)."
            )
            return
        await callback(update, context)

    return guarded


def register(app: Any) -> None:
    # Commands are only read from messages, not edits: an edited "/quiz" must not start a
    # second quiz (Telegram sends edits as separate edited_message updates).
    msgs = filters.UpdateType.MESSAGE
    commands = [
        ("start", common.cmd_start),
        ("help", common.cmd_help),
        ("quiz", quiz.cmd_quiz),
        ("review", quiz.cmd_review),
        ("stop", quiz.cmd_stop),
        ("score", profile.cmd_score),
        ("leaderboard", profile.cmd_leaderboard),
        ("topics", profile.cmd_topics),
        ("timezone", profile.cmd_timezone),
        ("daily", daily.cmd_daily),
        ("forget", profile.cmd_forget),
        ("post_now", admin.cmd_post_now),
        ("schedule", admin.cmd_schedule),
        ("unschedule", admin.cmd_unschedule),
        ("queue", admin.cmd_queue),
        ("skip", admin.cmd_skip),
        ("pause", admin.cmd_pause),
        ("resume", admin.cmd_resume),
        ("preview", admin.cmd_preview),
        ("reload", admin.cmd_reload),
        ("repost", admin.cmd_repost),
        ("stats", admin.cmd_stats),
    ]
    for name, callback in commands:
        guarded = personal(callback) if name in PERSONAL else callback
        app.add_handler(CommandHandler(name, guarded, filters=msgs))
    # A group upgraded to a supergroup: its quizzes follow the new chat id.
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.on_migrate))
    # The bot's own membership (removed from the channel, kicked from a group).
    app.add_handler(
        ChatMemberHandler(membership.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    # Every button press, whatever its data, goes through the one door (services.presses).
    app.add_handler(CallbackQueryHandler(on_press))
    # Before plain text: an admin's forward in private chat is an import (anyone else's forward
    # falls through to the usual reply below).
    admins = filters.User(user_id=app.bot_data.settings.admin_ids)
    app.add_handler(
        MessageHandler(
            msgs & filters.ChatType.PRIVATE & filters.FORWARDED & admins, imports.on_forward
        )
    )
    # Last: plain private text (a mistake report, or a nudge to /help).
    app.add_handler(
        MessageHandler(
            # Any private message that is not a command: text (a report, or a nudge), and
            # photos or stickers too, so one sent for a pending report is not dropped.
            msgs & filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            common.on_text,
        )
    )


async def on_press(update: Update, context: BotContext) -> None:
    """Every press: the door admits it (or answers it with one alert), its feature decides,
    the press is answered, and only then does what follows start, outside the press slots:
    a send or an edit may wait in a flood limiter, and no press waits behind it."""
    started = time.monotonic()
    press = await presses.admit(update, context)
    if press is None:
        return
    route = PRESS_ROUTES[press.kind]
    if press.kind == cd.ANSWER and press.asking is not None and press.asking.kind != "quiz":
        route = channel_press.on_choice
    reply = await route(context, press)
    try:
        await answer_press(press.query, reply.text, show_alert=reply.alert)
        metrics.press_answered(time.monotonic() - started)
    finally:  # the press's work is done and committed: what follows runs whatever the answer
        if reply.then is not None:
            follow_up(context, update, reply.then)
