"""The library internals the bot leans on (bot/runtime/private.py) are still there.

Each test names what an upgrade of python-telegram-bot or aiohttp broke, so the upgrade fails
here first; the note beside each function in private.py says what to do then.
"""

from __future__ import annotations

import inspect

from aiolimiter import AsyncLimiter
from telegram import Bot
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram.ext import AIORateLimiter

from bot.runtime import private
from bot.runtime.ratelimit import FloodLimiter, PriorityGate


def test_ptbs_not_given_placeholder_is_recognised() -> None:
    assert private.is_default(DEFAULT_NONE)
    assert not private.is_default(None) and not private.is_default(5.0)


def test_ptbs_rate_limiter_still_throttles_through_one_base_limiter() -> None:
    base = private.base_limiter(AIORateLimiter(overall_max_rate=30, overall_time_period=1))
    assert isinstance(base, AsyncLimiter)
    assert private.base_limiter(AIORateLimiter(overall_max_rate=0)) is None
    # ... and the flood limiter's priority gate sits where PTB looks for it.
    assert isinstance(private.base_limiter(FloodLimiter(enabled=True)), PriorityGate)


def test_bot_post_still_takes_an_endpoint_and_its_data() -> None:
    params = list(inspect.signature(Bot._post).parameters)
    assert params[:3] == ["self", "endpoint", "data"]
    assert inspect.iscoroutinefunction(Bot._post)


def test_ptb_objects_still_keep_their_state_in_slots_set_by_telegram_object_init() -> None:
    """runtime/parse.py's PressMessage: half-built by init_object, frozen by freeze, filled in
    by copy_slots. If Message gains a ``__dict__`` or bookkeeping set outside
    ``TelegramObject.__init__``, a lazily parsed press would miss it."""
    from datetime import UTC, datetime

    from telegram import Chat, Message, TelegramObject

    assert all("__slots__" in vars(c) for c in Message.__mro__[:-1])
    assert not hasattr(Message(1, datetime.now(UTC), Chat(1, "private")), "__dict__")
    blank = Message.__new__(Message)
    private.init_object(blank)
    assert blank.api_kwargs == {} and blank._bot is None and blank._id_attrs == ()
    full = Message(5, datetime.now(UTC), Chat(1, "private"), text="hi")
    private.copy_slots(full, blank, Message)
    assert blank == full and blank.to_dict() == full.to_dict() and blank.text == "hi"
    private.freeze(blank)
    try:
        blank.text = "changed"
    except AttributeError:
        pass
    else:
        raise AssertionError("TelegramObject._freeze no longer freezes")
    assert isinstance(blank, TelegramObject)


def test_keyboard_dict_is_ptbs_to_dict() -> None:
    """private.post sends a keyboard as keyboard_dict makes it: the same as to_dict for every
    kind of button, the plain ones built directly, the rest by PTB."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LoginUrl, WebAppInfo

    from bot.runtime.private import keyboard_dict

    rows = [
        [
            InlineKeyboardButton("A", callback_data="a1:1:0"),
            InlineKeyboardButton("✅ B", callback_data="a1:1:1", style="success"),
        ],
        [InlineKeyboardButton("Full answer", url="https://t.me/b?start=q_x")],
        [
            InlineKeyboardButton("Log in", login_url=LoginUrl("https://example.com")),
            InlineKeyboardButton("App", web_app=WebAppInfo("https://example.com/app")),
            InlineKeyboardButton("Q", switch_inline_query_current_chat=""),
            InlineKeyboardButton("K", callback_data="k", api_kwargs={"later": 1}),
        ],
    ]
    for markup in (
        InlineKeyboardMarkup(rows),
        InlineKeyboardMarkup(rows[:2]),
        InlineKeyboardMarkup([]),
        InlineKeyboardMarkup([[], rows[1]]),
        InlineKeyboardMarkup(rows[:1], api_kwargs={"later": True}),
    ):
        assert keyboard_dict(markup) == markup.to_dict()
