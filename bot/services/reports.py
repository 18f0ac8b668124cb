"""Mistake reports: asked for with ⚑, sent as the user's next private text, bounded.

A pending report expires (a note typed an hour later is about something else), a user
reports a question once, and at most a few times a day: the admins' chat is not a channel
anyone can flood.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import Enum

from telegram import User

from bot.db import Asking
from bot.services.pager import notify_admins
from bot.state.context import BotContext
from bot.ui import render

log = logging.getLogger(__name__)

PENDING_FOR = timedelta(minutes=10)
PER_DAY = 5
MAX_NOTE = 1000


class Asked(Enum):
    PENDING = "pending"
    ALREADY = "already reported"
    TOO_MANY = "too many today"


async def ask(context: BotContext, user: User, asking: Asking) -> Asked:
    """⚑ pressed: the next private text is the report, unless this would be one too many."""
    store, now = context.store, context.now()
    if await store.users.has_reported(user.id, asking.question_id):
        return Asked.ALREADY
    if await store.users.reports_since(user.id, now - timedelta(days=1)) >= PER_DAY:
        return Asked.TOO_MANY
    await store.users.touch_user(user.id, user.first_name, now)
    await store.users.set_report_pending(user.id, asking.id, now)
    return Asked.PENDING


async def pending_question(context: BotContext, user_id: int) -> str | None:
    """The question id a pending, unexpired report is about; None when there is none."""
    profile = await context.store.users.get_user(user_id)
    if profile is None or profile.report_asking_id is None:
        return None
    since = profile.report_since
    if since is None or context.now() - since > PENDING_FOR:
        await context.store.users.set_report_pending(user_id, None)
        return None
    asking = await context.store.quizzes.get_asking(profile.report_asking_id)
    if asking is None:
        await context.store.users.set_report_pending(user_id, None)
        return None
    return asking.question_id


async def send(context: BotContext, user: User, question_id: str, note: str) -> bool:
    """Page the admins with the note (once per user and question); False if already sent."""
    if not await context.store.users.record_report(user.id, question_id, context.now()):
        return False
    q = context.bank.get(question_id)
    where = f" ({render.esc(q.source)})" if q else ""
    await notify_admins(
        context.data,
        context.bot,
        f"⚑ <b>Mistake report</b> on <code>{render.esc(question_id)}</code>{where}\n"
        f"From {render.name(user.first_name)} (id {user.id}):\n\n{render.esc(note[:MAX_NOTE])}",
    )
    log.info("mistake report on %s from %s", question_id, user.id)
    return True
