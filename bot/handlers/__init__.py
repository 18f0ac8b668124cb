"""All wiring in one ordered list: which update goes to which handler."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.handlers import admin, common, profile, quiz


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
        app.add_handler(CommandHandler(name, callback, filters=msgs))
    # Button presses, by the versioned prefix of their callback_data.
    app.add_handler(CallbackQueryHandler(quiz.on_answer, pattern=r"^a1:"))
    app.add_handler(CallbackQueryHandler(quiz.on_next, pattern=r"^n1:"))
    app.add_handler(CallbackQueryHandler(quiz.on_more, pattern=r"^m1:"))
    app.add_handler(CallbackQueryHandler(profile.on_report, pattern=r"^r1:"))
    app.add_handler(CallbackQueryHandler(profile.on_forget, pattern=r"^f1:"))
    app.add_handler(CallbackQueryHandler(profile.on_hide, pattern=r"^h1:"))
    # Anything else pressed (old or forged data) still gets an answer: a spinner that never
    # stops looks broken.
    app.add_handler(CallbackQueryHandler(on_unknown_press))
    # Last: plain private text (a mistake report, or a nudge to /help).
    app.add_handler(
        MessageHandler(
            msgs & filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, common.on_text
        )
    )


async def on_unknown_press(update: Update, _: Any) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer("This button is not valid any more.")
