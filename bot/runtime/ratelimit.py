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

Bulk sends (the /daily deliveries) run inside ``background()``: they take the overall budget
only when no other request is waiting for it, one at a time, so a quiz reply or the channel
post waits at most one slot behind a delivery run however long that run is.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

from bot.core.limits import CHAT_LIMITERS_BOUND
from bot.runtime import private
from bot.runtime.updates import lend_slot, on_the_wire

log = logging.getLogger(__name__)


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


_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("background", default=False)


@contextmanager
def background() -> Iterator[None]:
    """Requests made in this block (and tasks it starts) yield to every other request."""
    token = _BACKGROUND.set(True)
    try:
        yield
    finally:
        _BACKGROUND.reset(token)


class PriorityGate:
    """The overall limiter, with background requests served only when nobody else waits.

    PTB's AIORateLimiter enters its overall limiter with ``async with``; this stands in for it.
    """

    def __init__(self, limiter: AsyncLimiter) -> None:
        self._limiter = limiter
        self._waiting = 0  # foreground requests waiting for the overall budget
        self._idle = asyncio.Event()
        self._idle.set()
        self._background = asyncio.Lock()

    async def __aenter__(self) -> None:
        if _BACKGROUND.get():
            async with self._background:  # one background request queued at a time
                while self._waiting:
                    await self._idle.wait()
                await self._limiter.acquire()
            return
        self._waiting += 1
        self._idle.clear()
        try:
            await self._limiter.acquire()
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._idle.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


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
        base = private.base_limiter(self)
        if base is not None:
            private.set_base_limiter(self, PriorityGate(base))
        self._burst = rates.per_chat_burst
        self._period = rates.per_chat_period
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._rates = rates
        # Several processes on one PostgreSQL (CONTRACT §10): the budget is the bot's, not
        # this process's. Set at start: reserve(scope, period, burst) -> seconds to wait.
        self.shared: Callable[[str, float, int], Awaitable[float]] | None = None

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None) or AsyncLimiter(self._burst, self._period)
        self._chats[chat_id] = limiter  # most recently used last
        while len(self._chats) > CHAT_LIMITERS_BOUND:
            self._chats.popitem(last=False)
        return limiter

    async def _shared_turn(
        self, reserve: Callable[[str, float, int], Awaitable[float]], chat_id: object
    ) -> None:
        """Wait for the bot's shared budget after this process's own: the chat's (or the
        group's) first, then a slot of the overall ~30 a second, so an overall slot is never
        reserved and then left unused while the chat waits. Only calls with a chat come
        here: a press's answer (no chat) never waits behind a throttled send."""
        rates = self._rates
        if isinstance(chat_id, int) and chat_id > 0:
            scope = f"c:{chat_id}"
            period, burst = rates.per_chat_period / rates.per_chat_burst, rates.per_chat_burst
        else:
            scope, period, burst = f"g:{chat_id}", rates.group_period, 1
        for name, every, size in ((scope, period, burst), ("overall", rates.overall_period, 1)):
            try:
                wait = await reserve(name, every, size)
            except Exception as exc:  # the database is away: this process's own limits hold
                log.warning("shared flood budget unavailable (%s); local limits only", exc)
                return
            if wait > 0:
                await asyncio.sleep(wait)

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

        request = callback

        async def send(*a: Any, **kw: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            if self.shared is not None and self._enabled and chat_id is not None:
                await self._shared_turn(self.shared, chat_id)
            async with on_the_wire():  # past every limiter: the request goes out now
                return await request(*a, **kw)

        async with lend_slot():
            if self._enabled and isinstance(chat_id, int) and chat_id > 0:
                async with self._chat_limiter(chat_id):
                    return await super().process_request(
                        send, args, kwargs, endpoint, data, rate_limit_args
                    )
            return await super().process_request(
                send, args, kwargs, endpoint, data, rate_limit_args
            )
