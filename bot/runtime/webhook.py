"""Webhook mode (CONTRACT §9): a small aiohttp server that feeds ``Application.update_queue``.

Why not PTB's own ``run_webhook``: its tornado handler (``telegram/ext/_utils/webhookhandler.py``
in 22.8) calls ``json.loads(self.request.body.decode())`` outside any ``try``, so a body that is
not JSON (or not UTF-8) is answered with a 500; it answers 200 to ``null`` and drops it; it sets
no body limit of its own; and ``Updater._start_webhook`` hard-wires that handler class, so
guarding it would mean patching PTB's private modules. This is instead PTB's "custom webhook"
pattern (``examples/customwebhookbot``): our server puts each checked ``Update`` on the
application's queue, and the application runs exactly as it does under long polling. aiohttp is
the server because it is well kept, bounds the body (413 past ``client_max_size``) and is what
the tests' fake Bot API already runs on.

The lifecycle below is ``Application.run_polling``'s (initialize, post_init, start; on a stop
signal: stop taking updates, stop, post_stop, shutdown, post_shutdown), with the webhook server
where the polling updater would be.

Over ~300 lines because the server, its start-up (setWebhook and its retries) and its shutdown
are one lifecycle; what guards the port against strangers is in ``runtime/guard.py``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import random
import resource
import secrets
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.config import ConfigError, Settings
from bot.core.limits import CACHE_BOUND
from bot.runtime.guard import ConnectionGuard, track_requests
from bot.runtime.order import UpdateOrder
from bot.runtime.parse import parse_update
from bot.runtime.updates import FairUpdateProcessor
from bot.state.context import BotApp

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is a few kilobytes (a 4096-character message with its entities and the message it
# replies to); a megabyte leaves room and keeps a stranger from making us buffer more.
MAX_BODY = 1024 * 1024
# The port faces strangers (CONTRACT §9; see runtime/guard.py): a connection's request headers
# must be complete this long after it opens (or after its next request's first byte), an idle
# keep-alive connection is closed after IDLE_TIMEOUT, and at most MAX_CONNECTIONS are open
# (fewer when the process may open few files: see connection_cap). Telegram keeps at most
# setWebhook's max_connections (40 by default, 100 at most) open.
HEADER_TIMEOUT = 10.0
IDLE_TIMEOUT = 75.0
MAX_CONNECTIONS = 1000
# In-flight requests get this long to finish once a stop signal came (CONTRACT §9: exit in 10 s).
SHUTDOWN_GRACE = 3.0
# WEBHOOK_ANSWER_IN_REPLY: how long a press's response waits for its answer. A press is
# answered in milliseconds; holding a connection longer would slow Telegram's delivery (it
# keeps at most max_connections requests open), so a slower press is answered by a request.
IN_REPLY_WAIT = 0.25
IN_REPLY_PAUSE = 1.0  # after a press that missed the wait, the next second's are not held
# setWebhook failing for a reason that may pass (5xx, timeout, no connection): retried after
# this long, doubling up to the cap, until it succeeds or a stop signal comes (CONTRACT §9).
SET_WEBHOOK_BACKOFF = 0.5
SET_WEBHOOK_BACKOFF_CAP = 60.0


def connection_cap() -> int:
    """MAX_CONNECTIONS, or half the files this process may open if that is fewer: the other
    half is for the database, the Bot API connections and the rest."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return min(MAX_CONNECTIONS, max(16, soft // 2))


def new_secret() -> str:
    """A ``secret_token`` in setWebhook's alphabet (A-Z a-z 0-9 _ -): 43 url-safe characters."""
    return secrets.token_urlsafe(32)


