"""The test suite on PostgreSQL: ``BOT_TEST_DATABASE=postgres`` and a throwaway server.

``BOT_TEST_POSTGRES`` names the server (an admin URL, default
``postgresql://postgres@127.0.0.1:55432/postgres``; ``.ci/postgres.sh`` starts one). Every
SQLite file a test opens is then a fresh PostgreSQL database instead, one per file path and
test (``CREATE DATABASE`` takes about 70 ms on a server with fsync off), dropped afterwards.
So the whole suite runs unchanged on both backends; the few tests about SQLite itself (its
file, PRAGMAs, backups) are marked ``sqlite_only``.

Speed: a database the bot opens with its own migrations is copied from a template this
process migrated once (``CREATE DATABASE x TEMPLATE t``, a file copy on the server) rather
than migrated per test; one opened with a test's own list of migrations (an old schema, a
broken step) starts empty, as before. Admin statements go over one kept connection on a
thread of its own, not a new connection each. Names carry the process id, so pytest-xdist's
workers never share one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import subprocess
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

T = TypeVar("T")

SELECTED = os.environ.get("BOT_TEST_DATABASE", "sqlite").lower() in ("postgres", "postgresql")
SERVER = os.environ.get("BOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:55432/postgres")
_names = itertools.count(1)
ONLY_REASON = "runs in the PostgreSQL pass: BOT_TEST_DATABASE=postgres (.ci/run runs both)"
# The server's folder (.ci/postgres.sh start prints it): tests that restart the server need it.
SERVER_DIR = os.environ.get("BOT_TEST_POSTGRES_DIR")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync or async code (on a thread of its own)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


class _Admin:
    """One admin connection, kept on a thread with its own event loop (a test's loop comes and
    goes with the test). A connection the server cut (tests restart it) is opened again."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._con: asyncpg.Connection | None = None
        self._lock = threading.Lock()

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="pg-admin", daemon=True).start()
            self._loop = loop
        return self._loop

    async def _execute(self, statements: tuple[str, ...]) -> None:
        for attempt in (1, 2):
            try:
                if self._con is None or self._con.is_closed():
                    self._con = await asyncpg.connect(SERVER, timeout=5)
                for sql in statements:
                    await self._con.execute(sql)
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                self._con = None
                if attempt == 2:
                    raise
            else:
                return

    def execute(self, *statements: str) -> None:
        with self._lock:
            future = asyncio.run_coroutine_threadsafe(self._execute(statements), self._start())
            future.result(timeout=120)


_ADMIN = _Admin()
_template: str | None = None  # this process's migrated template database, made on first use


async def _admin(*statements: str) -> None:
    """A one-off connection (``unavailable``: no thread left behind when there is no server)."""
    con = await asyncpg.connect(SERVER, timeout=5)
    try:
        for sql in statements:
            await con.execute(sql)
    finally:
        await con.close()


async def _migrate(url: str) -> None:
    # Imported here: the SQLite pass never loads the PostgreSQL backend.
    from bot.db.migrations import MIGRATIONS
    from bot.db.postgres import migrate

    con = await asyncpg.connect(url, timeout=5)
    try:
        await migrate(con, MIGRATIONS)
    finally:
        await con.close()


def _migrated_template() -> str:
    global _template  # noqa: PLW0603 - one template per test process, made once
    if _template is None:
        name = f"bot_tmpl_{os.getpid()}"
        _ADMIN.execute(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        run_sync(_migrate(url_of(name)))
        _template = name
        atexit.register(_drop_quietly, _ADMIN, name)
    return _template


def _drop_quietly(admin: _Admin, name: str) -> None:
    with contextlib.suppress(Exception):  # at exit, on a throwaway server: best effort
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def own_server(databases: Databases) -> Iterator[None]:
    """A throwaway server of the test's own (``.ci/postgres.sh start``), for a test that
    restarts it: under pytest-xdist, restarting the shared one would cut every other worker's
    connections. ``databases`` (the test's, still empty) then makes its databases there."""
    global SERVER, SERVER_DIR, _ADMIN, _template  # swapped for this one test, then restored
    script = Path(__file__).resolve().parent.parent / ".ci" / "postgres.sh"
    started = subprocess.run(
        ["bash", str(script), "start"], check=True, capture_output=True, text=True, timeout=120
    )
    found = dict(line.split("=", 1) for line in started.stdout.split())
    saved = SERVER, SERVER_DIR, _ADMIN, _template
    SERVER, SERVER_DIR = found["BOT_TEST_POSTGRES"], found["BOT_TEST_POSTGRES_DIR"]
    _ADMIN, _template = _Admin(), None
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            databases.drop_all()
        SERVER, SERVER_DIR, _ADMIN, _template = saved
        subprocess.run(
            ["bash", str(script), "stop", found["BOT_TEST_POSTGRES_DIR"]],
            check=False,
            capture_output=True,
            timeout=120,
        )


def restart_server() -> None:
    """Restart the test server (fast shutdown: every connection is cut), as an operator's
    restart or a failover would."""
    assert SERVER_DIR is not None
    # -l: the new server must not inherit our pipes (we would wait for their EOF forever).
    command = f"pg_ctl -D {SERVER_DIR}/data -l {SERVER_DIR}/log -m fast -w -t 60 restart"
    argv = (
        ["su", "postgres", "-s", "/bin/bash", "-c", command]
        if os.getuid() == 0
        else ["bash", "-c", command]
    )
    subprocess.run(
        argv,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=90,
        cwd="/",
    )


def unavailable() -> str | None:
    """None when the server answers; else why not, in one sentence."""
    try:
        run_sync(_admin("SELECT 1"))
    except Exception as exc:
        return (
            f"BOT_TEST_DATABASE=postgres but no PostgreSQL server answers at "
            f"{urlsplit(SERVER).netloc} ({type(exc).__name__}): start one with "
            ".ci/postgres.sh start, or set BOT_TEST_POSTGRES"
        )
    return None


def url_of(name: str) -> str:
    return urlsplit(SERVER)._replace(path=f"/{name}").geturl()


def create_database(*, migrated: bool = False) -> str:
    """A fresh database, empty or (``migrated``) at the bot's schema; its URL."""
    name = f"bot_test_{os.getpid()}_{next(_names)}"
    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    _ADMIN.execute(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"{template}')
    return url_of(name)


def drop_database(*urls: str) -> None:
    names = [urlsplit(url).path.lstrip("/") for url in urls]
    _ADMIN.execute(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names))


class Databases:
    """One database per SQLite path a test names, made on first use."""

    def __init__(self) -> None:
        self.urls: dict[Path, str] = {}
        # Database.open as it was: a real SQLite file, for tests that need one beside PG.
        self.open_sqlite: Callable[..., Awaitable[Any]] | None = None

    def url_for(self, path: Path | str, *, migrated: bool = True) -> str:
        """``migrated``: the bot will open it with its own migrations (a template copy);
        else it starts empty (a test migrates it its own way). The first use decides."""
        key = Path(path).resolve()
        if key not in self.urls:
            self.urls[key] = create_database(migrated=migrated)
        return self.urls[key]

    def drop_all(self) -> None:
        if self.urls:
            drop_database(*self.urls.values())
        self.urls.clear()
