"""Quiz messages: the question with its choices, the feedback after a private answer, the
group's reveal and Next button, and the summaries at the end of a private or a group quiz."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.models import Question
from bot.ui import callback_data as cd
from bot.ui.render import (
    MAX_TEXT,
    SEPARATOR,
    Rendered,
    answered_buttons,
    capped,
    choice_buttons,
    choice_lines,
    copy_code_button,
    deep_link,
    esc,
    format_duration,
    humanize,
    long_choices,
    name,
    names_text,
    plural,
    question_html,
    room,
)

# An explanation longer than about three phone lines folds into an expandable blockquote
# (Bot API 7.4, ``<blockquote expandable>``): the next question stays in view.
FOLD_EXPLANATION = 100


def _progress(index: int, total: int) -> str:
    return f"Question {index + 1}/{total}"


def quiz_question(
    q: Question,
    *,
    index: int,
    total: int,
    order: Sequence[int],
    asking_id: int,
    group: bool = False,
    answered: Sequence[str] = (),
) -> Rendered:
    """A quiz question with its (shuffled) choices as buttons.

    In a group, ``answered`` names who has answered so far (not whether they were right: that
    is revealed when someone presses Next), and a Next button moves the group on.
    """
    shown = [q.choices[i] for i in order]
    lines = [
        f"<b>{esc(_progress(index, total))}</b> · {esc(q.topic)} · {esc(q.difficulty)}",
        "",
        question_html(q),
    ]
    if long_choices(shown):
        lines += ["", choice_lines(shown)]
    if answered:
        lines += ["", "Answered: " + names_text(answered, room(lines))]
    rows = choice_buttons(shown, lambda i: cd.answer(asking_id, i))
    if group:
        rows.append(next_button(asking_id, index + 1 >= total))
    elif copy := copy_code_button(q):  # private only: in a group, one more row for everyone
        rows.append(copy)
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


def quiz_feedback(
    q: Question,
    *,
    order: Sequence[int],
    chosen_position: int,
    points: int,
    asking_id: int,
    bot_username: str,
    back_in: timedelta | None = None,
    choices: bool = True,
) -> Rendered:
    """The question message after a private answer: right or wrong, the key, why, when it
    comes back for review; its choices stay, coloured and inert, unless ``choices`` is off
    (stacked above the next question, whose own choices are the only ones to press)."""
    assert q.correct is not None
    shown = [q.choices[i] for i in order]
    right = order[chosen_position] == q.correct
    key = q.choices[q.correct]
    if right:
        lines = [f"✅ <b>Right!</b> +{plural(points, 'point')}"]
    else:
        lines = [f"❌ <b>Not quite.</b> You chose: {esc(shown[chosen_position])}"]
    lines += [f"<i>{esc(q.question)}</i>", f"Answer: <b>{esc(key)}</b>"]
    if q.explanation:
        why = f"<i>{esc(q.explanation)}</i>"
        if len(q.explanation) > FOLD_EXPLANATION:
            why = f"<blockquote expandable>{why}</blockquote>"
        lines.append(why)
    if back_in is not None:
        lines.append(f"🔁 Back in /review in {esc(humanize(back_in))}")
    rows = (
        answered_buttons(
            shown, right=order.index(q.correct), chosen=chosen_position, asking_id=asking_id
        )
        if choices
        else []
    )
    rows.append(
        [
            # "↑": under a stacked message these are about the feedback above the next question
            InlineKeyboardButton("📖 Full answer ↑", url=deep_link(bot_username, "a", q.id)),
            InlineKeyboardButton("⚑ Report a mistake ↑", callback_data=cd.report(asking_id)),
        ]
    )
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


def stack(first: Rendered, second: Rendered) -> Rendered:
    """Two renderings in one message: texts one after the other, the second's buttons first."""
    rows = [*(second.keyboard.inline_keyboard if second.keyboard else ())]
    rows += [*(first.keyboard.inline_keyboard if first.keyboard else ())]
    return Rendered(f"{first.text}\n\n{SEPARATOR}\n\n{second.text}", InlineKeyboardMarkup(rows))


def group_reveal(
    q: Question, *, index: int, total: int, answered: Sequence[tuple[str, bool]], asking_id: int
) -> Rendered:
    """A group question after someone pressed Next: the key and who got it right."""
    assert q.correct is not None
    lines = [
        f"<b>{esc(_progress(index, total))}</b> · {esc(q.topic)}",
        "",
        question_html(q),
        "",
        f"Answer: <b>{esc(q.choices[q.correct])}</b>",
    ]
    if q.explanation:
        lines.append(f"<i>{esc(q.explanation)}</i>")
    right = [n for n, ok in answered if ok]
    lines += ["", f"Right: {names_text(right, room(lines)) if right else 'nobody'}"]
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("⚑ Report a mistake", callback_data=cd.report(asking_id))]]
    )
    return Rendered("\n".join(lines), keyboard)


def next_button(asking_id: int, last: bool) -> list[InlineKeyboardButton]:
    label = "🏁 Finish" if last else "Next question ▶"
    return [InlineKeyboardButton(label, callback_data=cd.next_question(asking_id))]


def quiz_summary(
    *,
    right: int,
    total: int,
    seconds: float,
    points: int,
    review: Sequence[Question],
    bot_username: str,
    more_on: Question | None = None,
) -> Rendered:
    """The end of a private quiz: ``3/5 right``, points, time, and what to look at again."""
    lines = [
        f"🏁 <b>{right}/{total} right</b> · +{plural(points, 'point')} · "
        f"{format_duration(seconds)}"
    ]
    if right == total:
        lines.append("Perfect round! 🎉")
    if review:
        lines += ["", "Worth a second look:"]
        lines += [f"• {esc(q.question)}" for q in review]
        lines += ["", "They will come back in /review when they are due."]
    rows = [
        [InlineKeyboardButton("📖 " + _short(q.question), url=deep_link(bot_username, "a", q.id))]
        for q in review[:5]
    ]
    if more_on is not None:
        rows.append(
            [InlineKeyboardButton(f"More on {more_on.topic} ▶", callback_data=cd.more(more_on.id))]
        )
    lines += ["", "/quiz for another round · /score for your progress"]
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


@dataclass(frozen=True, slots=True)
class Standing:
    """One member's line under a group quiz: their first name, right / answered, points."""

    name: str
    right: int
    answered: int
    points: int


def group_summary(total: int, standings: Sequence[Standing]) -> str:
    """The end of a group quiz: who answered, best first (``services.quiz`` ranks them)."""
    lines = [f"🏁 <b>Quiz over</b> · {plural(total, 'question')}"]
    medals = ["🥇", "🥈", "🥉"]
    rows = []
    for i, s in enumerate(standings):
        badge = medals[i] if i < len(medals) else f"{i + 1}."
        rows.append(
            f"{badge} {name(s.name)}: {s.right}/{s.answered} right, +{plural(s.points, 'point')}"
        )
    # However many answered, the summary stays one message (Telegram's 4096).
    lines += capped(rows, MAX_TEXT - 200)  # HTML rows: longer than shown
    if not standings:
        lines.append("Nobody answered this time.")
    lines.append("\n/leaderboard shows this group's standings · /quiz for another round")
    return "\n".join(lines)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
