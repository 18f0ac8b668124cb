"""Getting past an update PTB cannot read.

When one entry of a ``getUpdates`` batch cannot be parsed (a required field missing, a type
PTB does not know the shape of), PTB's polling loop fails on the whole batch, logs it, and
asks for the same batch again: forever, thousands of requests and a log growing without end.
This request drops such an entry's body but keeps its ``update_id``, so the offset moves on;
the bot logs the update once and serves the rest of the batch.

Parsing every update twice would cost a third of the press path's CPU, so a batch is checked
only when PTB asks for it again: the same ``offset`` after a batch that had updates means PTB
could not read that batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.request import RequestData

from bot.runtime.parse import RAW_UPDATES, parse_update
from bot.runtime.request import AiohttpRequest

log = logging.getLogger(__name__)


def readable(entries: list[Any]) -> tuple[list[Any], list[int]]:
    """The batch with each unreadable update reduced to its id, and those ids."""
    out: list[Any] = []
    dropped: list[int] = []
    for entry in entries:
        try:
            parse_update(entry, None)  # as PressBot will: it must not fail there either
        except Exception:
            update_id = entry.get("update_id") if isinstance(entry, dict) else None
            if not isinstance(update_id, int):
                continue  # not even an id: PTB could not move past it either way
            dropped.append(update_id)
            out.append({"update_id": update_id})
        else:
            out.append(entry)
    return out, dropped


class UpdatesRequest(AiohttpRequest):
    """``AiohttpRequest`` for ``getUpdates`` that never hands PTB an update it cannot parse."""

    def __init__(self, *args: Any, pause: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._asked: object = None  # the offset of the last batch that had updates
        self.pause = pause
        # Several processes on one PostgreSQL: waits until this one may poll (runtime/standby).
        self.gate: Callable[[float], Awaitable[bool | None]] | None = None
        # ... and which of the update ids from..to another poller has handled (standby).
        self.done: Callable[[int, int], Awaitable[set[int]]] | None = None
        self._filtering = True  # until a batch comes with nothing handled before

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        if self.pause and self._asked is not None and url.endswith("/getUpdates"):
            # The last batch had updates, so more are likely on the way: let them gather into
            # the next batch instead of fetching each with a request of its own. Here, not
            # PTB's poll_interval, which would also slow PTB's backoff after errors.
            await asyncio.sleep(self.pause)
        if self.gate is not None and url.endswith("/getUpdates"):
            params = request_data.parameters if request_data is not None else {}
            timeout = params.get("timeout")
            turn = await self.gate(float(timeout) if isinstance(timeout, int | float) else 0.0)
            if turn is None:  # a standby's stop: nothing fetched, nothing to confirm
                return 200, b'{"ok":true,"result":[]}'
            if turn:
                self._filtering = True  # just took over from another poller
        code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if code != 200 or not url.endswith("/getUpdates"):
            return code, payload
        if self.done is not None and self._filtering and b'"update_id"' in payload:
            payload = await self._without_done(payload, self.done)
        offset = request_data.parameters.get("offset") if request_data is not None else None
        again, self._asked = offset == self._asked, offset if b'"update_id"' in payload else None
        if not again:
            return code, payload  # the usual case: PTB read the last batch, parse once
        try:
            body = json.loads(payload)
            entries = body["result"]
        except (ValueError, KeyError, TypeError):
            return code, payload  # PTB reports a malformed answer itself
        if not isinstance(entries, list):
            return code, payload
        kept, dropped = readable(entries)
        if not dropped:
            return code, payload
        for update_id in dropped:
            log.warning("skipped update %s: it could not be read", update_id)
        body["result"] = kept
        return code, json.dumps(body).encode()

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """PTB's parse; under ``PressBot.get_updates`` the entries are handed to it rather than
        to ``Bot.get_updates``, which builds every update in full (runtime/parse.py)."""
        body = super().parse_json_payload(payload)
        box = RAW_UPDATES.get()
        if box is not None and isinstance(body.get("result"), list):
            box.append(body["result"])
            body = {**body, "result": []}
        return body

    async def _without_done(
        self, payload: bytes, done: Callable[[int, int], Awaitable[set[int]]]
    ) -> bytes:
        """The batch without the updates another poller handled (runtime/standby.py)."""
        try:
            body = json.loads(payload)
            entries = body["result"]
            ids = [e["update_id"] for e in entries]
            handled = await done(min(ids), max(ids))
        except (ValueError, KeyError, TypeError):
            return payload  # PTB reports a malformed answer itself
        if not handled:
            self._filtering = False  # past what the last poller handled
            return payload
        log.info("polling: %d update(s) the last poller handled skipped", len(handled))
        body["result"] = [e for e in entries if e["update_id"] not in handled]
        return json.dumps(body).encode()
