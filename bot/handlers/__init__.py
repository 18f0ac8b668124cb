"""All wiring in one ordered list: which update goes to which handler."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.handlers import (
    admin,
    admin_schedule,
    channel_press,
    common,
    daily,
    game,
    imports,
    membership,
    profile,
    quiz,
)
from bot.runtime import metrics
from bot.services import door, presses
from bot.services.messages import answer_press, follow_up, sent_by_a_person
from bot.services.presses import Reply
from bot.state.context import BotContext
from bot.ui import callback_data as cd

# The update types the handlers below take: asked of Telegram in run_polling (and setWebhook).
# What the bot asks Telegram for (getUpdates and setWebhook): exactly what it handles, so an
# update of a type it cannot read never arrives.
ALLOWED_UPDATES: tuple[str, ...] = (Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER)

# Commands about the sender's own data: meaningless for a message sent on behalf of a chat
# (an anonymous group admin: ``sender_chat`` set, ``from`` the @GroupAnonymousBot placeholder).
PERSONAL = frozenset({"review", "score", "timezone", "daily", "forget", "progress"})
# How PTB calls a handler's callback: commands, and press routes once ``answered`` wraps them.
CommandCallback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
P = TypeVar("P", bound=presses.Press)

# The handler group of THE DOOR: before every other handler (PTB runs groups in ascending
# order, and a refused press raises ApplicationHandlerStop there, so no route sees it).
DOOR_GROUP = -1


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


def game_first(callback: CommandCallback) -> CommandCallback:
    """/stop ends a group's running game if there is one (handlers.game), else ``callback``."""

    async def chained(update: Update, context: BotContext) -> None:
        if not await game.cmd_stop(update, context):
            await callback(update, context)

    return chained


def register(app: Any) -> None:
    # Commands are only read from messages, not edits: an edited "/quiz" must not start a
    # second quiz (Telegram sends edits as separate edited_message updates).
    msgs = filters.UpdateType.MESSAGE
    commands = [
        ("start", common.cmd_start),
        ("help", common.cmd_help),
        ("quiz", quiz.cmd_quiz),
        ("review", quiz.cmd_review),
        ("game", game.cmd_game),
        ("stop", game_first(quiz.cmd_stop)),
        ("score", profile.cmd_score),
        ("progress", profile.cmd_progress),
        ("leaderboard", profile.cmd_leaderboard),
        ("topics", profile.cmd_topics),
        ("timezone", profile.cmd_timezone),
        ("daily", daily.cmd_daily),
        ("forget", profile.cmd_forget),
        ("post_now", admin.cmd_post_now),
        ("schedule", admin_schedule.cmd_schedule),
        ("unschedule", admin_schedule.cmd_unschedule),
        ("queue", admin_schedule.cmd_queue),
        ("skip", admin_schedule.cmd_skip),
        ("pause", admin_schedule.cmd_pause),
        ("resume", admin_schedule.cmd_resume),
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
    # Every button press, whatever its data, first goes through THE DOOR (services.door):
    # it admits the press, typed, into context.press, or answers it with one alert and stops
    # there (data that matches no route's pattern included).
    app.add_handler(CallbackQueryHandler(door.guard), group=DOOR_GROUP)
    # Then PTB routes the admitted press by its data's pattern (ui.callback_data.PATTERNS),
    # one route per kind of button; `answered` answers it and starts what follows.
    routes: list[tuple[str, CommandCallback]] = [
        (cd.ANSWER, answered(on_answer, presses.AnswerPress)),
        (cd.NEXT, answered(quiz.on_next, presses.NextPress)),
        (cd.DONE, answered(quiz.on_done, presses.DonePress)),
        (cd.MORE, answered(quiz.on_more, presses.MorePress)),
        (cd.REPORT, answered(profile.on_report, presses.ReportPress)),
        (cd.FORGET, answered(profile.on_forget, presses.ForgetPress)),
        (cd.HIDE, answered(profile.on_hide, presses.HidePress)),
        (cd.IMPORT, answered(imports.on_import, presses.ImportPress)),
        (cd.GAME, answered(game.on_choice, presses.GamePress)),
        (cd.PROGRESS, answered(profile.on_progress, presses.ProgressPress)),
    ]
    for kind, route in routes:
        app.add_handler(CallbackQueryHandler(route, pattern=cd.PATTERNS[kind]))
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


def answered(
    route: Callable[[BotContext, P], Awaitable[Reply]], takes: type[P]
) -> CommandCallback:
    """A press route as PTB calls it: the door's typed press in, the press answered, and only
    then what follows started, outside the press slots (a send or an edit may wait in a flood
    limiter, and no press waits behind it). The one place a press is answered."""

    async def callback(update: Update, context: BotContext) -> None:
        press = context.press
        if press is None:
            # The door raised (its error went to the error handler, which answered the press):
            # PTB goes on to this group, but nothing was admitted.
            return
        if not isinstance(press, takes):
            raise TypeError(f"{route.__qualname__} got a {type(press).__name__}")
        reply = await route(context, press)
        try:
            await answer_press(context.bot_data, press.query, reply.text, show_alert=reply.alert)
            metrics.press_answered(time.monotonic() - press.admitted_at)
        finally:  # the press's work is done and committed: what follows runs whatever the answer
            if reply.then is not None:
                follow_up(context, update, reply.then)

    return callback


async def on_answer(context: BotContext, press: presses.AnswerPress) -> Reply:
    """a1, one button on two features (posted buttons keep their data): the door tells them
    apart by the asking the data names, a quiz's or a channel post's (or its /preview's)."""
    if isinstance(press, presses.ChannelPress):
        return await channel_press.on_choice(context, press)
    if isinstance(press, presses.ChoicePress):
        return await quiz.on_choice(context, press)
    raise TypeError(f"an a1 press the door did not type: {type(press).__name__}")
