"""Posting to the channel: post a slot exactly once, keep tallies fresh, /repost; what comes
next is ``services.channel_queue``'s.

Over ~300 lines on purpose: the post-exactly-once state machine, tallies and /repost share it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.core import schedule
from bot.core.kinds import AskingKind
from bot.core.models import Question
from bot.db import ChannelPost
from bot.runtime.request import NotSent
from bot.services.channel_queue import current_cycle, day_question, next_question
from bot.services.messages import NO_PREVIEW
from bot.services.pager import notify_admins
from bot.state.context import BotData
from bot.ui import post_view, render

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    SENT = "sent"
    ALREADY = "already posted"
    NO_CHANNEL = "CHANNEL_ID is not set"
    EMPTY = "the bank has no questions"
    FAILED = "failed"
    UNKNOWN = "outcome unknown"


@dataclass(frozen=True, slots=True)
class PostResult:
    outcome: Outcome
    question_id: str | None = None
    message_id: int | None = None
    detail: str = ""


async def signature(data: BotData, bot: Bot) -> str:
    """POST_SIGNATURE, else ``By: @channel ✨``, else ``By: <channel title> ✨`` (a numeric
    CHANNEL_ID with no public username), looked up once; never a placeholder."""
    settings = data.settings
    if settings.post_signature or not settings.channel_id:
        return settings.signature(None)
    if settings.channel_id.startswith("@"):
        return settings.signature(settings.channel_id)
    if data.channel_username is None:
        try:
            chat = await bot.get_chat(settings.channel_id)
        except TelegramError as exc:
            # Not cached: the next post asks again. Meanwhile the bot's own handle signs.
            log.warning("could not look up the channel's name: %s", exc)
            return f"By: @{bot.username} ✨"
        data.channel_username = f"@{chat.username}" if chat.username else (chat.title or "")
    if data.channel_username.startswith("@"):
        return settings.signature(data.channel_username)
    if data.channel_username:
        return f"By: {data.channel_username} ✨"
    return f"By: @{bot.username} ✨"


async def post(
    data: BotData, bot: Bot, *, slot: str | None, question_id: str | None = None
) -> PostResult:
    """Post one slot (``None``: an unscheduled /post_now) exactly once.

    The slot row is committed before the send. Telegram refusing (4xx) or never getting the
    request (connection refused) releases the slot for a later try; an unknown outcome (a
    timeout after the request went out, or a 5xx answer, which Telegram can give after the
    message was delivered) marks it 'unknown', counts it as posted and tells the admins once
    instead of posting twice (contract §6).
    """
    settings = data.settings
    if not settings.channel_id:
        return PostResult(Outcome.NO_CHANNEL)
    if question_id is None:
        day = schedule.daily_day(slot) if slot else None
        picked = await (day_question(data, day) if day else next_question(data))
        if picked is None:
            return PostResult(Outcome.EMPTY)
        cycle, question_id = picked
    else:
        cycle = await current_cycle(data)
    question = data.bank.questions[question_id]
    now = data.clock()
    post_id = await data.store.channel.claim_slot(
        slot=slot, question_id=question_id, cycle=cycle, now=now
    )
    if post_id is None:
        return PostResult(Outcome.ALREADY, question_id)
    asking_id = None
    if question.quizzable:
        asking_id = await data.store.quizzes.create_asking(
            kind=AskingKind.CHANNEL,
            question_id=question_id,
            order=range(len(question.choices)),
            choices_sig=question.choices_sig,
            now=now,
        )
    rendered = post_view.render_post(
        question,
        signature=await signature(data, bot),
        bot_username=bot.username,
        asking_id=asking_id,
    )
    try:
        message = await bot.send_message(
            settings.channel_id,
            rendered.text,
            parse_mode=ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=NO_PREVIEW,
        )
    except (BadRequest, Forbidden, NotSent, RetryAfter) as exc:
        await data.store.channel.release_slot(post_id)
        await _report_failure(data, bot, question, exc)
        return PostResult(Outcome.FAILED, question_id, detail=str(exc))
    except NetworkError as exc:  # TimedOut and OutcomeUnknown (5xx): the post may be live
        await data.store.channel.post_status(post_id, "unknown", str(exc))
        log.error("channel post of %s: outcome unknown (%s)", question_id, exc)  # noqa: TRY400
        await notify_admins(
            data,
            bot,
            f"⚠️ Posting <code>{render.esc(question_id)}</code> to the channel got no clear "
            f"answer from Telegram ({render.esc(str(exc)[:100])}), so it may or may not be "
            "there. I will not post it again on my own: check the channel, and if it is "
            f"missing send /post_now {question_id}",
        )
        return PostResult(Outcome.UNKNOWN, question_id, detail=str(exc))
    await data.store.channel.post_sent(
        post_id,
        asking_id=asking_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        now=now,
    )
    log.info(
        "channel post sent: question=%s slot=%s message=%s", question_id, slot, message.message_id
    )
    await channel_back(data, bot)
    return PostResult(Outcome.SENT, question_id, message.message_id)


async def _report_failure(data: BotData, bot: Bot, q: Question, exc: Exception) -> None:
    reason = str(exc)
    log.error("channel post of %s failed: %s", q.id, reason)
    if data.channel_failing == reason:
        return  # one message per kind of failure, not one per attempt
    data.channel_failing = reason
    hint = ""
    if isinstance(exc, Forbidden | BadRequest):
        hint = (
            "\nMake sure the bot is an admin of the channel with the right to post, and that "
            f"CHANNEL_ID ({render.esc(data.settings.channel_id or '')}) is right."
        )
    await notify_admins(
        data,
        bot,
        f"❌ I could not post <code>{render.esc(q.id)}</code> to the channel: "
        f"{render.esc(reason)}.{hint}\nI will try again later; /post_now retries at once.",
    )


async def refresh_tally(data: BotData, bot: Bot, post_id: int) -> bool:
    """Re-render a post whose tally changed; True if an edit was sent."""
    store = data.store
    p = await store.channel.get_post(post_id)
    if p is None or p.status != "sent":
        return False
    if p.asking_id is None or p.chat_id is None or p.message_id is None:
        return False
    answered, right = await store.stats.tally(p.asking_id)
    shown = f"{answered}:{right}"
    if shown == p.tally_shown:
        return False  # Telegram rejects an edit that changes nothing
    question = data.bank.get(p.question_id)
    if question is None:
        return False
    try:
        await _edit_post(
            data, bot, p, question, asking_id=p.asking_id, tally=post_view.Tally(answered, right)
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            log.warning("tally edit of post %s failed: %s", post_id, exc)
            return False
    await store.channel.set_tally_shown(post_id, shown)
    return True


async def _tally_edit_is_ours(data: BotData, post_id: int) -> bool:
    """Several processes on one PostgreSQL (CONTRACT §10): each batches the presses it took,
    so a post pressed on two would be edited by both, up to twice an interval. One process
    at a time owns a post's tally edit: a lease (``tally:<post>``) taken for one interval, so
    the owner edits at its pace and another takes over once it has not renewed for an
    interval (it had no press of the post, stopped, or died). The owner reads the tally from
    the database, so its edit shows the other processes' presses too; one that did not get
    the lease keeps the post marked and tries at its next flush."""
    store = data.store
    if store.database.dialect != "postgres":
        return True  # one process
    ttl = timedelta(seconds=data.settings.tally_interval)
    workers = store.workers
    until = await workers.take_lease(
        f"tally:{post_id}", workers.holder, data.clock(), ttl, from_the_dead=False
    )
    return until is not None


async def flush_tallies(data: BotData, bot: Bot, *, stopping: bool = False) -> int:
    """Edit every post whose tally changed since the last flush; returns the edits made.

    While the bot cannot post to the channel (removed, or no right to post), tallies wait:
    they are flushed once posting works again, not retried every interval meanwhile.
    ``stopping``: the last flush before the process ends edits without waiting for another
    process's lease (its presses would otherwise wait for the next press to be shown).
    """
    if data.channel_failing is not None:
        return 0
    pending, data.dirty_tallies = data.dirty_tallies, set()
    edits = 0
    for post_id in sorted(pending):
        if not stopping and not await _tally_edit_is_ours(data, post_id):
            data.dirty_tallies.add(post_id)  # another process edits it now
            continue
        try:
            edits += await refresh_tally(data, bot, post_id)
        except Forbidden as exc:  # removed from the channel: no edit can work until fixed
            data.dirty_tallies.update(pending)
            await channel_lost(data, bot, str(exc))
            break
        except TelegramError as exc:
            log.warning("tally refresh of post %s failed: %s", post_id, exc)
            data.dirty_tallies.add(post_id)
    return edits


async def channel_lost(data: BotData, bot: Bot, reason: str) -> None:
    """The bot can no longer post in the channel: tell the admins once, pause tally edits."""
    if data.channel_failing is not None:
        return  # already told; a post that works again clears it
    data.channel_failing = reason
    log.error("the bot cannot post in the channel: %s", reason)
    await notify_admins(
        data,
        bot,
        f"❌ I can no longer post in the channel ({render.esc(reason)}). Add me back as an "
        "admin with the right to post; tallies and posts resume then.",
    )


async def channel_back(data: BotData, bot: Bot) -> None:
    """Posting works again (a post went out, or the bot was made an admin again)."""
    if data.channel_failing is None:
        return
    data.channel_failing = None
    log.info("posting to the channel works again")
    await notify_admins(data, bot, "✅ Posting to the channel works again.")


def is_our_channel(data: BotData, chat_id: int, username: str | None) -> bool:
    channel_id = data.settings.channel_id or ""
    if channel_id.startswith("@"):
        return (username or "").lower() == channel_id[1:].lower()
    return channel_id == str(chat_id)


async def _edit_post(
    data: BotData,
    bot: Bot,
    p: ChannelPost,
    question: Question,
    *,
    asking_id: int | None,
    tally: post_view.Tally,
) -> None:
    """Re-render a sent post in place (its tally, or a fixed question)."""
    rendered = post_view.render_post(
        question,
        signature=await signature(data, bot),
        bot_username=bot.username,
        asking_id=asking_id,
        tally=tally,
    )
    await bot.edit_message_text(
        rendered.text,
        chat_id=p.chat_id,
        message_id=p.message_id,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
    )


async def repost(data: BotData, bot: Bot, question_id: str) -> str:
    """Re-render the latest post of a question in place after a bank fix; returns a reply."""
    p = await data.store.channel.latest_post_of(question_id)
    question = data.bank.get(question_id)
    if question is None:
        return f"There is no question {question_id} in the bank."
    if p is None or p.chat_id is None or p.message_id is None:
        return f"{question_id} has not been posted to the channel yet."
    asking_id = p.asking_id
    if question.quizzable:
        if asking_id is None:
            asking_id = await data.store.quizzes.create_asking(
                kind=AskingKind.CHANNEL,
                question_id=question_id,
                order=range(len(question.choices)),
                choices_sig=question.choices_sig,
                now=data.clock(),
            )
        else:
            await data.store.quizzes.update_asking_choices(
                asking_id, range(len(question.choices)), question.choices_sig
            )
    answered, right = await data.store.stats.tally(asking_id) if asking_id else (0, 0)
    try:
        await _edit_post(
            data, bot, p, question, asking_id=asking_id, tally=post_view.Tally(answered, right)
        )
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return f"The post of {question_id} already shows the current text."
        return f"Telegram refused the edit: {exc}"
    if asking_id is not None and asking_id != p.asking_id:
        await data.store.channel.post_sent(
            p.id, asking_id=asking_id, chat_id=p.chat_id, message_id=p.message_id, now=data.clock()
        )
    await data.store.channel.set_tally_shown(p.id, f"{answered}:{right}")
    return f"Reposted {question_id} in place (message {p.message_id})."
