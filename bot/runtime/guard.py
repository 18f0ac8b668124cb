"""The webhook port faces strangers (CONTRACT §9): time limits and a cap on connections, in
front of aiohttp's server.

What aiohttp's server (3.14) lacks: it has no limit on how long a request's headers may take
(bytes trickling in keep a connection open until ``keepalive_timeout``, which bytes do not
reset and which defaults to 3630 s), and it accepts every connection until the process runs
out of file descriptors, when Telegram's own connection is refused too.

So the listening socket gets a protocol factory of ours (``ConnectionGuard``, handed to
``loop.create_server``) that wraps each of aiohttp's protocols (``_Guarded``, which forwards
every call) and:

* closes a connection whose request headers are not complete ``header_timeout`` after it
  opened, or after its first byte once a request was answered (aiohttp's ``keepalive_timeout``
  closes one that stays idle);
* keeps at most ``max_connections`` open. At the cap a new connection replaces the oldest one
  still waiting for its headers (a stranger's, or Telegram's that would send them at once),
  then the least recently used idle keep-alive one; only when every connection is in the middle
  of a request is the new one refused at once, with a 503. Refusing instead of replacing would
  let a stranger's idle connections keep Telegram out for the whole header timeout.

"Headers complete" is seen where aiohttp hands the request over: the ``track_requests``
middleware, which finds our protocol through ``request.transport.get_protocol()`` (public
asyncio API; nothing here touches aiohttp's private attributes).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web

log = logging.getLogger(__name__)

REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Length: 0\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
)


class ConnectionGuard:
    """A protocol factory for ``loop.create_server`` around ``factory`` (aiohttp's server)."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        *,
        header_timeout: float,
        max_connections: int,
    ) -> None:
        self._factory = factory
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self._open: set[_Guarded] = set()
        # Replaceable connections, oldest first: waiting for headers, then idle keep-alive.
        self._pending: OrderedDict[_Guarded, None] = OrderedDict()
        self._idle: OrderedDict[_Guarded, None] = OrderedDict()
        self.replaced = 0
        self.refused = 0
        self.timed_out = 0

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def busy_connections(self) -> int:
        """Connections in the middle of a request (not replaceable)."""
        return len(self._open) - len(self._pending) - len(self._idle)

    def __call__(self) -> asyncio.Protocol:
        if len(self._open) >= self.max_connections:
            victim = next(iter(self._pending), None) or next(iter(self._idle), None)
            if victim is None:
                self.refused += 1
                # Once at WARNING (the cap may be too low for this deployment), then quietly.
                level = logging.WARNING if self.refused == 1 else logging.DEBUG
                log.log(level, "webhook: %d connections open; refused one", len(self._open))
                return _Refused()
            self.replaced += 1
            log.debug("webhook: at the connection cap; closed the oldest waiting connection")
            victim.abort()
        conn = _Guarded(self, self._factory())
        # Counted from here, not from connection_made: asyncio calls the factory for a whole
        # burst of accepted connections before any of them is made.
        self._opened(conn)
        return conn

    # ------------------------------------------------------------ bookkeeping

    def _opened(self, conn: _Guarded) -> None:
        self._open.add(conn)
        self._pending[conn] = None

    def _forget(self, conn: _Guarded) -> None:
        self._open.discard(conn)
        self._pending.pop(conn, None)
        self._idle.pop(conn, None)

    def _waiting(self, conn: _Guarded) -> None:
        self._idle.pop(conn, None)
        if conn in self._open:
            self._pending[conn] = None

    def _busy(self, conn: _Guarded) -> None:
        self._pending.pop(conn, None)
        self._idle.pop(conn, None)

    def _resting(self, conn: _Guarded) -> None:
        self._pending.pop(conn, None)
        if conn in self._open:
            self._idle[conn] = None  # to the end: least recently used first


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline for complete headers."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._state = "waiting"  # "waiting" for headers, "busy" in a request, "idle" between
        self._connected = False  # the inner protocol was told of the connection
        self._closed = False
        # Armed now rather than in connection_made: should asyncio fail to make the transport
        # (it then never calls connection_lost), the slot is still freed.
        self._arm()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports have asyncio.Transport's methods without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        if self._closed:  # replaced before it was even made
            self._transport.abort()
            return
        self._connected = True
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._state == "idle":  # the first byte of the next request: its headers are due
            self._state = "waiting"
            self._guard._waiting(self)
            self._arm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guard._forget(self)
        if self._connected:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # ------------------------------------------------------------ states

    def request_started(self) -> None:
        self._state = "busy"
        self._disarm()
        self._guard._busy(self)

    def request_finished(self) -> None:
        self._state = "idle"
        self._guard._resting(self)

    def abort(self) -> None:
        self._closed = True
        self._disarm()
        self._guard._forget(self)  # at once: the slot is free before connection_lost runs
        if self._transport is not None:
            self._transport.abort()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        self._guard.timed_out += 1
        log.debug("webhook: closed a connection without complete headers in time")
        self.abort()


class _Refused(asyncio.Protocol):
    """Over the cap: a 503 (Telegram retries later) and the connection closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # uvloop's too: see _Guarded
        stream.write(REFUSAL)
        stream.close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def track_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the connection's guard that its headers are complete, and when the answer is
    ready. A connection whose request was refused is closed after the answer, so only
    Telegram's connections are kept alive."""
    transport = request.transport
    conn: Any = transport.get_protocol() if transport is not None else None
    guarded = conn if isinstance(conn, _Guarded) else None
    if guarded is not None:
        guarded.request_started()
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # 404, 405, 413: aiohttp's answers are responses too
        exc.force_close()
        raise
    finally:
        if guarded is not None:
            guarded.request_finished()
    if response.status >= 300:
        response.force_close()
    return response