class WebhookServer:
    """Serves POST ``path``; a request with the right secret and a real update is queued."""

    def __init__(
        self, app: BotApp, path: str, secret: str, *, answer_in_reply: bool = False
    ) -> None:
        self._app = app
        self._answer_in_reply = answer_in_reply
        self._in_reply_paused_until = 0.0
        self._secret = secret.encode()
        self._recent: set[int] = set()  # update ids already queued (Telegram may redeliver)
        # Several workers on one PostgreSQL (CONTRACT §10): is this process the first to take
        # the update? Set by run_webhook; None with one process (``_recent`` suffices).
        self.claim: Callable[[Update], Awaitable[bool]] | None = None
        # Press update id -> the answer its response carried (or waits for), for a redelivery.
        self._in_reply: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._warned = False
        web_app = web.Application(client_max_size=MAX_BODY, middlewares=[track_requests])
        web_app.router.add_post(path, self._on_post)
        self._runner = web.AppRunner(
            web_app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_GRACE,
            keepalive_timeout=IDLE_TIMEOUT,  # read at construction: tests may scale it
            # After answering a request whose body was not read (403, 408), aiohttp reads on
            # for this long before closing, so that the client gets the answer rather than a
            # reset; its default of 10 s would let a stranger hold the slot that long.
            lingering_time=1.0,
        )
        self._header_timeout = HEADER_TIMEOUT  # read at construction: tests may scale it
        self.guard: ConnectionGuard | None = None
        self._listener: asyncio.Server | None = None
        self.port = 0
        self._started = False

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; returns the port bound (``port=0`` picks a free one)."""
        self._started = True
        await self._runner.setup()
        assert self._runner.server is not None
        # Our own listener rather than aiohttp's TCPSite, so that the guard stands between
        # the socket and aiohttp's protocol (runtime/guard.py says why).
        self.guard = ConnectionGuard(
            self._runner.server,
            header_timeout=self._header_timeout,
            max_connections=connection_cap(),
        )
        loop = asyncio.get_running_loop()
        # The same backlog as aiohttp's TCPSite.
        self._listener = await loop.create_server(self.guard, host, port, backlog=128)
        self.port = int(self._listener.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop listening, then let requests already received finish (queued updates stay)."""
        if self._started:
            self._started = False
            if self._listener is not None:
                self._listener.close()  # no new connections
            await self._runner.cleanup()  # requests in flight finish, then connections close

    async def _on_post(self, request: web.Request) -> web.Response:
        # The secret is checked before the body is read: a stranger costs us nothing. aiohttp
        # decodes header bytes that are not UTF-8 to lone surrogates, which a strict encode
        # refuses; replaced, they can only mismatch (the secret's alphabet is ASCII).
        given = request.headers.get(SECRET_HEADER, "").encode(errors="replace")
        if not hmac.compare_digest(given, self._secret):
            # Once at WARNING (a proxy that drops the header shows up in the log); then quietly,
            # so strangers cannot flood the log.
            level = logging.DEBUG if self._warned else logging.WARNING
            self._warned = True
            log.log(level, "webhook: refused a request without the right secret token (403)")
            return web.Response(status=403, text="Forbidden")
        try:
            # A body gets as long as headers do: a slow one would hold a connection slot.
            async with asyncio.timeout(self._header_timeout):
                body = await request.read()  # past MAX_BODY aiohttp answers 413 itself
        except TimeoutError:
            log.debug("webhook: refused a body that did not arrive in time (408)")
            response = web.Response(status=408, text="Request Timeout")
            response.force_close()
            return response
        update = self._parse(body)
        if update is None:
            log.debug("webhook: refused a body that is not an update (400)")
            return web.Response(status=400, text="Bad Request: not an update")
        if update.update_id in self._recent:
            # A redelivery (our 200 was lost): Telegram gets its 200, the bot acts once.
            return await self._redelivered(update.update_id)
        if self.claim is not None and not await self.claim(update):
            # Another worker took it (Telegram redelivered to us, or the balancer retried
            # here): it acts on it; Telegram gets its 200. Claimed before queueing, so the
            # kill -9 of a worker between the two loses that update as it would in one process.
            return web.Response(status=200)
        if len(self._recent) >= CACHE_BOUND:
            self._recent.clear()
        self._recent.add(update.update_id)
        loop = asyncio.get_running_loop()
        if (
            not self._answer_in_reply
            or update.callback_query is None
            or loop.time() < self._in_reply_paused_until
        ):
            await self._app.update_queue.put(update)
            return web.Response(status=200)
        query_id = update.callback_query.id
        waiting = self._app.bot_data.in_reply.offer(query_id)
        if len(self._in_reply) >= CACHE_BOUND:
            self._in_reply.clear()
        self._in_reply[update.update_id] = waiting
        try:
            await self._app.update_queue.put(update)
            async with asyncio.timeout(IN_REPLY_WAIT):
                return web.json_response(await asyncio.shield(waiting))
        except TimeoutError:
            if waiting.done():  # answered in the very tick the wait ran out
                return web.json_response(waiting.result())
            # Presses are queueing: holding responses would only slow Telegram's delivery
            # (at most max_connections open), so answer by request for a while.
            self._in_reply_paused_until = loop.time() + IN_REPLY_PAUSE
            return web.Response(status=200)
        finally:
            # From here on the press is answered by a request (also when this handler is
            # cancelled at shutdown, so no answer is handed to a response nobody sends).
            self._app.bot_data.in_reply.withdraw(query_id, waiting)
            if not waiting.done():  # the answer goes by request: a redelivery needs none
                self._in_reply.pop(update.update_id, None)

    async def _redelivered(self, update_id: int) -> web.Response:
        """Telegram did not get our response to this update. Had that response carried the
        press's answer, Telegram performed nothing, and the bot does not act twice: this
        response carries the same answer again."""
        waiting = self._in_reply.get(update_id)
        if waiting is not None:
            try:
                async with asyncio.timeout(IN_REPLY_WAIT):  # the first may still be waiting
                    return web.json_response(await asyncio.shield(waiting))
            except TimeoutError:
                pass  # the first's wait ran out too: it is answered by a request
        return web.Response(status=200)

    def _parse(self, body: bytes) -> Update | None:
        try:
            data = json.loads(body)
        except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
            return None
        except RecursionError:  # nested deeper than json.loads can go (no update is)
            return None
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if type(update_id) is not int:  # bool is an int subclass, and no update id
            return None
        try:
            update = parse_update(data, self._app.bot)
        except Exception:  # any shape PTB cannot read is the sender's fault, not ours
            log.debug("webhook: an update PTB could not read", exc_info=True)
            return None
        return update


