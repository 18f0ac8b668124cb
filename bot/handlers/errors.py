"""The one error handler: log it, tell the user "try again", page the admins only for what
they can fix (contract §6: a database error here; failed posts, the bot removed from the
channel and a failed reload are paged where they happen), never raise."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.core.limits import CACHE_BOUND
from bot.db.connection import is_database_error
from bot.runtime import metrics
from bot.services.pager import notify_admins
from bot.state.context import BotContext
from bot.ui.render import esc

log = logging.getLogger(__name__)

_NOTIFY_EVERY = 300.0  # seconds: a failing dependency must not flood the admins


async def error_handler(update: object, context: BotContext) -> None:
    exc = context.error
    if exc is None:
        return
    if isinstance(exc, Forbidden):
        log.info("a user blocked the bot or left a chat: %s", exc)
        return
    # BadRequest subclasses NetworkError in PTB, but it means we sent something wrong: a bug.
    if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
        log.warning("network trouble talking to Telegram: %s", exc)
        return
    if isinstance(exc, BadRequest) and _harmless(exc):
        # A late press ("query is too old") or a repeated edit: nothing anyone can fix.
        log.info("Telegram refused a late or repeated request: %s", exc)
        return
    log.error("unhandled error while processing %s", type(update).__name__, exc_info=exc)
    await _tell_user(update)
    if is_database_error(exc):
        metrics.DB_ERRORS.inc()
    if not actionable(exc):
        return  # a bug or bad input: the log has the traceback; the admins cannot act on it
    kind = type(exc).__name__
    now = time.monotonic()
    notices = context.bot_data.error_notices
    if now - notices.get(kind, -_NOTIFY_EVERY) < _NOTIFY_EVERY:
        return
    if len(notices) >= CACHE_BOUND:
        notices.clear()  # limits.py: a full cache is cleared, never grown
    notices[kind] = now
    try:
        await notify_admins(
            context.bot_data,
            context.bot,
            f"⚠️ The bot hit an error: <code>{esc(kind)}: {esc(str(exc)[:300])}</code>",
        )
    except Exception:  # the error handler itself must never raise
        log.exception("could not notify admins about an error")


HARMLESS = ("query is too old", "query id is invalid", "message is not modified")


def _harmless(exc: BadRequest) -> bool:
    text = str(exc).lower()
    return any(part in text for part in HARMLESS)


def actionable(exc: BaseException) -> bool:
    """Errors an admin can do something about: the database (disk full, locked, corrupt)."""
    return is_database_error(exc)


async def _tell_user(update: object) -> None:
    """Whoever pressed or typed gets an answer: "try again", not a spinner or silence."""
    if not isinstance(update, Update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(
                "⚠️ That did not go through. Please try again in a moment.", show_alert=True
            )
        elif (
            update.effective_message is not None
            and update.effective_chat is not None
            and update.effective_chat.type == "private"
        ):
            await update.effective_message.reply_text(
                "⚠️ Something went wrong on my side; please try again in a moment."
            )
    except TelegramError:
        pass  # already answered, or Telegram is the problem: the log has it
