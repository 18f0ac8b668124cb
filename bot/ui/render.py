"""What every text and keyboard shares, so that Telegram accepts it: escaping, names, the
limits (4096 per message, 200 per alert), cutting lists to fit, ``Rendered``; and a question
as every view shows it (its text and snippet, its choices as buttons, coloured once answered,
the deep links, the full answer split into messages).

Texts are sent with ``parse_mode=HTML``: every bank and user string goes through ``esc``.
Button labels and alerts are plain text and are never escaped (a choice ``<b>`` shows as written).
The views live beside this, by what they show: ``post_view`` (the channel post and its tally),
``quiz_view``, ``score_view`` and ``daily_view``. The question's pieces stay here rather than in
a module of their own so that a channel press's tally edit enters two ui modules, not three
(``python -m bench.walk``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import CopyTextButton, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, KeyboardButtonStyle

from bot.core.models import Question
from bot.ui import callback_data as cd
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


# ---------------------------------------------------------------- a question, in every view

LETTERS = "ABCDEF"
SHORT_CHOICE = 30  # longer choices are listed in the text, with letter buttons
MAX_COPY_TEXT = InlineKeyboardButtonLimit.MAX_COPY_TEXT  # Bot API 7.11: CopyTextButton.text, 1-256


def deep_link(bot_username: str, kind: str, question_id: str) -> str:
    """``?start=q_<id>`` (practise) or ``?start=a_<id>`` (full answer); ids fit start's 64."""
    return f"https://t.me/{bot_username}?start={kind}_{question_id}"


def code_block(q: Question) -> str:
    """The question's snippet as formatted Python, or nothing (contract §3)."""
    if not q.code:
        return ""
    return markup.block_html(markup.Block("code", q.code, "python"))


def question_html(q: Question) -> str:
    """The question in bold, its snippet right under it."""
    text = f"<b>{esc(q.question)}</b>"
    code = code_block(q)
    return f"{text}\n{code}" if code else text


def long_choices(choices: Sequence[str]) -> bool:
    return any(len(c) > SHORT_CHOICE for c in choices)


def choice_lines(choices: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}) {esc(c)}" for i, c in enumerate(choices))


def choice_buttons(choices: Sequence[str], make_data: object) -> list[list[InlineKeyboardButton]]:
    """One row per short choice (label = the choice), or one row of letters for long ones."""
    assert callable(make_data)
    if long_choices(choices):
        return [
            [
                InlineKeyboardButton(LETTERS[i], callback_data=make_data(i))
                for i in range(len(choices))
            ]
        ]
    return [[InlineKeyboardButton(c, callback_data=make_data(i))] for i, c in enumerate(choices)]


def answered_buttons(
    choices: Sequence[str], *, right: int, chosen: int, asking_id: int
) -> list[list[InlineKeyboardButton]]:
    """An answered question's choices, laid out as they were asked: the right one green, a
    wrong pick red (Bot API 9.4 ``style``), and ✅/❌ for clients that show no colour.

    A button must do something (Bot API: exactly one of url, callback_data, ...), so these
    carry ``d1:<asking_id>``, which the door admits only for this message and learner and the
    handler answers "you already answered": pressing one changes nothing.
    """

    def button(i: int, label: str) -> InlineKeyboardButton:
        style: str | None = None
        if i == right:
            style, label = KeyboardButtonStyle.SUCCESS, f"✅ {label}"
        elif i == chosen:
            style, label = KeyboardButtonStyle.DANGER, f"❌ {label}"
        return InlineKeyboardButton(label, callback_data=cd.done(asking_id), style=style)

    if long_choices(choices):
        return [[button(i, LETTERS[i]) for i in range(len(choices))]]
    return [[button(i, c)] for i, c in enumerate(choices)]


def copy_code_button(q: Question) -> list[InlineKeyboardButton]:
    """ "Copy code" (Bot API 7.11 ``copy_text``) when the snippet fits its 256 characters."""
    if not q.code or len(q.code) > MAX_COPY_TEXT:
        return []
    return [InlineKeyboardButton("📋 Copy code", copy_text=CopyTextButton(q.code))]


def answer_messages(q: Question) -> list[str]:
    """The full answer with formatted code, split into messages Telegram accepts."""
    parts = [question_html(q)]
    parts += [markup.block_html(b) for b in _split_big_blocks(markup.parse(q.answer))]
    tags = " ".join(f"#{t}" for t in q.hashtags)
    if tags:
        parts.append(esc(tags))
    messages: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}\n\n{part}" if current else part
        if current and markup.visible_len(candidate) > MAX_TEXT:
            messages.append(current)
            current = part
        else:
            current = candidate
    if current:
        messages.append(current)
    return messages


def _split_big_blocks(blocks: list[markup.Block]) -> list[markup.Block]:
    """Split any block whose own text exceeds a message, by lines, then by characters."""
    limit = MAX_TEXT - 200
    out: list[markup.Block] = []
    for block in blocks:
        if markup.utf16_len(block.text) <= limit:
            out.append(block)
            continue
        chunk = ""
        for text_line in block.text.split("\n"):
            line = text_line
            while markup.utf16_len(line) > limit:
                head = line[: limit // 2]
                line = line[len(head) :]
                if chunk:
                    out.append(markup.Block(block.kind, chunk, block.lang))
                    chunk = ""
                out.append(markup.Block(block.kind, head, block.lang))
            candidate = f"{chunk}\n{line}" if chunk else line
            if markup.utf16_len(candidate) > limit:
                out.append(markup.Block(block.kind, chunk, block.lang))
                chunk = line
            else:
                chunk = candidate
        if chunk.strip():
            out.append(markup.Block(block.kind, chunk, block.lang))
    return out