async def _set_webhook(
    app: BotApp, url: str, secret: str, allowed_updates: Sequence[str], stop: asyncio.Event
) -> bool:
    """Call setWebhook until it succeeds (True) or ``stop`` is set (False). A refusal (4xx:
    a bad URL, a bad certificate) is the operator's to fix: ConfigError, one sentence."""
    delay = SET_WEBHOOK_BACKOFF
    while True:
        try:
            await app.bot.set_webhook(
                url,
                secret_token=secret,
                allowed_updates=list(allowed_updates),
                drop_pending_updates=False,
            )
        except RetryAfter as exc:
            wait = exc.retry_after
            pause = wait.total_seconds() if not isinstance(wait, int) else float(wait)
            log.warning("webhook: setWebhook answered 429; retry in %.0fs", pause)
        except BadRequest as exc:  # a NetworkError subclass in PTB, but the URL's fault
            raise ConfigError([f"Telegram refused WEBHOOK_URL {url}: {exc.message}"]) from exc
        except NetworkError as exc:  # 5xx, timed out, no connection: it may pass
            pause = delay * (0.5 + random.random())
            delay = min(delay * 2, SET_WEBHOOK_BACKOFF_CAP)
            log.warning("webhook: setWebhook failed (%s); retry in %.1fs", exc.message, pause)
        except TelegramError as exc:
            raise ConfigError([f"Telegram refused WEBHOOK_URL {url}: {exc.message}"]) from exc
        else:
            return True
        try:
            async with asyncio.timeout(pause):
                await stop.wait()
        except TimeoutError:
            continue
        return False


