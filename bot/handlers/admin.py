"""Admin commands, run from a private chat with the bot. Everyone else is refused politely.

The channel's schedule and queue (/schedule, /unschedule, /queue, /skip, /pause, /resume) are
``handlers.admin_schedule``'s; both check with ``handlers.admin_access``.

Arguments are untrusted text: question ids are looked up in the bank, times parsed strictly,
and nothing of what an admin types reaches SQL except as a bound parameter.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Update
from telegram.constants import ParseMode

from bot.core.bank import check_bank
from bot.core.kinds import AskingKind
from bot.handlers.admin_access import admin_only, reply_to
from bot.services import channel, channel_queue, pictures, weekly
from bot.services.messages import NO_PREVIEW, follow_up
from bot.state.context import BotContext
from bot.ui import post_view, render

log = logging.getLogger(__name__)


def _outcome_text(result: channel.PostResult) -> str:
    qid = render.esc(result.question_id or "")
    match result.outcome:
        case channel.Outcome.SENT:
            return f"✅ Posted <code>{qid}</code> (message {result.message_id})."
        case channel.Outcome.NO_CHANNEL:
            return "CHANNEL_ID is not set, so there is no channel to post to."
        case channel.Outcome.EMPTY:
            return "The bank has no questions to post."
        case channel.Outcome.ALREADY:
            return f"<code>{qid}</code> was already posted for this slot."
        case channel.Outcome.FAILED:
            return f"❌ Posting <code>{qid}</code> failed: {render.esc(result.detail)}"
        case _:
            return f"⚠️ Posting <code>{qid}</code> timed out; it may or may not be in the channel."


@admin_only
async def cmd_post_now(update: Update, context: BotContext) -> None:
    """/post_now [question_id]: post the next (or the named) question now."""
    args = context.args or []
    if len(args) > 1:
        await reply_to(update, "Usage: /post_now [question_id], one question at a time.")
        return
    qid = args[0] if args else None
    if qid is not None and qid not in context.bank:
        await reply_to(update, f"There is no question <code>{render.esc(qid[:40])}</code>.")
        return
    result = await channel.post(context.data, context.bot, slot=None, question_id=qid)
    await reply_to(update, _outcome_text(result))


@admin_only
async def cmd_preview(update: Update, context: BotContext) -> None:
    """/preview <question_id>: the post exactly as it will appear, buttons included."""
    args = context.args or []
    if args and args[0].lower() == "weekly":
        await _preview_weekly(update, context)
        return
    if not args:
        cycle_left = await channel_queue.upcoming(context.data)
        if not cycle_left[1]:
            await reply_to(update, "Usage: /preview &lt;question_id&gt;")
            return
        args = [cycle_left[1][0]]
    q = context.bank.get(args[0])
    if q is None:
        await reply_to(update, f"There is no question <code>{render.esc(args[0][:40])}</code>.")
        return
    asking_id = None
    if q.quizzable:
        asking_id = await context.store.quizzes.create_asking(
            kind=AskingKind.PREVIEW,
            question_id=q.id,
            order=range(len(q.choices)),
            choices_sig=q.choices_sig,
            now=context.now(),
        )
    rendered = post_view.render_post(
        q,
        signature=await channel.signature(context.data, context.bot),
        bot_username=context.bot.username,
        asking_id=asking_id,
    )
    assert update.effective_message is not None
    sent = await update.effective_message.reply_text(
        rendered.text,
        parse_mode=ParseMode.HTML,
        reply_markup=rendered.keyboard,
        link_preview_options=NO_PREVIEW,
    )
    if asking_id is not None:  # its choices answer on this message, for an admin only
        await context.store.quizzes.set_asking_message(asking_id, sent.chat.id, sent.message_id)


async def _preview_weekly(update: Update, context: BotContext) -> None:
    """/preview weekly: the recap of the last seven days, as the channel would get it."""
    settings = context.settings
    when = (
        f"WEEKLY_POST is {settings.weekly_post} ({render.esc(settings.timezone)})."
        if settings.weekly_post
        else "WEEKLY_POST is off: set it (e.g. sun 18:00) to post this weekly."
    )
    user = update.effective_user
    assert user is not None
    # Built and drawn outside the update's slot (a follow-up), like every picture.
    follow_up(context, update, _send_weekly_preview(context, user.id, when))


async def _send_weekly_preview(context: BotContext, chat_id: int, when: str) -> None:
    signature = await channel.signature(context.data, context.bot)
    recap = await weekly.build(context.data, signature, context.now())
    if recap is None:
        await context.bot.send_message(
            chat_id,
            f"No channel post in the last 7 days: no recap would go out. {when}",
            link_preview_options=NO_PREVIEW,
        )
        return
    await context.bot.send_message(
        chat_id, f"The weekly recap as of now. {when}", link_preview_options=NO_PREVIEW
    )
    await _send_photo(context, chat_id, recap.picture.png, recap.picture.caption)


async def _send_photo(context: BotContext, chat_id: int, png: bytes, caption: str) -> None:
    await context.bot.send_photo(chat_id, png, caption=caption, parse_mode=ParseMode.HTML)


@admin_only
async def cmd_reload(update: Update, context: BotContext) -> None:
    """/reload: re-read the bank; an invalid bank is reported and the old one kept."""
    directory = context.settings.content_dir
    bank, problems = await asyncio.to_thread(check_bank, directory)
    if problems:
        head = (
            f"❌ The bank has {render.plural(len(problems), 'problem')}; I kept the old one "
            f"({len(context.bank)} questions).\n"
        )
        # Cut by whole lines of plain text, so that no escaped entity is split.
        lines = render.capped([str(p) for p in problems], render.MAX_TEXT - 200)
        await reply_to(update, head + "\n".join(render.esc(line) for line in lines))
        return
    old = context.bank
    context.data.bank = bank
    added = len(set(bank.questions) - set(old.questions))
    removed = len(set(old.questions) - set(bank.questions))
    log.info("bank reloaded: %d questions (+%d, -%d)", len(bank), added, removed)
    await reply_to(
        update,
        f"✅ Reloaded: {len(bank)} questions in {len(bank.topics)} topics (+{added}, −{removed}).",
    )


@admin_only
async def cmd_repost(update: Update, context: BotContext) -> None:
    """/repost <question_id>: re-render the posted question in place after a bank fix."""
    args = context.args or []
    if not args:
        await reply_to(update, "Usage: /repost &lt;question_id&gt;")
        return
    reply = await channel.repost(context.data, context.bot, args[0][:40])
    await reply_to(update, render.esc(reply))


@admin_only
async def cmd_stats(update: Update, context: BotContext) -> None:
    """/stats: answers and accuracy per post, the hardest questions, active readers."""
    store = context.store
    lines = ["<b>Latest posts</b>"]
    posts = await store.stats.post_stats(10)
    if not posts:
        lines.append("nothing posted yet")
    for qid, sent_at, answered, right in posts:
        pct = f"{round(100 * right / answered)}% right" if answered else "no answers"
        lines.append(
            f"• {sent_at[:10]} <code>{render.esc(qid)}</code>: {answered} answered, {pct}"
        )
    hardest = await store.stats.hardest_questions()
    if hardest:
        lines += ["", "<b>Hardest questions</b> (at least 3 answers)"]
        for qid, n, r in hardest:
            lines.append(f"• <code>{render.esc(qid)}</code>: {round(100 * r / n)}% right of {n}")
    now = context.now()
    readers, learners = await store.stats.active_users(now - timedelta(days=7))
    lines += [
        "",
        f"Active in the last 7 days: {readers} channel readers, {learners} quiz learners.",
        f"Daily question subscribers: {await store.daily.count()}.",
    ]
    await reply_to(update, "\n".join(lines))
    if posts:
        user = update.effective_user
        assert user is not None
        # Drawn outside the update's slot (a follow-up), then sent under the text.
        follow_up(context, update, _send_stats_picture(context, user.id))


async def _send_stats_picture(context: BotContext, chat_id: int) -> None:
    picture = await pictures.admin_stats(context.data)
    if picture is not None:
        await _send_photo(context, chat_id, picture.png, picture.caption)
