"""Captions of the pictures (/progress, /stats, the weekly recap), as Telegram HTML.

A photo's caption may hold 1024 characters after entity parsing (Bot API sendPhoto:
"Photo caption ... 0-1024 characters after entities parsing"), counted, as message texts are,
in UTF-16 code units. Every caption here is measured as Telegram will count it and shortened
until it fits.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.ui.markup import visible_len
from bot.ui.render import SEPARATOR, esc, plural

__all__ = ["visible_len"]  # measured as markup measures every text Telegram parses

MAX_CAPTION = 1024
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_label(day: date) -> str:
    """``Nov 28``: English whatever the machine's locale, so pictures are the same anywhere."""
    return f"{MONTHS[day.month - 1]} {day.day}"


def pct(right: int, answered: int) -> int:
    return round(100 * right / answered) if answered else 0


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class TopicLine:
    topic: str
    answered: int
    right: int


def progress_caption(
    *,
    answered: int,
    right: int,
    active_days: int,
    best: tuple[date, int] | None,
    topics: Sequence[TopicLine],
) -> str:
    """The key numbers of /progress's picture, as text (topics given weakest first)."""
    lines = [
        "📈 <b>Your last 30 days</b>",
        f"{plural(answered, 'answer')} · {right} right · {pct(right, answered)}% · "
        f"on {plural(active_days, 'day')}",
    ]
    if best is not None:
        lines.append(f"Busiest day: {day_label(best[0])} ({plural(best[1], 'answer')})")
    if topics:
        weak = topics[0]
        lines.append(
            f"Weakest topic: {esc(_cut(weak.topic, 40))} "
            f"({pct(weak.right, weak.answered)}% of {weak.answered})"
        )
        if len(topics) > 1:
            strong = topics[-1]
            lines.append(
                f"Strongest: {esc(_cut(strong.topic, 40))} "
                f"({pct(strong.right, strong.answered)}% of {strong.answered})"
            )
        lines.append("/quiz &lt;topic&gt; practises one.")
    return "\n".join(lines)


NO_PROGRESS = (
    "Nothing to draw yet: you have no answers in the last 30 days. Start with /quiz, "
    "answer a few questions, and /progress will show how you are doing."
)


@dataclass(frozen=True, slots=True)
class PostLine:
    """One channel post in a caption: its question, link and tally."""

    text: str
    url: str | None
    answered: int
    right: int
    day: date


def _post_link(p: PostLine, limit: int) -> str:
    shown = esc(_cut(p.text, limit))
    return f'<a href="{html.escape(p.url, quote=True)}">{shown}</a>' if p.url else shown


def stats_caption(posts: Sequence[PostLine], hardest: int | None) -> str:
    """/stats's picture: the last posts' totals and the hardest one."""
    answered = sum(p.answered for p in posts)
    right = sum(p.right for p in posts)
    lines = [
        f"📊 <b>Last {plural(len(posts), 'post')}</b>: {plural(answered, 'answer')}, "
        f"{pct(right, answered)}% right overall",
    ]
    if hardest is not None:
        h = posts[hardest]
        lines.append(
            f"Hardest: {_post_link(h, 80)} ({day_label(h.day)}): "
            f"{pct(h.right, h.answered)}% right of {h.answered}"
        )
    return "\n".join(lines)


def hardest_of(posts: Sequence[PostLine | tuple[int, int]], min_answers: int = 3) -> int | None:
    """Index of the post with the lowest share right among those with enough answers (the
    most answered wins a tie; then the earliest); None if none has enough."""
    best: tuple[float, int, int] | None = None
    for i, p in enumerate(posts):
        n, r = (p.answered, p.right) if isinstance(p, PostLine) else p
        if n < min_answers:
            continue
        key = (r / n, -n, i)
        if best is None or key < best:
            best = key
    return best[2] if best is not None else None


def weekly_caption(
    posts: Sequence[PostLine], *, first: date, last: date, readers: int, signature: str
) -> str:
    """The weekly recap: the week's questions, linked, with their tallies; the hardest; how
    many readers answered. Question texts are shortened, then lines folded, until it fits."""
    answered = sum(p.answered for p in posts)
    right = sum(p.right for p in posts)
    hardest = hardest_of(posts, min_answers=1)
    head = [
        f"🗓 <b>The week in questions</b> · {day_label(first)} – {day_label(last)}",
        f"{plural(len(posts), 'question')} · {plural(answered, 'answer')} · "
        f"{pct(right, answered)}% right · {plural(readers, 'reader')} answered",
        "",
    ]
    tail = ["", SEPARATOR, esc(_cut(signature, 200))]
    for limit in (90, 70, 50, 35, 25):
        for shown in range(len(posts), 0, -1):
            lines = [
                f"{DAYS[p.day.weekday()]} {_post_link(p, limit)}: "
                + (f"{p.answered} · {pct(p.right, p.answered)}% right" if p.answered else "—")
                for p in posts[:shown]
            ]
            if shown < len(posts):
                lines.append(f"… and {plural(len(posts) - shown, 'more question')}")
            if hardest is not None:
                h = posts[hardest]
                lines += [
                    "",
                    f"🧩 Hardest: {_post_link(h, limit)} ({pct(h.right, h.answered)}% right)",
                ]
            caption = "\n".join(head + lines + tail)
            if visible_len(caption) <= MAX_CAPTION:
                return caption
            if limit > 25:
                break  # shorter question texts first; fold lines only at the shortest
    return "\n".join(head[:2] + tail)  # only a signature near the limit gets here
