"""Every user-facing text and keyboard, built so that Telegram accepts it.

Over ~300 lines on purpose: every text and keyboard the bot sends, so limits are kept in one place.

Texts are sent with ``parse_mode=HTML``: every bank and user string goes through ``esc``.
Button labels and alerts are plain text and are never escaped (a choice ``<b>`` shows as written).
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
HEADER = "❔ Interview Question"
LETTERS = "ABCDEF"
SHORT_CHOICE = 30  # longer choices are listed in the text, with letter buttons
MAX_COPY_TEXT = InlineKeyboardButtonLimit.MAX_COPY_TEXT  # Bot API 7.11: CopyTextButton.text, 1-256
# An explanation longer than about three phone lines folds into an expandable blockquote
# (Bot API 7.4, ``<blockquote expandable>``): the next question stays in view.
FOLD_EXPLANATION = 100


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


def _room(lines: Sequence[str]) -> int:
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


@dataclass(frozen=True, slots=True)
class Tally:
    answered: int
    right: int

    def line(self) -> str:
        pct = round(100 * self.right / self.answered) if self.answered else 0
        return f"🧠 {self.answered} answered · {pct}% right"


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


def _long_choices(choices: Sequence[str]) -> bool:
    return any(len(c) > SHORT_CHOICE for c in choices)


def choice_lines(choices: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}) {esc(c)}" for i, c in enumerate(choices))


def choice_buttons(choices: Sequence[str], make_data: object) -> list[list[InlineKeyboardButton]]:
    """One row per short choice (label = the choice), or one row of letters for long ones."""
    assert callable(make_data)
    if _long_choices(choices):
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

    if _long_choices(choices):
        return [[button(i, LETTERS[i]) for i in range(len(choices))]]
    return [[button(i, c)] for i, c in enumerate(choices)]


def copy_code_button(q: Question) -> list[InlineKeyboardButton]:
    """ "Copy code" (Bot API 7.11 ``copy_text``) when the snippet fits its 256 characters."""
    if not q.code or len(q.code) > MAX_COPY_TEXT:
        return []
    return [InlineKeyboardButton("📋 Copy code", copy_text=CopyTextButton(q.code))]


def humanize(delta: timedelta) -> str:
    """``10 minutes``, ``5 hours``, ``3 days``: how far away a review is."""
    minutes = round(delta.total_seconds() / 60)
    if minutes < 60:
        return plural(max(minutes, 1), "minute")
    hours = round(minutes / 60)
    if hours < 24:
        return plural(hours, "hour")
    return plural(round(minutes / 1440), "day")


# ---------------------------------------------------------------- channel post


def post_text(
    q: Question, signature: str, tally: Tally | None = None, *, answer_limit: int | None = None
) -> tuple[str, bool]:
    """The post's HTML (contract §4) and whether the answer had to be cut to fit."""
    tags = " ".join(f"#{t}" for t in q.hashtags)
    # The snippet belongs to the question: outside the spoiler, formatted (contract §3, §4).
    head = f"<b>{esc(HEADER)}</b>\n\n{question_html(q)}\n\n"
    extra: list[str] = []
    if q.quizzable and _long_choices(q.choices):
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
    letter = LETTERS[q.correct] if _long_choices(q.choices) else None
    if right:
        head = "✅ Right!"
    elif letter:
        head = f"❌ Not quite: it's {letter}."
    else:
        head = f"❌ Not quite: it's “{q.choices[q.correct]}”."
    if not first_time:
        head = "You already answered (counted once). " + head
    return alert(f"{head} {q.explanation or ''}".strip())


# ---------------------------------------------------------------- full answer


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


# ---------------------------------------------------------------- quizzes


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
    if _long_choices(shown):
        lines += ["", choice_lines(shown)]
    if answered:
        lines += ["", "Answered: " + names_text(answered, _room(lines))]
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
    lines += ["", f"Right: {names_text(right, _room(lines)) if right else 'nobody'}"]
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton("⚑ Report a mistake", callback_data=cd.report(asking_id))]]
    )
    return Rendered("\n".join(lines), keyboard)


def next_button(asking_id: int, last: bool) -> list[InlineKeyboardButton]:
    label = "🏁 Finish" if last else "Next question ▶"
    return [InlineKeyboardButton(label, callback_data=cd.next_question(asking_id))]


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


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


# ---------------------------------------------------------------- scores


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


# ---------------------------------------------------------------- /daily


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
