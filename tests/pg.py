"""The test suite on PostgreSQL: ``BOT_TEST_DATABASE=postgres`` and a throwaway server.

``BOT_TEST_POSTGRES`` names the server (an admin URL, default
``postgresql://postgres@127.0.0.1:55432/postgres``; ``.ci/postgres.sh`` starts one). Every
SQLite file a test opens is then a fresh PostgreSQL database instead, one per file path and
test (``CREATE DATABASE`` takes about 70 ms on a server with fsync off), dropped afterwards.
So the whole suite runs unchanged on both backends; the few tests about SQLite itself (its
file, PRAGMAs, backups) are marked ``sqlite_only``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import threading
from collections.abc import Awaitable, Callable, Coroutine
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


async def _admin(*statements: str) -> None:
    con = await asyncpg.connect(SERVER, timeout=5)
    try:
        for sql in statements:
            await con.execute(sql)
    finally:
        await con.close()


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


def create_database() -> str:
    """A fresh, empty database; its URL."""
    name = f"bot_test_{os.getpid()}_{next(_names)}"
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    return url_of(name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


class Databases:
    """One database per SQLite path a test names, made on first use."""

    def __init__(self) -> None:
        self.urls: dict[Path, str] = {}
        # Database.open as it was: a real SQLite file, for tests that need one beside PG.
        self.open_sqlite: Callable[..., Awaitable[Any]] | None = None

    def url_for(self, path: Path | str) -> str:
        key = Path(path).resolve()
        if key not in self.urls:
            self.urls[key] = create_database()
        return self.urls[key]

    def drop_all(self) -> None:
        for url in self.urls.values():
            drop_database(url)
        self.urls.clear()
