"""HTTP to the Bot API with a small retry for failures PTB does not retry.

``AIORateLimiter`` waits out 429s (with ``max_retries``) but never retries a 5xx answer or a
failed connection. We retry:

* always, when the request certainly did not take effect: a connection that failed before the
  request went out;
* when the outcome is unknown (the connection broke or timed out after the request went out,
  or a 5xx answer: Telegram's front end can answer 502/504 after the message was delivered,
  contract §6) only where a repeat is harmless: edits and other idempotent methods (an edit
  repeated changes nothing), and a message to a private chat, where a rare duplicate question
  in the learner's own chat beats a quiz that silently stalls (contract §7 accepts it). A
  channel or group post with an unknown outcome is raised to the caller as ``OutcomeUnknown``,
  which counts it as posted and tells the admins instead of posting twice.

``answerCallbackQuery`` is never repeated on an unknown outcome: if the first landed, Telegram
refuses the second ("query is too old ... or query ID is invalid") and the press has nothing to
gain from it; the answer is best effort (``services.messages.answer_press``).

``BadRequest``/``Forbidden`` (4xx) are never retried.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset(
    {
        "editMessageText",
        "editMessageReplyMarkup",
        "setMyCommands",
        "deleteMyCommands",
        "getMe",
        "getChat",
        "deleteWebhook",
    }
)


class NotSent(NetworkError):
    """The request certainly did not take effect (the connection failed before it went out)."""


class OutcomeUnknown(NetworkError):
    """Telegram answered 5xx: the request may or may not have taken effect."""


def _not_delivered(exc: BaseException) -> bool:
    """True when httpx failed before anything reached the server."""
    cause = exc.__cause__
    return isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _repeat_is_harmless(endpoint: str, request_data: RequestData | None) -> bool:
    if endpoint in IDEMPOTENT:
        return True
    if endpoint == "sendMessage" and request_data is not None:
        chat_id = request_data.parameters.get("chat_id")
        return isinstance(chat_id, int) and chat_id > 0  # a private chat, not a channel/group
    return False


class RetryingRequest(HTTPXRequest):
    """``HTTPXRequest`` plus up to ``retries`` retries with exponential backoff and jitter."""

    def __init__(self, *args: Any, retries: int = 3, backoff: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retries = retries
        self.backoff = backoff

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                code, payload = await super().do_request(
                    url, method, request_data, *args, **kwargs
                )
            except (TimedOut, NetworkError) as exc:
                if _not_delivered(exc):
                    if last:
                        raise NotSent(f"could not connect to the Bot API ({endpoint})") from exc
                    reason = "connection failed"
                elif _repeat_is_harmless(endpoint, request_data) and not last:
                    reason = f"no answer ({type(exc.__cause__ or exc).__name__})"
                else:
                    raise  # may have been delivered: never blindly repeated
            else:
                if code < 500:
                    return code, payload
                if last or not _repeat_is_harmless(endpoint, request_data):
                    raise OutcomeUnknown(f"the Bot API answered {code} to {endpoint}")
                reason = f"answer {code}"
            delay = self.backoff * (2**attempt) * (0.5 + random.random())
            log.warning("%s on %s; retry %d in %.1fs", reason, endpoint, attempt + 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
