"""Every use of a library's private parts, behind one wall.

python-telegram-bot is pinned to the 22 series and aiohttp to 3.x; each function here leans on
something those libraries do not promise. ``tests/test_private.py`` checks each assumption
against the installed versions, so an upgrade that breaks one fails there, by name, rather than
somewhere in a press. On upgrade: run that test first, then read the note of each failing one.
"""

from __future__ import annotations

from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, TelegramObject
from telegram._utils.defaultvalue import DefaultValue
from telegram.ext import AIORateLimiter


def is_default(value: object) -> bool:
    """Whether PTB passed its "not given" placeholder (``DEFAULT_NONE`` and kin) for a
    timeout. On upgrade: PTB exports no public check; if ``DefaultValue`` moves, follow it."""
    return isinstance(value, DefaultValue)


def base_limiter(limiter: AIORateLimiter) -> AsyncLimiter | None:
    """The overall limiter PTB's rate limiter throttles every request through.
    On upgrade: ``AIORateLimiter._base_limiter``; if it is renamed, the flood limiter's
    priority gate (``ratelimit.PriorityGate``) silently stops applying: the test says so."""
    found: AsyncLimiter | None = getattr(limiter, "_base_limiter", None)
    return found


def set_base_limiter(limiter: AIORateLimiter, replacement: Any) -> None:
    """Put ``replacement`` where ``base_limiter`` found PTB's own (see there)."""
    limiter._base_limiter = replacement


async def post(bot: Bot, endpoint: str, data: dict[str, Any]) -> Any:
    """``endpoint`` through the bot's request, rate limiter, defaults and errors, as its own
    methods do, without parsing the result into objects (nobody reads an edit's Message).
    An inline keyboard goes as ``keyboard_dict`` makes it.
    On upgrade: ``Bot._post(endpoint, data)``; if it changes, call the public method instead
    (``edit_message_text``) and accept the parse."""
    markup = data.get("reply_markup")
    if isinstance(markup, InlineKeyboardMarkup):
        data = {**data, "reply_markup": keyboard_dict(markup)}
    return await bot._post(endpoint, data)


# A button's fields that are plain values (text, ids, a style name), as to_dict copies them.
_PLAIN_FIELDS = ("text", "callback_data", "url", "style", "icon_custom_emoji_id")
_OTHER_FIELDS = tuple(
    f for f in InlineKeyboardButton.__slots__ if f not in _PLAIN_FIELDS and not f.startswith("_")
)


def keyboard_dict(markup: InlineKeyboardMarkup) -> dict[str, Any]:
    """``markup.to_dict()``, for the buttons the bot makes in a tenth of the time (40-60 us a
    quiz edit's keyboard through PTB's generic ``_get_attrs``). A button with any other field
    set (login_url, web_app, a field a later PTB adds, ...) or with api_kwargs takes PTB's
    ``to_dict``. No private part: public attributes and the class's ``__slots__``."""
    rows_in = markup.inline_keyboard
    if markup.api_kwargs or not rows_in or not all(rows_in):  # PTB drops empty sequences
        return markup.to_dict()
    rows: list[list[dict[str, Any]]] = []
    for row in rows_in:
        out: list[dict[str, Any]] = []
        for button in row:
            if button.api_kwargs or any(getattr(button, f) is not None for f in _OTHER_FIELDS):
                out.append(button.to_dict())
                continue
            fields = {f: v for f in _PLAIN_FIELDS if (v := getattr(button, f)) is not None}
            out.append(fields)
        rows.append(out)
    return {"inline_keyboard": rows}


def init_object(obj: TelegramObject) -> None:
    """Set the bookkeeping every PTB object has (frozen flag, bot, api_kwargs, id attributes)
    without a subclass's ``__init__`` (runtime/parse.py's ``PressMessage`` defers Message's).
    On upgrade: ``TelegramObject.__init__`` is what every ``__init__`` calls first; if objects
    gain bookkeeping set elsewhere, a half-built PressMessage lacks it: the test says so."""
    TelegramObject.__init__(obj)


def freeze(obj: TelegramObject) -> None:
    """Make ``obj`` read-only, as every PTB ``__init__`` ends. On upgrade: ``_freeze``."""
    obj._freeze()


def copy_slots(source: TelegramObject, target: TelegramObject, cls: type[TelegramObject]) -> None:
    """Copy every attribute ``source`` has set, as ``cls`` lays them out, onto ``target``
    (a PressMessage taking the state of the Message built in full), bot and frozen flag aside.
    On upgrade: PTB objects keep all their state in ``__slots__`` (``_get_attrs_names`` relies
    on it too); if a class gains a ``__dict__``, the test fails."""
    for klass in cls.__mro__[:-1]:
        for name in klass.__dict__.get("__slots__", ()):
            if name in ("_bot", "_frozen") or name.startswith("__"):
                continue
            try:
                value = object.__getattribute__(source, name)
            except AttributeError:
                continue
            object.__setattr__(target, name, value)