async def _agree(
    app: BotApp, server: WebhookServer, url: str, secret: str, allowed_updates: Sequence[str]
) -> bool:
    """Several workers on one PostgreSQL (CONTRACT §10): refuse a configuration that differs
    from the running workers' (ConfigError, one sentence), and deduplicate updates in the
    database. True when this worker sets the webhook (no other runs); on SQLite, always."""
    data = app.bot_data
    database = data.store.database
    if database.dialect != "postgres":
        return True
    from bot.db.postgres import PgDatabase  # noqa: PLC0415 - asyncpg only on PostgreSQL

    assert isinstance(database, PgDatabase)
    workers = data.store.workers
    first, problem = await workers.agree_webhook(
        url, secret, allowed_updates, database.running_pid()
    )
    if problem is not None:
        raise ConfigError([problem])

    order = UpdateOrder(workers, data.clock)  # one user's updates in order across workers
    server.claim = order.claim
    processor = app.update_processor
    if isinstance(processor, FairUpdateProcessor):
        processor.before = order.wait_turn
        processor.after = order.finished
    return first


async def _webhook_in_place(app: BotApp, url: str, allowed_updates: Sequence[str]) -> bool:
    """Is the webhook another worker set still Telegram's (same URL and update types)? Then
    this worker does not call setWebhook again: the workers do not fight over it. The secret
    cannot be compared here (getWebhookInfo does not tell it); agree_webhook compared it."""
    try:
        info = await app.bot.get_webhook_info()
    except TelegramError as exc:
        log.warning("webhook: getWebhookInfo failed (%s); setting the webhook", exc)
        return False
    return info.url == url and sorted(info.allowed_updates or ()) == sorted(allowed_updates)


async def run_webhook(
    app: BotApp,
    settings: Settings,
    allowed_updates: Sequence[str],
    *,
    stop: asyncio.Event | None = None,
    stop_signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM),
) -> None:
    """Serve updates on ``WEBHOOK_LISTEN:PORT`` until a stop signal (or ``stop`` is set)."""
    assert settings.webhook_url is not None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in stop_signals:
        loop.add_signal_handler(sig, stop.set)
    secret = settings.webhook_secret or new_secret()
    server = WebhookServer(
        app, settings.webhook_path, secret, answer_in_reply=settings.webhook_answer_in_reply
    )
    try:
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        # Listen before setWebhook: Telegram may deliver the moment it accepts the URL.
        try:
            await server.start(settings.webhook_listen, settings.port)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise ConfigError(
                [
                    f"The webhook server cannot listen on {settings.webhook_listen}:"
                    f"{settings.port} ({exc.strerror or exc}): set PORT or WEBHOOK_LISTEN."
                ]
            ) from exc
        first = await _agree(app, server, settings.webhook_url, secret, allowed_updates)
        await app.start()
        if not first and await _webhook_in_place(app, settings.webhook_url, allowed_updates):
            log.info("webhook: already set by another worker on this database")
        elif not await _set_webhook(app, settings.webhook_url, secret, allowed_updates, stop):
            return  # a stop signal came while setWebhook was being retried
        log.info(
            "webhook: serving %s on %s:%d (updates: %s)",
            settings.webhook_path,
            settings.webhook_listen,
            server.port,
            ", ".join(allowed_updates),
        )
        await stop.wait()
        log.info("webhook: stop signal; finishing the updates in flight")
    finally:
        for sig in stop_signals:
            loop.remove_signal_handler(sig)
        await server.stop()  # no new updates; requests already received finish
        if app.running:
            await app.stop()  # processes what is already queued
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()  # nothing to do if initialize() never ran
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
