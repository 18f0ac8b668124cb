"""Small Telegram-facing helpers every service shares: edits, follow-ups, admin pages."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError

from bot.runtime import private
from bot.state.context import BotContext, BotData
from bot.ui import callback_data as cd
from bot.ui.render import MAX_ALERT, Rendered

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
GROUP_TYPES = (ChatType.GROUP, ChatType.SUPERGROUP)


def sent_by_a_person(message: Message) -> bool:
    """False for a message sent on behalf of a chat (an anonymous group admin, a channel):
    its ``from`` is a placeholder bot account shared by everyone who posts that way."""
    user = message.from_user
    return message.sender_chat is None and user is not None and not user.is_bot


def is_group(chat: Chat) -> bool:
    return chat.type in GROUP_TYPES


async def send(context: BotContext, chat_id: int, text: str, **kwargs: Any) -> Message:
    """``send_message``, following a group that became a supergroup (``ChatMigrated``): its
    stored quizzes move to the new id and the message goes there."""
    try:
        return await context.bot.send_message(chat_id, text, **kwargs)
    except ChatMigrated as exc:
        new_id = exc.new_chat_id
        await migrate_chat(context, chat_id, new_id)
        return await context.bot.send_message(new_id, text, **kwargs)


async def migrate_chat(context: BotContext, old: int, new: int) -> None:
    await context.store.answers.drain()  # answers still in the batch carry the old id
    await context.store.quizzes.migrate_chat(old, new)
    log.info("chat %s became supergroup %s: its quizzes moved", old, new)


def topic_of(message: MaybeInaccessibleMessage | None) -> int | None:
    """The forum topic a message was sent in, or None (General, or no forum).

    ``message_thread_id`` alone is not a topic: in a plain group it names a reply thread,
    which ``sendMessage`` cannot target (PTB's ``Message._parse_message_thread_id`` says so).
    """
    if not isinstance(message, Message) or not message.is_topic_message:
        return None
    return message.message_thread_id


def follow_up(context: BotContext, update: Update, coroutine: Coroutine[Any, Any, None]) -> None:
    """Run what follows an answered press as its own task; errors reach the error handler.

    The task is kept in ``follow_ups`` so that shutdown waits for it: PTB's ``stop()`` awaits
    only the tasks that existed when it began, not those an update still finishing starts.
    """
    chat = update.effective_chat
    private_chat = chat.id if chat is not None and chat.type == ChatType.PRIVATE else None
    task = context.application.create_task(
        _quiet_if_blocked(context, private_chat, coroutine), update=update
    )
    tasks = context.bot_data.follow_ups
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _quiet_if_blocked(
    context: BotContext, private_chat: int | None, coroutine: Coroutine[Any, Any, None]
) -> None:
    try:
        await coroutine
    except Forbidden as exc:
        if private_chat is None:
            raise
        await end_for_blocked(context, private_chat, exc)


async def end_for_blocked(context: BotContext, chat_id: int, exc: Forbidden) -> None:
    """A user who blocked the bot (403 in their private chat): end their quiz, quietly.

    No retry, no admin page (nothing to act on, contract §6): one log line.
    """
    session = await context.store.quizzes.active_session(chat_id, chat_id)
    if session is not None:
        await context.store.quizzes.end_session(session.id, "blocked", context.now())
    log.info(
        "user %s cannot be reached (%s); quiz %s ended",
        chat_id,
        exc.message,
        session.id if session is not None else "none",
    )


# Telegram refuses an answer to a query it already answered, or one older than its answer
# window (about 15 s): "Bad Request: query is too old and response timeout expired or query ID
# is invalid" (https://core.telegram.org/bots/api#answercallbackquery).
_TOO_OLD = ("query is too old", "query id is invalid")


async def answer_press(
    data: BotData, query: CallbackQuery, text: str | None = None, *, show_alert: bool = False
) -> bool:
    """Answer a press, best effort; False if the answer was lost, refused as too old or late.

    The press is committed before this is called: what follows it must run whatever happens
    to the answer, so a lost answer is logged and swallowed, never raised.
    """
    # Webhook mode with WEBHOOK_ANSWER_IN_REPLY=on: the answer rides in the response. Not an
    # over-long alert, which Telegram would drop unseen there: as a request its BadRequest
    # shows our bug (below).
    if (
        data.settings.webhook_answer_in_reply
        and len(text or "") <= MAX_ALERT
        and data.in_reply.take(query.id, text, show_alert=show_alert)
    ):
        return True
    try:
        await query.answer(text, show_alert=show_alert)
    except BadRequest as exc:
        if not any(part in exc.message.lower() for part in _TOO_OLD):
            raise  # anything else is a bug of ours (text too long, ...): let it be seen
        log.info("press %s answered too late: %s", query.id, exc.message)
        return False
    except NetworkError as exc:  # TimedOut included: it may have landed; never repeated
        log.info("answer to press %s lost: %s", query.id, exc)
        return False
    return True


async def edit(bot: Bot, chat_id: int, message_id: int, rendered: Rendered) -> None:
    """Show ``rendered`` in place of a message; an edit that changes nothing is not an error."""
    data: dict[str, object] = {
        "chat_id": chat_id,
        "message_id": message_id,
        "text": rendered.text,
        "parse_mode": ParseMode.HTML,
        "reply_markup": rendered.keyboard,
        "link_preview_options": NO_PREVIEW,
    }
    try:
        # What Bot.edit_message_text does (the same request through the same rate limiter,
        # defaults and errors) without parsing the Message Telegram sends back: nobody here
        # reads it, and parsing it, keyboards and all, was ~14% of a quiz answer's CPU
        # (bench/). It sets parse_mode itself and relies on arbitrary_callback_data being off
        # (bot.app builds it so), which edit_message_text would otherwise apply.
        await private.post(bot, "editMessageText", data)
    except BadRequest as exc:
        # A double press can race to the same edit; Telegram answers "message is not modified".
        if "not modified" not in str(exc).lower():
            raise


async def reply_bound(
    context: BotContext,
    message: Message,
    owner_id: int,
    text: str,
    keyboard: InlineKeyboardMarkup,
) -> Message:
    """Reply with buttons that only ``owner_id`` may press, on this very message."""
    sent = await message.reply_text(text, reply_markup=keyboard, link_preview_options=NO_PREVIEW)
    await context.store.keyboards.remember(
        sent.chat.id, sent.message_id, owner_id, cd.keyboard_data(keyboard), context.now()
    )
    return sent
