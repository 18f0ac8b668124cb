"""/daily texts: the day's question (scored, or as the channel shows it) and what /daily
says back."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.models import Question
from bot.ui import markup
from bot.ui.post_view import post_keyboard, post_text
from bot.ui.quiz_view import quiz_question
from bot.ui.render import MAX_TEXT, Rendered, esc

DAILY_HEAD = "📅 Daily question"


def _streak_line(streak: int) -> str:
    return f"🔥 {streak}-day streak: keep it going" if streak > 1 else ""


def daily_question(
    q: Question, *, order: Sequence[int], asking_id: int, streak: int = 0
) -> Rendered:
    """The day's question as a scored quiz: the quiz message under a daily head."""
    quiz = quiz_question(q, index=0, total=1, order=order, asking_id=asking_id)
    body = quiz.text.split("\n", 1)[1]  # everything under the "Question 1/1" line
    head = f"<b>{esc(DAILY_HEAD)}</b> · {esc(q.topic)} · {esc(q.difficulty)}"
    streak_line = _streak_line(streak)
    if streak_line:
        head += f"\n{esc(streak_line)}"
    return Rendered(f"{head}\n{body}", quiz.keyboard)


def daily_post(
    q: Question, *, signature: str, bot_username: str, already: bool, streak: int = 0
) -> Rendered:
    """The day's question as the channel shows it (answer behind a spoiler), unscored: a
    question without choices, or one the subscriber already answered today."""
    lines = [f"<b>{esc(DAILY_HEAD)}</b>"]
    if already:
        lines.append(esc("✅ You already answered this one today: it counts once."))
    streak_line = _streak_line(streak)
    if streak_line:
        lines.append(esc(streak_line))
    head = "\n".join(lines) + "\n\n"
    text, cut = post_text(q, signature, answer_limit=MAX_TEXT - markup.visible_len(head))
    keyboard = post_keyboard(q, asking_id=None, bot_username=bot_username, cut=cut)
    return Rendered(head + text, keyboard, cut)


def daily_status(at: str | None, channel_at: str, zone: str) -> str:
    """What /daily says to a subscriber: when it comes, and how to change it."""
    if at is None:
        when = f"at the channel's posting time, now {esc(channel_at)} ({esc(zone)})"
    else:
        when = f"at {esc(at)} your time ({esc(zone)})"
    return (
        f"📅 You get the daily question every day {when}.\n\n"
        "/daily HH:MM: another time of day, in your /timezone\n"
        "/daily off: stop (then /daily follows the channel's time again)"
    )


def daily_subscribed(at: str | None, channel_at: str, zone: str, first: str) -> str:
    return f"✅ Subscribed. {daily_status(at, channel_at, zone)}\n\nThe first one comes {first}."


DAILY_USAGE = (
    "Use /daily (at the channel's posting time), /daily HH:MM (that time of day in your "
    "/timezone, e.g. /daily 08:30) or /daily off."
)
DAILY_PRIVATE_ONLY = "The daily question comes in a private chat: send /daily to me directly."
DAILY_OFF = "Done: no more daily questions. /daily subscribes again."
DAILY_NOT_SUBSCRIBED = "You were not subscribed. /daily subscribes you."
