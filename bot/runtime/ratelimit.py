"""Telegram's flood limits, with python-telegram-bot's ``AIORateLimiter`` doing most of it.

AIORateLimiter covers ~30 messages a second overall and 20 a minute per group or channel, and
waits out 429s. It leaves private chats alone, but the Bot API FAQ ("My bot is hitting
limits, how do I avoid this?") also asks for about one message a second per chat, allowing
short bursts. We add that: per private chat, two messages at once, then one a second.
Calls without a chat (answerCallbackQuery) pass straight through, so a press is answered at
once, never queued behind throttled sends.

While a request waits here (and while it is in flight), the update that made it lends its
processing slot back (``runtime.updates.lend_slot``): waiting on a chat's limit never holds
up other chats. Each chat passes its own limit before it queues for the overall one, which
serves first come first served, so chats are served in turn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

from bot.runtime.updates import lend_slot

MAX_TRACKED_CHATS = 10_000


@dataclass(frozen=True, slots=True)
class Rates:
    """Telegram's limits as this bot keeps them; tests scale them down, never the bot."""

    # aiolimiter is a leaky bucket: AsyncLimiter(30, 1) lets a burst of 30 through and then
    # 30 a second, so up to ~60 can land in one second. One at a time, every 1/28 s (or 3 s
    # per group: 20 a minute) holds the limit in every window.
    overall_period: float = 1 / 28  # a little under 30: requests bunch in transit
    group_period: float = 3.0
    per_chat_burst: int = 2
    per_chat_period: float = 2.0


PRODUCTION = Rates()


class FloodLimiter(AIORateLimiter):
    def __init__(
        self,
        *,
        enabled: bool = True,
        rates: Rates | None = None,
        max_retries: int = 3,
    ) -> None:
        rates = rates or PRODUCTION  # read at call time, so a test can scale it
        if enabled:
            super().__init__(
                overall_max_rate=1,
                overall_time_period=rates.overall_period,
                group_max_rate=1,
                group_time_period=rates.group_period,
                max_retries=max_retries,
            )
        else:  # RATE_LIMIT=off: no throttling, but 429s are still waited out
            super().__init__(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
        self._enabled = enabled
        self._burst = rates.per_chat_burst
        self._period = rates.per_chat_period
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None) or AsyncLimiter(self._burst, self._period)
        self._chats[chat_id] = limiter  # most recently used last
        while len(self._chats) > MAX_TRACKED_CHATS:
            self._chats.popitem(last=False)
        return limiter

    async def process_request(  # noqa: PLR0917 - PTB's signature
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        async with lend_slot():
            if self._enabled and isinstance(chat_id, int) and chat_id > 0:
                async with self._chat_limiter(chat_id):
                    return await super().process_request(
                        callback, args, kwargs, endpoint, data, rate_limit_args
                    )
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
