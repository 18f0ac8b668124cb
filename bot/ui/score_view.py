"""/score, /topics and /leaderboard texts, and the profile's keyboards (hide, progress
picture, forget me)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.ui import callback_data as cd
from bot.ui.render import esc, name, plural


def score_line(points: int, answered: int, right: int) -> str:
    """Contract §5: ``42 points · 25 answered · 19 right · 76%`` (``1 point``)."""
    accuracy = round(100 * right / answered) if answered else 0
    return f"{plural(points, 'point')} · {answered} answered · {right} right · {accuracy}%"


@dataclass(frozen=True, slots=True)
class TopicProgress:
    topic: str
    questions: int
    seen: int
    answered: int
    right: int


def score_text(
    *,
    points: int,
    answered: int,
    right: int,
    streak: int,
    best: int,
    channel: tuple[int, int],
    due: int,
    topics: Sequence[TopicProgress],
) -> str:
    lines = [score_line(points, answered, right)]
    lines.append(f"🔥 Streak: {plural(streak, 'day')} (best {plural(best, 'day')})")
    if channel[0]:
        lines.append(f"📣 Channel answers: {channel[0]} ({channel[1]} right)")
    if due:
        lines.append(f"🔁 {plural(due, 'question')} due for /review")
    studied = [t for t in topics if t.answered]
    if studied:
        lines += ["", "<b>By topic</b>"]
        for t in studied:
            pct = round(100 * t.right / t.answered)
            lines.append(f"• {esc(t.topic)}: {pct}% right · {t.seen}/{t.questions} seen")
    elif not answered:
        lines += ["", "No quiz answers yet: /quiz starts one."]
    return "\n".join(lines)


def topics_text(topics: Sequence[TopicProgress]) -> str:
    lines = ["<b>Topics</b>"]
    for t in topics:
        progress = f" · {t.seen}/{t.questions} seen" if t.seen else ""
        accuracy = f" · {round(100 * t.right / t.answered)}% right" if t.answered else ""
        lines.append(f"• {esc(t.topic)}: {plural(t.questions, 'question')}{progress}{accuracy}")
    lines += ["", "Start one with /quiz &lt;topic&gt;, e.g. /quiz " + esc(_first_word(topics))]
    return "\n".join(lines)


def _first_word(topics: Sequence[TopicProgress]) -> str:
    return topics[0].topic.split()[0].lower() if topics else "python"


@dataclass(frozen=True, slots=True)
class Board:
    title: str
    rows: Sequence[tuple[int, str, int]]  # user_id, first name, points
    own: tuple[int, int] | None  # rank, points of the asking user


def leaderboard_text(boards: Sequence[Board], viewer_id: int, hidden: bool) -> str:
    medals = ["🥇", "🥈", "🥉"]
    lines: list[str] = []
    for board in boards:
        lines.append(f"<b>{esc(board.title)}</b>")
        if not board.rows:
            lines.append("nobody yet: be the first with /quiz")
        for i, (user_id, first, pts) in enumerate(board.rows):
            badge = medals[i] if i < 3 else f"{i + 1}."
            you = " ← you" if user_id == viewer_id else ""
            lines.append(f"{badge} {name(first)}: {plural(pts, 'point')}{you}")
        if board.own is not None and all(r[0] != viewer_id for r in board.rows):
            lines.append(f"… you: #{board.own[0]} with {plural(board.own[1], 'point')}")
        lines.append("")
    if hidden:
        lines.append("You are hidden from leaderboards.")
    return "\n".join(lines).strip()


def hide_keyboard(hidden: bool) -> InlineKeyboardMarkup:
    label = "🙉 Show me on leaderboards" if hidden else "🙈 Hide me from leaderboards"
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=cd.hide(not hidden))]])


def progress_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("📈 My last 30 days as a picture", callback_data=cd.progress())]]
    )


def forget_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes, delete everything", callback_data=cd.forget(True)),
                InlineKeyboardButton("No, keep it", callback_data=cd.forget(False)),
            ]
        ]
    )
