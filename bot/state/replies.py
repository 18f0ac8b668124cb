"""Press answers that ride in the webhook's HTTP response instead of a request of their own.

The Bot API lets a webhook's response carry one method call ("Making requests when getting
updates", https://core.telegram.org/bots/api#making-requests-when-getting-updates): the
webhook server holds a press's response open for a moment, and if the press is answered in
that moment the answer goes back as ``{"method": "answerCallbackQuery", ...}``, saving a
request. Telegram never says whether such a call succeeded; a press answer is best effort
anyway (``services.messages.answer_press``). Off unless ``WEBHOOK_ANSWER_IN_REPLY=on``.

Everything runs on one event loop, so a slot is either taken by the answer (and the response
carries it) or withdrawn by the server (and the answer is a request): never both, never none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.core.limits import CACHE_BOUND


class InReplyAnswers:
    """Callback query id -> the webhook response waiting for that press's answer.

    One per application (``BotData.in_reply``): the webhook server offers a slot, the
    press's answer takes it."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def offer(self, query_id: str) -> asyncio.Future[dict[str, Any]]:
        if len(self._waiting) >= CACHE_BOUND:  # never reached: each lasts well under a second
            self._waiting.clear()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[query_id] = future
        return future

    def withdraw(self, query_id: str, future: asyncio.Future[dict[str, Any]]) -> None:
        """Remove ``future`` (and not another response's, should the id come twice)."""
        if self._waiting.get(query_id) is future:
            del self._waiting[query_id]

    def take(self, query_id: str, text: str | None, *, show_alert: bool) -> bool:
        """Hand the answer to the waiting response; False if none waits (answer by request)."""
        future = self._waiting.pop(query_id, None)
        if future is None or future.done():
            return False
        answer: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": query_id}
        if text:
            answer["text"] = text
        if show_alert:
            answer["show_alert"] = True
        future.set_result(answer)
        return True
