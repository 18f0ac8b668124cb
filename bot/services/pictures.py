"""The pictures of /progress and /stats: their data from the running totals, drawn off the
event loop (state.drawing), with the key numbers as a caption (ui.captions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core import rules
from bot.db import from_iso
from bot.db.stats import PostTally
from bot.state.context import BotData
from bot.ui import captions, pictures

PROGRESS_DAYS = 30
STATS_POSTS = 30


@dataclass(frozen=True, slots=True)
class Picture:
    png: bytes
    caption: str  # Telegram HTML, at most captions.MAX_CAPTION after parsing


async def topic_shares(data: BotData, user_id: int) -> list[pictures.Share]:
    """Share right per topic over the user's quiz answers, weakest first (most answered
    first on a tie). The per-question rows are one index range of that user's answers."""
    per_question = {qid: (n, r) for qid, n, r in await data.store.stats.per_question(user_id)}
    shares = []
    for topic in data.bank.topics:
        seen = [per_question[q.id] for q in data.bank.in_topic(topic) if q.id in per_question]
        answered = sum(n for n, _ in seen)
        if answered:
            shares.append(pictures.Share(topic, answered, sum(r for _, r in seen)))
    shares.sort(key=lambda s: (s.right / s.answered, -s.answered, s.label))
    return shares


async def progress(data: BotData, user_id: int, first_name: str) -> Picture | None:
    """A learner's last 30 days in their /timezone and their topics; None with no answers in
    those days and no topic to show (the caller says so in a sentence instead)."""
    today = date.fromisoformat(rules.local_day(data.clock(), data.zone_of(user_id)))
    first = today - timedelta(days=PROGRESS_DAYS - 1)
    rows = {
        day: (n, r)
        for day, n, r in await data.store.stats.day_totals(
            user_id, first.isoformat(), today.isoformat()
        )
    }
    topics = await topic_shares(data, user_id)
    if not rows and not topics:
        return None
    days = []
    for i in range(PROGRESS_DAYS):
        day = first + timedelta(days=i)
        n, r = rows.get(day.isoformat(), (0, 0))
        days.append(pictures.Day(captions.day_label(day), n, r))
    shown = topics[: pictures.MAX_BARS]
    heading = f"{_name(first_name)} · {captions.day_label(first)} – {captions.day_label(today)}"
    inputs = (tuple(days), tuple(shown), heading)
    png = await data.drawer.draw(
        ("progress", user_id, today), inputs, pictures.progress_png, days, shown, heading
    )
    answered = sum(d.answered for d in days)
    busiest = max(rows.items(), key=lambda kv: (kv[1][0], kv[0]), default=None)
    caption = captions.progress_caption(
        answered=answered,
        right=sum(d.right for d in days),
        active_days=len(rows),
        best=(date.fromisoformat(busiest[0]), busiest[1][0]) if busiest else None,
        topics=[captions.TopicLine(s.label, s.answered, s.right) for s in topics],
    )
    return Picture(png, caption)


def _name(first_name: str) -> str:
    # A picture has no bidi isolation: drop the controls a name could reorder the line with.
    clean = "".join(ch for ch in first_name if ch.isprintable())[:32]
    return clean or "You"


def post_url(data: BotData, chat_id: int | None, message_id: int | None) -> str | None:
    """A link to a channel post: ``t.me/<name>/<id>`` for a public channel, ``t.me/c/<id>/
    <id>`` (members only) for a private one (https://core.telegram.org/api/links#message-links)."""
    if chat_id is None or message_id is None:
        return None
    configured = data.settings.channel_id or ""
    username = configured if configured.startswith("@") else data.channel_username or ""
    if username.startswith("@"):
        return f"https://t.me/{username[1:]}/{message_id}"
    text = str(chat_id)
    if text.startswith("-100"):
        return f"https://t.me/c/{text[4:]}/{message_id}"
    return None


def post_lines(data: BotData, posts: list[PostTally]) -> list[captions.PostLine]:
    zone = data.settings.zone
    lines = []
    for p in posts:
        q = data.bank.get(p.question_id)
        sent = from_iso(p.sent_at) if p.sent_at else datetime.min.replace(tzinfo=zone)
        lines.append(
            captions.PostLine(
                text=q.question if q is not None else p.question_id,
                url=post_url(data, p.chat_id, p.message_id),
                answered=p.answered,
                right=p.right,
                day=sent.astimezone(zone).date(),
            )
        )
    return lines


async def admin_stats(data: BotData) -> Picture | None:
    """Answers and share right of the last 30 channel posts, the hardest marked; None before
    the first post."""
    rows = await data.store.stats.post_stats(STATS_POSTS)
    if not rows:
        return None
    tallies = [PostTally(q, None, None, None, at, n, r) for q, at, n, r in reversed(rows)]
    lines = post_lines(data, tallies)
    hardest = captions.hardest_of(lines)
    bars = tuple(pictures.Share(captions.day_label(p.day), p.answered, p.right) for p in lines)
    heading = f"Last {len(bars)} channel posts"
    today = data.clock().astimezone(data.settings.zone).date()
    png = await data.drawer.draw(
        ("stats", 0, today), (bars, heading, hardest), pictures.posts_png, bars, heading, hardest
    )
    return Picture(png, captions.stats_caption(lines, hardest))
