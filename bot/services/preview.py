"""``python -m bot preview``: a post as it will be sent, with no token and no network."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.core.models import QuestionBank
from bot.db import Store
from bot.services import channel_queue, weekly
from bot.state.context import BotData
from bot.ui import markup, post_view, render

BOT_PLACEHOLDER = "<bot_username>"
CHANNEL_PLACEHOLDER = "<channel_username>"


async def _next_id(settings: Settings, bank: QuestionBank) -> tuple[str, str]:
    """The next question in the channel queue, read from the database when there is one."""
    first = next(iter(bank.questions))
    if settings.database_url is None and not settings.database_path.exists():
        return first, "no database yet: the first start shuffles the queue; showing the first one"
    store = await Store.open(settings.database_location)
    try:
        picked = await channel_queue.peek_next(store, bank)  # the real queue code, read-only
    finally:
        await store.close()
    if picked is None:
        return first, "the queue has not started yet: showing the first question"
    cycle, question_id = picked
    return question_id, f"next in the queue (cycle {cycle})"


def _signature(settings: Settings) -> str:
    if (
        not settings.post_signature
        and settings.channel_id
        and not settings.channel_id.startswith("@")
    ):
        return settings.signature(CHANNEL_PLACEHOLDER)
    return settings.signature(None)


async def preview_weekly(
    settings: Settings, bank: QuestionBank, out: Path
) -> tuple[str, bytes | None]:
    """``preview weekly``: the recap of the last seven days from the database: its caption
    (as text to print, naming ``out``) and its picture, for the caller to write to ``out``."""
    if not settings.database_path.exists():
        return "# no database yet: nothing has been posted, so there is no weekly recap", None
    data = BotData(settings=settings, bank=bank)
    data.store = await Store.open(settings.database_path)
    try:
        recap = await weekly.build(data, _signature(settings), datetime.now(UTC))
    finally:
        data.drawer.close()
        await data.store.close()
    if recap is None:
        return "# no channel post in the last 7 days: no weekly recap would go out", None
    caption = recap.picture.caption
    text = "\n".join(
        [
            f"# the weekly recap as of now: {recap.posts} post(s); picture written to {out}",
            f"# parse_mode=HTML, caption {markup.visible_len(caption)} of 1024 characters",
            "",
            caption,
        ]
    )
    return text, recap.picture.png


async def preview_text(settings: Settings, bank: QuestionBank, question_id: str | None) -> str:
    if question_id is None:
        question_id, note = await _next_id(settings, bank)
    else:
        note = "as requested"
        if question_id not in bank:
            raise SystemExit(f"There is no question {question_id!r} in {settings.content_dir}.")
    q = bank.questions[question_id]
    signature = _signature(settings)
    rendered = post_view.render_post(
        q, signature=signature, bot_username=BOT_PLACEHOLDER, asking_id=1 if q.quizzable else None
    )
    lines = [
        f"# {q.id} ({q.source}) — {note}",
        f"# parse_mode=HTML, {markup.visible_len(rendered.text)} of {render.MAX_TEXT} characters",
        "",
        rendered.text,
        "",
        "# buttons:",
    ]
    assert rendered.keyboard is not None
    for row in rendered.keyboard.inline_keyboard:
        lines.append(
            "  " + "  ".join(f"[{b.text}]" + (f"({b.url})" if b.url else "") for b in row)
        )
    return "\n".join(lines)
