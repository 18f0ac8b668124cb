"""What every text and keyboard shares, so that Telegram accepts it: escaping, names, the
limits (4096 per message, 200 per alert), cutting lists to fit, ``Rendered``.

Texts are sent with ``parse_mode=HTML``: every bank and user string goes through ``esc``.
Button labels and alerts are plain text and are never escaped (a choice ``<b>`` shows as written).
What is rendered lives beside this by what it shows: ``question_view`` (a question, its
choices, the full answer), ``post_view`` (the channel post and its tally), ``quiz_view``,
``score_view`` and ``daily_view``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import InlineKeyboardMarkup

from bot.ui import markup

MAX_TEXT = 4096  # Bot API: message text, 1-4096 characters after entities parsing
MAX_ALERT = 200  # Bot API: answerCallbackQuery text, 0-200 characters
SEPARATOR = "━━━━━━━━━━━━━━━"


def esc(text: str) -> str:
    return html.escape(text, quote=False)


MAX_NAME = 32  # characters of a user's first name shown (Telegram allows 64)
FSI, PDI = "\u2068", "\u2069"  # first strong isolate ... pop directional isolate
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def name(first_name: str | None) -> str:
    """A user's name for an HTML text: bounded, escaped, and isolated (FSI … PDI), so a
    right-to-left or control-laden name cannot reverse the text around it (contract §6)."""
    text = (first_name or "").strip() or "someone"
    # Stray isolates and overrides inside the name must not close or break ours.
    text = "".join(ch for ch in text if ch not in BIDI_CONTROLS)
    text = text or "someone"
    if len(text) > MAX_NAME:
        text = text[: MAX_NAME - 1] + "…"
    return f"{FSI}{esc(text)}{PDI}"


def capped(lines: Sequence[str], budget: int, *, sep: str = "\n") -> list[str]:
    """Plain-text ``lines`` that fit in ``budget`` UTF-16 units once joined by ``sep``; when
    some do not fit, the last kept one says "… and N more". Cut before escaping, so no entity
    is ever split."""
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        size = markup.utf16_len(line) + (markup.utf16_len(sep) if kept else 0)
        rest = len(lines) - i
        # Room must stay for the "and N more" line should a later one not fit.
        if (used + size + 24 > budget and rest > 1) or used + size > budget:
            kept.append(f"… and {rest} more")
            return kept
        kept.append(line)
        used += size
    return kept


def names_text(names: Sequence[str], budget: int) -> str:
    """``names`` (first names) as HTML, comma-separated, isolated, within ``budget`` units."""
    shown: list[str] = []
    used = 0
    for i, first in enumerate(names):
        item = name(first)
        size = markup.visible_len(item) + 2
        if (used + size + 16 > budget and i < len(names) - 1) or used + size > budget:
            shown.append(f"and {len(names) - i} more")
            break
        shown.append(item)
        used += size
    return ", ".join(shown)


def room(lines: Sequence[str]) -> int:
    """What is left of a message's 4096 units after ``lines`` (and a margin for one more)."""
    return MAX_TEXT - markup.visible_len("\n".join(lines)) - 40


def alert(text: str) -> str:
    """Fit an alert into Telegram's 200 characters (plain text, never escaped)."""
    if len(text) <= MAX_ALERT:
        return text
    return text[: MAX_ALERT - 1].rstrip() + "…"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    keyboard: InlineKeyboardMarkup | None = None
    cut: bool = False


def humanize(delta: timedelta) -> str:
    """``10 minutes``, ``5 hours``, ``3 days``: how far away a review is."""
    minutes = round(delta.total_seconds() / 60)
    if minutes < 60:
        return plural(max(minutes, 1), "minute")
    hours = round(minutes / 60)
    if hours < 24:
        return plural(hours, "hour")
    return plural(round(minutes / 1440), "day")


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
