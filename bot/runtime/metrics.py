"""``METRICS_PORT``: ``GET /healthz`` and ``GET /metrics`` (Prometheus text) — CONTRACT §10.

prometheus_client is the reference client every Prometheus setup knows; its metrics live in a
registry of the bot's own (not the process-wide default, so nothing else's metrics leak in).
The counters are process-wide: the code paths that count (the update processor, the press
path, the Bot API client, the error handler) call the small functions below, which cost a
lock and an add each.

The server is aiohttp's (already the bot's HTTP client and webhook server), bound to
``METRICS_LISTEN`` (127.0.0.1 by default: metrics are for the operator's scraper, not the
world). /healthz is 200 while the database answers and updates are being taken, else 503
with one line saying which.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from bot.core.limits import METRIC_METHODS_BOUND

log = logging.getLogger(__name__)

# No *_created samples: half the page, and no scraper needs them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry()

UPDATES = Counter(
    "bot_updates_received", "Updates taken from Telegram (polling or webhook)", registry=REGISTRY
)
BACKLOG = Gauge("bot_update_backlog", "Updates received and not finished yet", registry=REGISTRY)
PRESSES = Counter("bot_presses_answered", "Button presses answered", registry=REGISTRY)
PRESS_LATENCY = Histogram(
    "bot_press_latency_seconds",
    "From a press's handler start to its answer sent (the database write included)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
API_CALLS = Counter(
    "bot_api_calls",
    "Bot API requests by method and outcome (ok, 429, 4xx, 5xx, network)",
    ["method", "outcome"],
    registry=REGISTRY,
)
FLOOD_WAITS = Counter(
    "bot_api_flood_waits", "Bot API 429 answers (Too Many Requests)", registry=REGISTRY
)
DB_ERRORS = Counter(
    "bot_database_errors", "Database errors met while handling updates", registry=REGISTRY
)

# The method label values in use. Module-level like the counters above: Prometheus metrics
# are process-wide by design (one registry, one /metrics), so their label set is too.
_seen_methods: set[str] = set()


def api_call(method: str, code: int | None) -> None:
    """One Bot API attempt: ``code`` is the HTTP status, None when no answer came."""
    if method not in _seen_methods:
        if len(_seen_methods) >= METRIC_METHODS_BOUND or not method.isalnum():
            method = "other"
        else:
            _seen_methods.add(method)
    if code is None:
        outcome = "network"
    elif code < 400:
        outcome = "ok"
    elif code == 429:
        outcome = "429"
        FLOOD_WAITS.inc()
    else:
        outcome = f"{code // 100}xx"
    API_CALLS.labels(method, outcome).inc()


def press_answered(seconds: float) -> None:
    PRESSES.inc()
    PRESS_LATENCY.observe(seconds)


Health = Callable[[], Awaitable[str | None]]  # None: healthy; else why not


class MetricsServer:
    """The two endpoints on their own port."""

    def __init__(self, health: Health) -> None:
        self._health = health
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        server = site._server  # the bound port, when 0 asked for any (tests)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("metrics on http://%s:%d/metrics and /healthz", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        problem = await self._health()
        if problem is None:
            return web.Response(text="ok\n")
        return web.Response(status=503, text=problem + "\n")

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
