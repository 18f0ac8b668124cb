"""Compact, versioned ``callback_data`` (Telegram allows 1-64 bytes).

Callback data comes back from the client and is untrusted: anyone can forge a press. Every
shape is matched by an anchored pattern; an answer names a stored *asking* (the row that keeps
the shuffled order), never a question id and a position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CALLBACK_DATA = 64  # bytes, Bot API InlineKeyboardButton.callback_data

ANSWER = "a1"  # a1:<asking_id>:<shown position>
NEXT = "n1"  # n1:<asking_id>            group quiz: move on to the next question
REPORT = "r1"  # r1:<asking_id>          report a mistake in the asked question
FORGET = "f1"  # f1:yes | f1:no          confirm /forget
HIDE = "h1"  # h1:1 | h1:0               hide from / show on leaderboards
MORE = "m1"  # m1:<question_id>          a quiz on this question's topic
DONE = "d1"  # d1:<asking_id>            an answered question's choice, kept styled: inert
IMPORT = "i1"  # i1:<pending id>:add|skip  a forwarded channel post: add it to the bank or not
GAME = "g1"  # g1:<asking_id>:<shown position>  a live game's choice (contract §11)
PROGRESS = "p1"  # p1:30                    /score's "progress picture" button (30 days)

# ASCII only (re.ASCII, and [0-9] rather than \d): "²" or "٣" is not a digit here, and an
# id has at most 18 digits, so int() never sees anything but a small positive number.
# Anchored at both ends (``\Z``: "$" alone would accept a trailing newline), so that
# ``re.match`` accepts exactly the data we make. The one source of truth: ``decode`` (the door)
# and the press routes (``CallbackQueryHandler(pattern=...)`` in ``handlers.register``) both
# match these.
PATTERNS: dict[str, re.Pattern[str]] = {
    ANSWER: re.compile(r"a1:([1-9][0-9]{0,17}):([0-5])\Z", re.ASCII),
    NEXT: re.compile(r"n1:([1-9][0-9]{0,17})\Z", re.ASCII),
    REPORT: re.compile(r"r1:([1-9][0-9]{0,17})\Z", re.ASCII),
    FORGET: re.compile(r"f1:(yes|no)\Z", re.ASCII),
    HIDE: re.compile(r"h1:([01])\Z", re.ASCII),
    MORE: re.compile(r"m1:([a-z0-9-]{1,40})\Z", re.ASCII),
    DONE: re.compile(r"d1:([1-9][0-9]{0,17})\Z", re.ASCII),
    IMPORT: re.compile(r"i1:([1-9][0-9]{0,17}):(add|skip)\Z", re.ASCII),
    GAME: re.compile(r"g1:([1-9][0-9]{0,17}):([0-5])\Z", re.ASCII),
    PROGRESS: re.compile(r"p1:(30)\Z", re.ASCII),
}

# Buttons bound to a row of the keyboards table (the message's exact data and its owner); every
# other kind names a stored asking (and is bound to its chat and message).
KEYBOARD_KINDS = frozenset({FORGET, HIDE, MORE, IMPORT, PROGRESS})


@dataclass(frozen=True, slots=True)
class Callback:
    kind: str
    args: tuple[str, ...]

    def int_arg(self, i: int = 0) -> int:
        return int(self.args[i])


def _check(data: str) -> str:
    if len(data.encode()) > MAX_CALLBACK_DATA:
        raise ValueError(f"callback_data {data!r} is over {MAX_CALLBACK_DATA} bytes")
    if decode(data) is None:
        raise ValueError(f"callback_data {data!r} does not match its own pattern")
    return data


def answer(asking_id: int, position: int) -> str:
    return _check(f"{ANSWER}:{asking_id}:{position}")


def game_answer(asking_id: int, position: int) -> str:
    return _check(f"{GAME}:{asking_id}:{position}")


def next_question(asking_id: int) -> str:
    return _check(f"{NEXT}:{asking_id}")


def report(asking_id: int) -> str:
    return _check(f"{REPORT}:{asking_id}")


def done(asking_id: int) -> str:
    return _check(f"{DONE}:{asking_id}")


def forget(confirm: bool) -> str:
    return _check(f"{FORGET}:{'yes' if confirm else 'no'}")


def hide(hidden: bool) -> str:
    return _check(f"{HIDE}:{int(hidden)}")


def more(question_id: str) -> str:
    return _check(f"{MORE}:{question_id}")


def import_entry(pending_id: int, add: bool) -> str:
    return _check(f"{IMPORT}:{pending_id}:{'add' if add else 'skip'}")


def progress() -> str:
    return _check(f"{PROGRESS}:30")


def keyboard_data(keyboard: object) -> list[str]:
    """Every callback_data on an inline keyboard (to remember what a message carries)."""
    rows = getattr(keyboard, "inline_keyboard", ())
    return [str(b.callback_data) for row in rows for b in row if b.callback_data is not None]


def decode(data: object) -> Callback | None:
    """Parse callback data; ``None`` for anything we did not make."""
    if not isinstance(data, str) or not data or len(data.encode()) > MAX_CALLBACK_DATA:
        return None
    kind = data[:2]
    pattern = PATTERNS.get(kind)
    if pattern is None:
        return None
    match = pattern.match(data)  # anchored at both ends (above)
    if match is None:
        return None
    return Callback(kind, match.groups())
