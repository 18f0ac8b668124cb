"""A question as every view shows it: its text and snippet, its choices as buttons (coloured
once answered), the deep links, and the full answer split into messages Telegram accepts."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import CopyTextButton, InlineKeyboardButton
from telegram.constants import InlineKeyboardButtonLimit, KeyboardButtonStyle

from bot.core.models import Question
from bot.ui import callback_data as cd
from bot.ui import markup
from bot.ui.render import MAX_TEXT, esc

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
