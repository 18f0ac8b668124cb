"""Forward to import (CONTRACT §8): an admin forwards a channel post; "Add" puts it in the bank.

The entry waits in memory (``BotData.pending_imports``) under a random id carried by its two
buttons; the buttons go through the door, bound to that message and that admin. A press after a
restart finds nothing and says the import expired; a second "Add" finds nothing either.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageOriginChannel, Update

from bot.core import importer
from bot.core.limits import CACHE_BOUND
from bot.core.models import Question
from bot.services import channel, importing, presses
from bot.services.messages import NO_PREVIEW, reply_bound
from bot.state.context import BotContext, PendingImport
from bot.ui import callback_data as cd
from bot.ui import post_view, render

log = logging.getLogger(__name__)

NOT_FROM_CHANNEL = "To import a question, forward me a post from a channel."
NOT_A_QUESTION = (
    "This post is not an interview question I can import: I need a question and an "
    "“Answer:” part, as in the channel's posts."
)
ALREADY = "This question is already in the bank: nothing to add."
EXPIRED = "This import has expired: forward the post again."
SKIPPED = "Skipped: nothing was added."


def _target(context: BotContext) -> Path:
    return context.settings.content_dir / importing.DEFAULT_FILE


def _known(entry: Question, content_dir: Path, target: Path) -> bool:
    """Whether the bank (or FILE) already asks this question, as ``append_entry`` judges it."""
    known = importing.known_questions(content_dir, target)
    return importer.question_key(entry.question) in known.questions


async def on_forward(update: Update, context: BotContext) -> None:
    """An admin's forward in private chat: show the entry it would add, with Add / Skip."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    if not isinstance(message.forward_origin, MessageOriginChannel):
        await message.reply_text(NOT_FROM_CHANNEL)
        return
    if message.text is not None:
        text, entities = message.text, message.entities
    else:
        text, entities = message.caption or "", message.caption_entities
    entry = importing.entry_from_message(text, [e.to_dict() for e in entities])
    if entry is None:
        await message.reply_text(NOT_A_QUESTION)
        return
    settings = context.settings
    if await asyncio.to_thread(_known, entry, settings.content_dir, _target(context)):
        await message.reply_text(ALREADY)
        return
    rendered = post_view.render_post(
        entry,
        signature=await channel.signature(context.data, context.bot),
        bot_username=context.bot.username,
        asking_id=None,
    )
    pending_id = secrets.randbelow(10**17) + 1  # unguessable, and new after a restart
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "➕ Add to the bank", callback_data=cd.import_entry(pending_id, True)
                ),
                InlineKeyboardButton("Skip", callback_data=cd.import_entry(pending_id, False)),
            ]
        ]
    )
    sent = await reply_bound(context, message, user.id, rendered.text, keyboard)
    pending = context.data.pending_imports
    if len(pending) >= CACHE_BOUND:
        pending.clear()  # the house rule for bounds; those presses will say "expired"
    pending[pending_id] = PendingImport(entry, sent.chat.id, sent.message_id)
    log.info("import offered: %s from a forward by %s", entry.id, user.id)


async def on_import(context: BotContext, press: presses.ImportPress) -> presses.Reply:
    """The Add button appends the entry to imported.yaml; Skip drops it (each acts once)."""
    pending_id, add = press.pending_id, press.add
    pending = context.data.pending_imports.get(pending_id)
    if pending is None or (pending.chat_id, pending.message_id) != (
        press.chat_id,
        press.message_id,
    ):
        return presses.Reply.refused(EXPIRED)
    if press.user.id not in context.settings.admin_ids:  # removed from ADMIN_IDS since
        return presses.Reply.refused()
    # Taken before any await: a second press on this message finds nothing.
    del context.data.pending_imports[pending_id]
    if not add:
        return await _close(context, press, SKIPPED)
    target, content_dir = _target(context), context.settings.content_dir
    try:
        async with context.data.import_lock:
            added = await asyncio.to_thread(
                importing.append_entry, target, pending.entry, content_dir=content_dir
            )
    except (importing.ImportInputError, OSError) as exc:
        context.data.pending_imports[pending_id] = pending  # nothing written: may press again
        log.warning("import of %s failed: %s", pending.entry.id, exc)
        return presses.Reply.refused(render.alert(f"Could not add it: {exc}"))
    if not added:
        return await _close(context, press, ALREADY)
    log.info("imported %s into %s", pending.entry.id, target)
    note = f"Added to <code>{render.esc(target.name)}</code>. Send /reload to put it in the bank."
    return await _close(context, press, "Added to the bank.", note)


async def _close(
    context: BotContext, press: presses.ImportPress, alert: str, note: str | None = None
) -> presses.Reply:
    """The buttons leave the door's table now, and the message once the press is answered."""
    await context.store.keyboards.forget(press.chat_id, press.message_id)
    return presses.Reply(alert, then=_unbutton(context, press.chat_id, press.message_id, note))


async def _unbutton(context: BotContext, chat_id: int, message_id: int, note: str | None) -> None:
    await context.bot.edit_message_reply_markup(
        chat_id=chat_id, message_id=message_id, reply_markup=None
    )
    if note is not None:
        await context.bot.send_message(chat_id, note, link_preview_options=NO_PREVIEW)
