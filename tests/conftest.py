"""Fixtures: an isolated environment, a running fake Bot API, and a bot harness around it."""

from __future__ import annotations

import dataclasses
import functools
import os
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)
from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.core.bank import load_bank
from bot.core.models import QuestionBank
from bot.db.connection import Database, is_postgres_url
from bot.runtime import request as request_module
from bot.state.context import BotApp, BotData
from tests import pg
from tests.fakes import CHANNEL_USERNAME, Clock, FakeBotApi, FakeUser, RunningClock

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
TOKEN = "123456:TEST"
ADMIN = FakeUser(1001, "Ada", "ada_admin")
ALICE = FakeUser(2001, "Alice")
BOB = FakeUser(2002, "Bob")

BOT_VARIABLES = (
    "BOT_TOKEN",
    "TELEGRAM_API_URL",
    "CHANNEL_ID",
    "ADMIN_IDS",
    "POST_TIME",
    "TIMEZONE",
    "DATABASE_PATH",
    "CONTENT_DIR",
    "POST_SIGNATURE",
    "LOG_LEVEL",
    "RATE_LIMIT",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_LISTEN",
    "WEBHOOK_ANSWER_IN_REPLY",
    "PORT",
    "WEEKLY_POST",
    "DATABASE_URL",
    "METRICS_PORT",
    "METRICS_LISTEN",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (tests/pg.py): no server is one skip reason locally, a failure in CI;
    tests about SQLite itself are skipped, saying so."""
    if not pg.SELECTED:
        for item in items:
            if item.get_closest_marker("postgres_only"):
                item.add_marker(pytest.mark.skip(reason=pg.ONLY_REASON))
        return
    reason = pg.unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            raise pytest.UsageError(reason)
        for item in items:
            item.add_marker(pytest.mark.skip(reason=reason))
        return
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="about SQLite itself (its file or PRAGMAs)"))


@pytest.fixture(autouse=True)
def pg_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[pg.Databases | None]:
    """On PostgreSQL, every database a test opens by SQLite path is a fresh PostgreSQL one."""
    if not pg.SELECTED:
        yield None
        return
    databases = pg.Databases()
    original = Database.open.__func__  # type: ignore[attr-defined]

    async def open_on_postgres(cls: type[Database], /, path: Path | str, **kw: Any) -> Database:
        if not is_postgres_url(path):
            # Opened with the bot's migrations: a copy of the migrated template will do.
            path = databases.url_for(path, migrated="migrations" not in kw)
        database: Database = await original(cls, path, **kw)
        return database

    databases.open_sqlite = functools.partial(original, Database)
    monkeypatch.setattr(Database, "open", classmethod(open_on_postgres))
    try:
        yield databases
    finally:
        databases.drop_all()


# SSL contexts built in this test process, by (SSL_CERT_FILE, SSL_CERT_DIR): see one_tls_context.
_TLS_CONTEXTS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


@pytest.fixture(autouse=True)
def one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading certifi's CA bundle costs about 25 ms of CPU per request object, two per bot
    start (a fifth of the suite's CPU), and no test speaks TLS to the fake: a test process
    builds the context once per certificate setting and every bot in it shares it (an
    SSLContext may be shared). Real processes the tests start build theirs as in production."""
    build = request_module._tls_context

    def shared() -> ssl.SSLContext:
        key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        if key not in _TLS_CONTEXTS:
            _TLS_CONTEXTS[key] = build()
        return _TLS_CONTEXTS[key]

    monkeypatch.setattr(request_module, "_tls_context", shared)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's environment or .env; databases live under tmp_path."""
    for name in BOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The bot honours proxy settings as PTB does; the fake API is on 127.0.0.1, directly.
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def real_bank() -> QuestionBank:
    return load_bank(CONTENT)


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(TOKEN)
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
def settings(tmp_path: Path, fake_api: FakeBotApi) -> Settings:
    return Settings(
        token=TOKEN,
        base_url=fake_api.base_url,
        channel_id=f"@{CHANNEL_USERNAME}",
        admin_ids=frozenset({ADMIN.id}),
        database_path=tmp_path / "data" / "bot.sqlite3",
        content_dir=CONTENT,
        rate_limit=False,
        tally_interval=0.3,
    )


class Harness:
    """Runs the real Application against the fake API, in the order PTB's run_polling uses."""

    def __init__(
        self,
        fake: FakeBotApi,
        settings: Settings,
        bank: QuestionBank,
        clock: Clock | RunningClock | None = None,
    ) -> None:
        self.fake = fake
        self.settings = settings
        self.bank = bank
        self.clock = clock
        self.app: BotApp | None = None
        # Job runs the JobQueue's scheduler has started and not yet finished (helpers.quiet).
        self.jobs_running = 0
        self._counted: BotApp | None = None  # the app whose job runs are counted

    @property
    def data(self) -> BotData:
        assert self.app is not None
        return self.app.bot_data

    def data_bot(self) -> Any:
        assert self.app is not None
        return self.app.bot

    async def start(self, **changes: Any) -> BotApp:
        if changes:
            self.settings = dataclasses.replace(self.settings, **changes)
        app = build_application(self.settings, self.bank, clock=self.clock)
        # Counted per start: a run the last stop cut short must not count against this one.
        self.jobs_running, self._counted = 0, app
        if app.job_queue is not None:
            app.job_queue.scheduler.add_listener(
                functools.partial(self._count_job, app),
                EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR,
            )
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        await app.start()
        self.app = app
        return app

    def _count_job(self, app: BotApp, event: JobEvent) -> None:
        # APScheduler's own events: submitted when a run starts, executed/error when it ends;
        # only the running app's (a stopped one's late events are not this start's runs).
        if app is self._counted:
            self.jobs_running += 1 if event.code == EVENT_JOB_SUBMITTED else -1

    async def stop(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        assert app.updater is not None
        await app.updater.stop()
        await app.stop()
        assert app.post_stop is not None
        await app.post_stop(app)  # as run_polling does
        await app.shutdown()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)

    async def restart(self, **changes: Any) -> BotApp:
        await self.stop()
        return await self.start(**changes)


@pytest.fixture
async def harness(
    fake_api: FakeBotApi, settings: Settings, real_bank: QuestionBank
) -> AsyncIterator[Harness]:
    # 08:00 UTC, before the default 09:00 post: no catch-up post at start, whatever the hour
    # CI runs at. Tests that need another clock set their own before starting.
    h = Harness(
        fake_api, settings, real_bank, RunningClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    )
    try:
        yield h
    finally:
        await h.stop()


@pytest.fixture
async def bot(harness: Harness) -> AsyncIterator[Harness]:
    await harness.start()
    yield harness


@pytest.fixture
def env_for_subprocess(
    fake_api: FakeBotApi, tmp_path: Path, pg_databases: pg.Databases | None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in BOT_VARIABLES}
    env.update(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake_api.base_url,
        CHANNEL_ID=f"@{CHANNEL_USERNAME}",
        ADMIN_IDS=str(ADMIN.id),
        DATABASE_PATH=str(tmp_path / "data" / "bot.sqlite3"),
        CONTENT_DIR=str(CONTENT),
        RATE_LIMIT="off",
    )
    if pg_databases is not None:
        env["DATABASE_URL"] = pg_databases.url_for(tmp_path / "data" / "bot.sqlite3")
    return env
