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
