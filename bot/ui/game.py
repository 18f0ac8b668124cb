"""A live game's texts (contract §11): the question with its time left, the reveal, the podium.

HTML texts escape every bank string and name (``render.esc`` / ``render.name``); alerts and
button labels are plain text. Every text fits Telegram's 4096 (names are capped).
"""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardMarkup

from bot.core.game import Standing
from bot.core.models import Question
from bot.ui import callback_data as cd
from bot.ui import markup, render
from bot.ui.render import Rendered, esc

USAGE = (
    "Usage: /game [topic] [count] [seconds]: count 1–20 (default 10), seconds 10–120 "
    "(default 20), e.g. /game asyncio 10 20"
)
GROUP_ONLY = "/game is played in a group: add me to one and send /game there."
RUNNING = "A game is already running here. /stop ends it (its starter or a group admin)."
QUIZ_RUNNING = "A quiz is running here. /stop ends it, then /game starts the game."
GAME_RUNNING = "A game is running here. /stop ends it (its starter or a group admin), then /quiz."
NOT_YOURS = "Only whoever started this game or a group admin can stop it."
NO_QUESTIONS = "There are no quiz questions here yet."

# Alerts (plain text, ≤ 200 characters).
TIMES_UP = "⏱ Time's up: this question is closed."
GAME_OVER = "This game is over."
ALREADY = "You already answered this one (it counts once)."
CHANGED = "This question has changed since it was asked, so this press cannot be graded."

MEDALS = ("🥇", "🥈", "🥉")


def answer_alert(correct: bool, points: int) -> str:
    return f"✅ Right! +{points} points" if correct else "❌ Not quite: 0 points"


def _head(q: Question, index: int, total: int) -> str:
    return f"<b>🎮 Question {index + 1}/{total}</b> · {esc(q.topic)} · {esc(q.difficulty)}"


def question(
    q: Question,
    *,
    index: int,
    total: int,
    order: Sequence[int],
    asking_id: int,
    seconds_left: int,
    answered: int = 0,
    intro: str | None = None,
) -> Rendered:
    """The question with its choices as buttons and the time left."""
    shown = [q.choices[i] for i in order]
    status = f"⏱ {seconds_left} s left"
    if answered:
        status += f" · {answered} answered"
    lines = [f"<i>{esc(intro)}</i>", ""] if intro else []
    lines += [_head(q, index, total), status, "", render.question_html(q)]
    if any(len(c) > render.SHORT_CHOICE for c in shown):
        lines += ["", render.choice_lines(shown)]
    rows = render.choice_buttons(shown, lambda i: cd.game_answer(asking_id, i))
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows))


def intro(total: int, seconds: int) -> str:
    return (
        f"Game on: {render.plural(total, 'question')}, {seconds} s each. Right and fast "
        "earns more (up to 1000 points)."
    )


def reveal(
    q: Question,
    *,
    index: int,
    total: int,
    right: Sequence[tuple[str, int]],
    wrong: Sequence[str],
) -> Rendered:
    """The closed question: the right choice, who was right with their points (fastest
    first), who was not. No buttons: nothing more can be pressed."""
    assert q.correct is not None
    lines = [
        _head(q, index, total) + " · closed",
        "",
        render.question_html(q),
        "",
        f"Answer: <b>{esc(q.choices[q.correct])}</b>",
    ]
    if q.explanation:
        lines.append(f"<i>{esc(q.explanation)}</i>")
    rows = [f"{name} +{pts}" for name, pts in right]  # plain: capped before escaping
    lines.append("")
    if right:
        kept = render.capped(rows, max(render.MAX_TEXT - _used(lines) - 300, 200), sep=" · ")
        shown = [_isolate_row(r, right) for r in kept]
        lines.append("✅ " + " · ".join(shown))
    else:
        lines.append("✅ Nobody was right.")
    if wrong:
        lines.append("❌ " + render.names_text(list(wrong), 600))
    return Rendered("\n".join(lines), None)


def _used(lines: Sequence[str]) -> int:
    return markup.visible_len("\n".join(lines))


def _isolate_row(row: str, right: Sequence[tuple[str, int]]) -> str:
    """A capped plain row back to HTML: the name isolated and escaped, or "… and N more"."""
    for name, pts in right:
        if row == f"{name} +{pts}":
            return f"{render.name(name)} +{pts}"
    return esc(row)


def podium(standings: Sequence[Standing], *, asked: int, total: int, stopped: bool) -> str:
    """The top three, then everyone's total (ranked as ``core.game.podium`` ordered them)."""
    if stopped:
        head = f"🏁 <b>Game stopped</b> after {asked} of {render.plural(total, 'question')}"
    else:
        head = f"🏆 <b>Game over</b> · {render.plural(total, 'question')}"
    lines = [head, ""]
    if not standings:
        lines.append("Nobody answered this time.")
    for medal, s in zip(MEDALS, standings, strict=False):
        lines.append(f"{medal} {render.name(s.name)}: {render.plural(s.points, 'point')}")
    if standings:
        rows = [
            f"{i}. {s.name}: {s.points} · {s.right}/{s.answered} right"
            for i, s in enumerate(standings, start=1)
        ]
        kept = render.capped(rows, render.MAX_TEXT - _used(lines) - 400)
        lines += ["", "<b>Everyone</b>"]
        for i, row in enumerate(kept):
            if i < len(standings) and row == rows[i]:
                s = standings[i]
                lines.append(
                    f"{i + 1}. {render.name(s.name)}: {s.points} · {s.right}/{s.answered} right"
                )
            else:
                lines.append(esc(row))
    lines.append("\n/game for another · /leaderboard for this group's standings")
    return "\n".join(lines)
