"""The channel post (contract §4: answer behind a spoiler, tally, links) and the alert a
reader sees after pressing one of its choices."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.models import Question
from bot.ui import callback_data as cd
from bot.ui import markup
from bot.ui.render import (
    LETTERS,
    MAX_TEXT,
    SEPARATOR,
    Rendered,
    alert,
    choice_buttons,
    choice_lines,
    deep_link,
    esc,
    long_choices,
    question_html,
)

HEADER = "❔ Interview Question"


@dataclass(frozen=True, slots=True)
class Tally:
    answered: int
    right: int

    def line(self) -> str:
        pct = round(100 * self.right / self.answered) if self.answered else 0
        return f"🧠 {self.answered} answered · {pct}% right"


def post_text(
    q: Question, signature: str, tally: Tally | None = None, *, answer_limit: int | None = None
) -> tuple[str, bool]:
    """The post's HTML (contract §4) and whether the answer had to be cut to fit."""
    tags = " ".join(f"#{t}" for t in q.hashtags)
    # The snippet belongs to the question: outside the spoiler, formatted (contract §3, §4).
    head = f"<b>{esc(HEADER)}</b>\n\n{question_html(q)}\n\n"
    extra: list[str] = []
    if q.quizzable and long_choices(q.choices):
        extra.append(choice_lines(q.choices))
    if tally is not None and tally.answered:
        extra.append(esc(tally.line()))
    extra_text = "".join(f"\n\n{e}" for e in extra)
    tail = f"{extra_text}\n\ntags: {esc(tags)}\n{SEPARATOR}\n{esc(signature)}"
    plain_answer = markup.to_plain(q.answer)
    fixed = markup.visible_len(head + "Answer: " + tail)
    budget = (answer_limit or MAX_TEXT) - fixed
    shown = markup.cut_plain(plain_answer, max(budget, 1))
    cut = shown != plain_answer
    text = f"{head}Answer: <tg-spoiler>{esc(shown)}</tg-spoiler>{tail}"
    return text, cut


def post_keyboard(
    q: Question, *, asking_id: int | None, bot_username: str, cut: bool
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if q.quizzable and asking_id is not None:
        rows += choice_buttons(q.choices, lambda i: cd.answer(asking_id, i))
    links = [
        InlineKeyboardButton("🎯 Practise in the bot", url=deep_link(bot_username, "q", q.id))
    ]
    if cut:
        links.append(
            InlineKeyboardButton("📖 Full answer", url=deep_link(bot_username, "a", q.id))
        )
    rows.append(links)
    return InlineKeyboardMarkup(rows)


def render_post(
    q: Question,
    *,
    signature: str,
    bot_username: str,
    asking_id: int | None,
    tally: Tally | None = None,
) -> Rendered:
    text, cut = post_text(q, signature, tally)
    keyboard = post_keyboard(q, asking_id=asking_id, bot_username=bot_username, cut=cut)
    return Rendered(text, keyboard, cut)


def channel_alert(q: Question, chosen: int, first_time: bool) -> str:
    """The alert a reader sees after pressing a choice under a channel post."""
    assert q.correct is not None
    right = chosen == q.correct
    letter = LETTERS[q.correct] if long_choices(q.choices) else None
    if right:
        head = "✅ Right!"
    elif letter:
        head = f"❌ Not quite: it's {letter}."
    else:
        head = f"❌ Not quite: it's “{q.choices[q.correct]}”."
    if not first_time:
        head = "You already answered (counted once). " + head
    return alert(f"{head} {q.explanation or ''}".strip())
