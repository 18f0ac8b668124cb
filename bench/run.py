"""Benchmarks: the real bot and a bare python-telegram-bot floor, on one workload, one run.

Over ~300 lines on purpose: every benchmark shares one harness and one report.

    python -m bench.run channel [--readers 2000]   # a burst of presses under a channel post
    python -m bench.run channel --workers 2 --database postgres  # 1 and 2 webhook workers
    python -m bench.run webhook [--readers 2000]   # the same burst, by polling and by webhook
    python -m bench.run quiz [--learners 200]      # learners answering as fast as replies come
    python -m bench.run human [--learners 200]     # 1 s pause before each press, RATE_LIMIT=on
    python -m bench.run daily [--subscribers 10000] # /daily deliveries due at one minute
    python -m bench.run bigdb                      # 1,000,000 answers from 100,000 users
    python -m bench.run games [--groups 50]        # live games: 8 members a group, /game 5 10
    python -m bench.run pictures [--pictures 200]  # the channel burst, alone and with /progress
    python -m bench.run all
    ... --database postgres | both                  # the bot on PostgreSQL (beside SQLite)

Each starts the bot (``bench/bot_process.py``: ``python -m bot``'s start-up) and the floor
(``bench/bare_app.py``) as subprocesses against a local fake Bot API (``tests/fakes.py``) over
real HTTP on 127.0.0.1, and reads their peak RSS and CPU time from /proc. Not part of the tests.

With ``--database postgres`` (or ``both``) the bot runs on PostgreSQL: a fresh database per
run on the server ``BENCH_POSTGRES`` names (an admin URL), else on a throwaway one started with
``.ci/postgres.sh``; populated databases are made as SQLite files and moved with copy-db.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.core.bank import load_bank
from bot.runtime.webhook import SECRET_HEADER
from bot.ui import post_view, quiz_view, render
from tests.fakes import CHANNEL_ID, FakeBotApi, FakeUser, StoredMessage

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH"
ADMIN = FakeUser(1001, "Ada")
CLK_TCK = os.sysconf("SC_CLK_TCK")
BANK = load_bank(ROOT / "content")
QUESTION = "conc-gil-what"


def _markup(rendered: render.Rendered) -> dict[str, Any] | None:
    return rendered.keyboard.to_dict() if rendered.keyboard else None


# ---------------------------------------------------------------- process plumbing


@dataclass
class Proc:
    proc: asyncio.subprocess.Process

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start(module: str, env: dict[str, str], workdir: Path) -> Proc:
    log = (workdir / f"{module.rsplit('.', 1)[-1]}.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=log,
        preexec_fn=_app_core,
    )
    return Proc(proc)


async def start_app(kind: str, env: dict[str, str], workdir: Path) -> Proc:
    """The app a row measures: the bot, the PTB floor (``bare``, ``bare-aiohttp``), or the
    aiogram peer (``aiogram``, in its own venv: see start_peer)."""
    if kind == "aiogram":
        return await start_peer(env, workdir)
    return await start("bench.bot_process" if kind == "bot" else "bench.bare_app", env, workdir)


# On the 2-core machine the app under test gets core 1 to itself and this driver (the fake
# API and the simulated users) core 0: the app's figures do not swing with the driver's load.
CORES = sorted(os.sched_getaffinity(0))


def _app_core() -> None:
    if len(CORES) > 1:
        os.sched_setaffinity(0, {CORES[-1]})


def _driver_core() -> None:
    if len(CORES) > 1:
        os.sched_setaffinity(0, set(CORES[:-1]))


class Databases:
    """Where the bot under test keeps its data: a SQLite file, or a fresh PostgreSQL database."""

    def __init__(self) -> None:
        self.server: str | None = os.environ.get("BENCH_POSTGRES")
        self._dir: str | None = None
        self._data: str | None = os.environ.get("BENCH_POSTGRES_DIR")  # its folder, for CPU
        self._count = 0

    def server_cpu(self) -> float:
        """CPU seconds the PostgreSQL server has used: the postmaster, its live processes and
        the backends it has reaped (cutime/cstime). 0 when its folder is not known."""
        if self._data is None:
            return 0.0
        try:
            pid = int(Path(self._data, "data", "postmaster.pid").read_text().split()[0])
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
                with contextlib.suppress(OSError):
                    f = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                    ticks += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            return 0.0
        return ticks / CLK_TCK

    async def _admin(self, sql: str) -> None:
        import asyncpg

        assert self.server is not None
        con = await asyncpg.connect(self.server)
        try:
            await con.execute(sql)
        finally:
            await con.close()

    async def postgres(self) -> str:
        """A new, empty database's URL (the server started on first use if none was named)."""
        if self.server is None:
            out = (
                await asyncio.to_thread(
                    subprocess.run,
                    ["bash", str(ROOT / ".ci" / "postgres.sh"), "start"],
                    env={**os.environ, "PG_DURABLE": "1"},  # fsync on: what a deployment pays
                    check=True,
                    capture_output=True,
                    text=True,
                )
            ).stdout
            found = dict(line.split("=", 1) for line in out.split())
            self.server, self._dir = found["BOT_TEST_POSTGRES"], found["BOT_TEST_POSTGRES_DIR"]
            self._data = self._dir
        self._count += 1
        name = f"bench_{os.getpid()}_{self._count}"
        await self._admin(f"DROP DATABASE IF EXISTS {name}")
        await self._admin(f"CREATE DATABASE {name}")
        return self.server.rsplit("/", 1)[0] + "/" + name

    async def place(self, database: str, workdir: Path, env: dict[str, str]) -> Path | str:
        """The bot's database for ``env``: the file under ``workdir`` (SQLite), or a new
        PostgreSQL database holding whatever that file holds now."""
        path = workdir / "bot.sqlite3"
        if database == "sqlite":
            return path
        from bot.db.copy import copy_database

        url = await self.postgres()
        if path.exists():
            await copy_database(path, url)
        env["DATABASE_URL"] = url
        return url

    def stop(self) -> None:
        if self._dir is not None:
            subprocess.run(
                ["bash", str(ROOT / ".ci" / "postgres.sh"), "stop", self._dir], check=False
            )


DATABASES = Databases()


async def count_answers(location: Path | str) -> int:
    from bot.db import Store

    store = await Store.open(location)
    try:
        return await store.stats.count("answers")
    finally:
        await store.close()


def base_env(
    fake: FakeBotApi, workdir: Path, *, rate_limit: bool, concurrency: int, pool: int = 16
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=fake.base_url,
        CHANNEL_ID=f"@{fake.channel.username}",
        ADMIN_IDS=str(ADMIN.id),
        DATABASE_PATH=str(workdir / "bot.sqlite3"),
        CONTENT_DIR=str(ROOT / "content"),
        RATE_LIMIT="on" if rate_limit else "off",
        LOG_LEVEL="WARNING",
        BENCH_CONCURRENCY=str(concurrency),
        BENCH_POOL=str(pool),
    )
    return env


async def ready(fake: FakeBotApi) -> None:
    await fake.wait_for("getMe", timeout=60)
    await fake.wait_for("deleteWebhook", timeout=60)


async def populate(db_path: Path, *, answers: int, users: int) -> None:
    """A database that has seen some life: ``answers`` answers by ``users`` users."""
    from bot.db import Store

    store = await Store.open(db_path)  # the real schema, through the real migrations
    await store.close()
    await asyncio.to_thread(_fill, db_path, answers, users)


def _fill(db_path: Path, answers: int, users: int) -> None:
    con = sqlite3.connect(db_path)
    now = "2026-11-01T09:00:00+00:00"
    per_asking = max(1, answers // 1000)
    con.executemany(
        "INSERT INTO users (user_id, first_name, created_at, last_seen) VALUES (?, ?, ?, ?)",
        ((10_000_000 + u, f"U{u}", now, now) for u in range(users)),
    )
    con.executemany(
        "INSERT INTO askings (id, kind, question_id, choice_order, choices_sig, created_at) "
        "VALUES (?, 'quiz', 'conc-gil-what', '0,1,2,3', 'x', ?)",
        ((a, now) for a in range(1, 1001)),
    )
    rng = random.Random(1)
    con.executemany(
        "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, correct, "
        "points, answered_at, local_day) VALUES (?, ?, ?, 'conc-gil-what', 'quiz', 0, ?, ?, ?, ?)",
        (
            (
                1 + i // per_asking,
                10_000_000 + i % users,
                10_000_000 + i % users,
                rng.random() < 0.6,
                2,
                now,
                "2026-11-01",
            )
            for i in range(answers)
        ),
    )
    con.commit()
    con.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rate(times: Iterable[float], window: float) -> int:
    """Most events in any ``window`` seconds."""
    ordered = sorted(times)
    best = start_i = 0
    for i, t in enumerate(ordered):
        while ordered[start_i] < t - window:
            start_i += 1
        best = max(best, i - start_i + 1)
    return best


@dataclass
class Answers:
    """Watches answerCallbackQuery and message sends through the fake's listeners."""

    answered_at: dict[str, float] = field(default_factory=dict)
    waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)
    chat_events: dict[int, asyncio.Event] = field(
        default_factory=lambda: defaultdict(asyncio.Event)
    )

    def __call__(self, method: str, subject: Any) -> None:
        now = time.monotonic()
        if method == "answerCallbackQuery":
            self.answered_at[subject] = now
            waiter = self.waiters.pop(subject, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)
        elif isinstance(subject, StoredMessage):
            self.chat_events[subject.chat.id].set()

    async def until(self, chat_id: int, check: Callable[[], object]) -> None:
        """Wait until ``check()`` holds, re-checking whenever the chat gets a message or edit."""
        event = self.chat_events[chat_id]
        while not check():
            event.clear()
            await asyncio.wait_for(event.wait(), 120)

    def wait(self, query_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if query_id in self.answered_at:
            future.set_result(self.answered_at[query_id])
        else:
            self.waiters[query_id] = future
        return future


# ---------------------------------------------------------------- channel burst


class Hook:
    """Telegram's side of webhook mode: POSTs updates to the bot, at most ``connections`` at
    once (setWebhook's ``max_connections``, 40 by default)."""

    PATH = "/tg/bench"
    SECRET = "bench-secret-0123456789"

    def __init__(self, connections: int = 40, *, answer_in_reply: bool = False) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.connections = connections
        self.answer_in_reply = answer_in_reply
        self.http: aiohttp.ClientSession | None = None

    def env(self) -> dict[str, str]:
        return {
            "WEBHOOK_URL": f"https://bench.example{self.PATH}",
            "WEBHOOK_LISTEN": "127.0.0.1",
            "PORT": str(self.port),
            "WEBHOOK_SECRET": self.SECRET,
            "WEBHOOK_ANSWER_IN_REPLY": "on" if self.answer_in_reply else "off",
        }

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections))

    async def listening(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
            else:
                writer.close()
                return

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    async def post(self, update: dict[str, Any], fake: FakeBotApi) -> None:
        assert self.http is not None
        body = json.dumps(update).encode()
        fake.delivered_at.setdefault(update["update_id"], time.monotonic())
        async with self.http.post(
            f"http://127.0.0.1:{self.port}{self.PATH}",
            data=body,
            headers={"Content-Type": "application/json", SECRET_HEADER: self.SECRET},
        ) as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"webhook answered {response.status}")
        if response.content_type == "multipart/form-data":  # aiogram answers in a form
            body = form_reply_as_json(body, response.headers["Content-Type"])
        fake.webhook_reply(body)  # a method in the response: Telegram performs it


async def channel_burst(
    kind: str,
    readers: int,
    concurrency: int,
    pool: int = 16,
    *,
    webhook: bool = False,
    answer_in_reply: bool = False,
    pictures: int = 0,
    cached: bool = False,
    database: str = "sqlite",
) -> dict[str, Any]:
    fake = FakeBotApi(TOKEN)
    await fake.start()
    watch = Answers()
    fake.listeners.append(watch)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    hook = Hook(answer_in_reply=answer_in_reply) if webhook else None
    try:
        if kind == "bot":
            await populate(workdir / "bot.sqlite3", answers=100_000, users=10_000)
        env = base_env(fake, workdir, rate_limit=True, concurrency=concurrency, pool=pool)
        location = await DATABASES.place(database, workdir, env) if kind == "bot" else None
        env["BENCH_MODE"] = "channel"
        if kind == "bare-aiohttp":
            env["BENCH_TRANSPORT"] = "aiohttp"
        if hook is not None:
            env.update(hook.env())
            await hook.open()
        proc = await start_app(kind, env, workdir)
        if hook is not None:
            await fake.wait_for("setWebhook", timeout=60)
            await hook.listening()
        else:
            await ready(fake)
        if kind == "bot":
            command = fake.text_payload(ADMIN, f"/post_now {QUESTION}")
            if hook is not None:
                await hook.post(fake.new_update(command), fake)
            else:
                fake.push_raw(command)
            await fake.wait_until(lambda: bool(fake.channel_posts()), timeout=30)
            post = fake.channel_posts()[0]
            data = next(b["callback_data"] for b in post.buttons() if "callback_data" in b)
        else:  # the same post the bot would send, so updates carry the same payload
            rendered = post_view.render_post(
                BANK.questions[QUESTION], signature="By: @x ✨", bot_username="b", asking_id=1
            )
            post = StoredMessage(fake.channel, 1, rendered.text, "HTML", _markup(rendered), 0)
            fake.messages[(CHANNEL_ID, 1)] = post
            data = "a1:1:0"
        learners = [FakeUser(10_000_000 + i, f"U{i}") for i in range(pictures)]
        if cached:  # each learner asked once before: the burst's /progress are not drawn again
            for user in learners:
                fake.send_text(user, "/progress")
            await fake.wait_until(lambda: len(fake.calls_to("sendPhoto")) >= pictures, timeout=600)
        photos_before = len(fake.calls_to("sendPhoto"))
        await asyncio.sleep(1.0)
        cpu0, db0 = proc.cpu_seconds(), DATABASES.server_cpu()
        readers_ = [FakeUser(20_000_000 + i, f"R{i}") for i in range(readers)]
        t_burst = time.monotonic()
        for user in learners:  # populate()'s learners ask at the moment the burst starts
            fake.send_text(user, "/progress")
        if hook is None:
            queries = [fake.press(user, post, data) for user in readers_]
        else:  # all at once, as Telegram would: up to 40 POSTs in flight
            presses = [fake.press_update(user, post, data) for user in readers_]
            queries = [q for q, _ in presses]
            posting = asyncio.gather(*(hook.post(u, fake) for _, u in presses))
        await asyncio.wait_for(asyncio.gather(*(watch.wait(q) for q in queries)), 300)
        if hook is not None:
            await posting
        cpu1, db1 = proc.cpu_seconds(), DATABASES.server_cpu()
        delivered = [fake.delivered_at[fake.query_update[q]] for q in queries]
        latencies = [
            watch.answered_at[q] - fake.delivered_at[fake.query_update[q]] for q in queries
        ]
        elapsed = max(watch.answered_at[q] for q in queries) - min(delivered)
        result: dict[str, Any] = {
            "kind": kind if kind != "bot" else f"bot, {database}",
            "readers": readers,
            "answers_per_s": round(readers / elapsed, 1),
            "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1),
            "cpu_ms_per_answer": round((cpu1 - cpu0) / readers * 1000, 3),
        }
        if pictures:
            await fake.wait_until(
                lambda: len(fake.calls_to("sendPhoto")) >= photos_before + pictures, timeout=600
            )
            photos = fake.calls_to("sendPhoto")[photos_before:]
            result["pictures"] = len([c for c in photos if c.status == 200])
            result["last_picture_s"] = round(max([c.at for c in photos] or [0]) - t_burst, 1)
        if database == "postgres" and kind == "bot":
            result["db_server_cpu_ms_per_answer"] = round((db1 - db0) / readers * 1000, 3)
        if kind == "bot":
            # Let the batched tally catch up (one edit per 15 s at most), then count edits.
            final = f"{readers} answered"
            with contextlib.suppress(TimeoutError):  # reported as tally_final_ok = False
                await fake.wait_until(lambda: final in post.text, timeout=40)
            edits = [
                c.at
                for c in fake.calls_to("editMessageText")
                if c.params.get("chat_id") == CHANNEL_ID and c.status == 200
            ]
            result["tally_edits"] = len(edits)
            result["tally_final_ok"] = final in post.text
            result["tally_peak_edits_per_min"] = peak_rate(edits, 60)
            assert location is not None
            result["db_answers"] = await count_answers(location) - 100_000
        result["peak_rss_mb"] = round(proc.peak_rss_mb(), 1)
        result["rejected"] = len([c for c in fake.rejected if c.method != "setMyCommands"])
        await proc.stop()
        return result
    finally:
        if hook is not None:
            await hook.close()
        await fake.stop()


class Balancer(Hook):
    """A round-robin load balancer in front of several webhook workers (one port each), as
    nginx's ``upstream`` would be: one pool of ``connections`` for them all."""

    def __init__(self, workers: int, connections: int = 40) -> None:
        super().__init__(connections)
        self.hooks = [Hook(connections) for _ in range(workers)]
        self._turn = 0

    def worker_env(self, i: int) -> dict[str, str]:
        return self.hooks[i].env()

    async def listening(self, within: float = 30) -> None:
        for hook in self.hooks:
            await hook.listening(within)

    async def post(self, update: dict[str, Any], fake: FakeBotApi) -> None:
        self._turn = (self._turn + 1) % len(self.hooks)
        self.port = self.hooks[self._turn].port
        await super().post(update, fake)


async def channel_workers(
    readers: int, concurrency: int, workers: int, database: str
) -> dict[str, Any]:
    """The channel burst by webhook to ``workers`` bot processes on one database, behind a
    round-robin balancer (CONTRACT §10). Every worker is pinned to the app core, as one bot
    is in the other rows: on this 2-core machine the row shows what a second process costs
    and that presses stay once, not a second core's worth of speed (see the README)."""
    fake = FakeBotApi(TOKEN)
    await fake.start()
    watch = Answers()
    fake.listeners.append(watch)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-workers{workers}-"))
    balancer = Balancer(workers)
    procs: list[Proc] = []
    try:
        await populate(workdir / "bot.sqlite3", answers=100_000, users=10_000)
        env = base_env(fake, workdir, rate_limit=True, concurrency=concurrency)
        location = await DATABASES.place(database, workdir, env)
        env["BENCH_MODE"] = "channel"
        await balancer.open()
        for i in range(workers):
            procs.append(await start_app("bot", {**env, **balancer.worker_env(i)}, workdir))
            await balancer.hooks[i].listening(60)  # one at a time: the first sets the webhook
        await fake.wait_for("setWebhook", timeout=60)
        await balancer.post(
            fake.new_update(fake.text_payload(ADMIN, f"/post_now {QUESTION}")), fake
        )
        await fake.wait_until(lambda: bool(fake.channel_posts()), timeout=30)
        post = fake.channel_posts()[0]
        data = next(b["callback_data"] for b in post.buttons() if "callback_data" in b)
        await asyncio.sleep(1.0)
        cpu0, db0 = sum(p.cpu_seconds() for p in procs), DATABASES.server_cpu()
        presses = [
            fake.press_update(FakeUser(20_000_000 + i, f"R{i}"), post, data)
            for i in range(readers)
        ]
        queries = [q for q, _ in presses]
        posting = asyncio.gather(*(balancer.post(u, fake) for _, u in presses))
        await asyncio.wait_for(asyncio.gather(*(watch.wait(q) for q in queries)), 300)
        await posting
        cpu1, db1 = sum(p.cpu_seconds() for p in procs), DATABASES.server_cpu()
        delivered = [fake.delivered_at[fake.query_update[q]] for q in queries]
        latencies = [
            watch.answered_at[q] - fake.delivered_at[fake.query_update[q]] for q in queries
        ]
        elapsed = max(watch.answered_at[q] for q in queries) - min(delivered)
        answered = [c.params["callback_query_id"] for c in fake.calls_to("answerCallbackQuery")]
        result: dict[str, Any] = {
            "kind": f"bot, {workers} webhook worker(s), {database}",
            "readers": readers,
            "answers_per_s": round(readers / elapsed, 1),
            "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1),
            "cpu_ms_per_answer": round((cpu1 - cpu0) / readers * 1000, 3),
            "answered_once": sorted(answered) == sorted(queries),
        }
        if database == "postgres":
            result["db_server_cpu_ms_per_answer"] = round((db1 - db0) / readers * 1000, 3)
        result["db_answers"] = await count_answers(location) - 100_000
        result["peak_rss_mb"] = round(max(p.peak_rss_mb() for p in procs), 1)
        return result
    finally:
        for proc in procs:
            await proc.stop()
        await balancer.close()
        await fake.stop()


# ---------------------------------------------------------------- quizzes


async def learner_bot(
    fake: FakeBotApi,
    watch: Answers,
    user: FakeUser,
    *,
    rounds: int,
    pause: float,
    latencies: list[float],
) -> None:
    chat = fake.private_chat(user)
    fake.send_text(user, f"/quiz {rounds}")

    def open_question(marker: str) -> StoredMessage | None:
        return next(
            (
                m
                for m in reversed(fake.messages_in(chat.id))
                if marker in m.text
                and any(str(b.get("callback_data", "")).startswith("a1:") for b in m.buttons())
            ),
            None,
        )

    for number in range(1, rounds + 1):
        marker = f"Question {number}/{rounds}"
        await watch.until(chat.id, lambda: open_question(marker))  # noqa: B023 - awaited here
        question = open_question(marker)
        assert question is not None
        if pause:
            await asyncio.sleep(pause)
        button = next(
            b for b in question.buttons() if str(b.get("callback_data", "")).startswith("a1:")
        )
        pressed = time.monotonic()
        query = fake.press(user, question, button["callback_data"])
        latencies.append(await asyncio.wait_for(watch.wait(query), 120) - pressed)
    summary = f"/{rounds} right"
    await watch.until(chat.id, lambda: any(summary in m.text for m in fake.messages_in(chat.id)))


async def learner_bare(
    fake: FakeBotApi,
    watch: Answers,
    user: FakeUser,
    *,
    rounds: int,
    pause: float,
    latencies: list[float],
) -> None:
    chat = fake.private_chat(user)
    fake.known_users.add(user.id)
    # The bot's own question message (feedback + next question), so payloads match.
    q = BANK.questions[QUESTION]
    order = list(range(len(q.choices)))
    rendered = quiz_view.stack(
        quiz_view.quiz_feedback(
            q,
            order=order,
            chosen_position=0,
            points=2,
            asking_id=1,
            bot_username="b",
            choices=False,
        ),
        quiz_view.quiz_question(q, index=1, total=10, order=order, asking_id=1),
    )
    message = StoredMessage(chat, 1, rendered.text, "HTML", _markup(rendered), 0)
    fake.messages[(chat.id, 1)] = message
    for _ in range(rounds):
        if pause:
            await asyncio.sleep(pause)
        edits = message.edits
        pressed = time.monotonic()
        query = fake.press(user, message, "a1:1:0")
        latencies.append(await asyncio.wait_for(watch.wait(query), 120) - pressed)
        await watch.until(chat.id, lambda: message.edits != edits)  # noqa: B023 - awaited here


async def quizzes(
    kind: str,
    learners: int,
    rounds: int,
    *,
    pause: float,
    rate_limit: bool,
    concurrency: int,
    pool: int = 16,
    database: str = "sqlite",
) -> dict[str, Any]:
    fake = FakeBotApi(TOKEN)
    await fake.start()
    watch = Answers()
    fake.listeners.append(watch)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-quiz-{kind}-"))
    try:
        env = base_env(fake, workdir, rate_limit=rate_limit, concurrency=concurrency, pool=pool)
        if kind == "bot":
            await DATABASES.place(database, workdir, env)
        env["BENCH_MODE"] = "quiz"
        if kind == "bare-aiohttp":
            env["BENCH_TRANSPORT"] = "aiohttp"
        proc = await start_app(kind, env, workdir)
        await ready(fake)
        await asyncio.sleep(0.5)
        latencies: list[float] = []
        users = [FakeUser(30_000_000 + i, f"L{i}") for i in range(learners)]
        runner = learner_bot if kind == "bot" else learner_bare
        cpu0, t0 = proc.cpu_seconds(), time.monotonic()
        outcomes = await asyncio.gather(
            *(
                runner(fake, watch, u, rounds=rounds, pause=pause, latencies=latencies)
                for u in users
            ),
            return_exceptions=True,
        )
        elapsed, cpu1 = time.monotonic() - t0, proc.cpu_seconds()
        sends = [
            c
            for c in fake.calls
            if c.method in ("sendMessage", "editMessageText") and c.status == 200 and c.at >= t0
        ]
        per_chat: dict[Any, list[float]] = defaultdict(list)
        for c in sends:
            per_chat[c.params.get("chat_id")].append(c.at)
        total = learners * rounds
        result = {
            "kind": kind if kind != "bot" else f"bot, {database}",
            "learners": learners,
            "served": sum(1 for o in outcomes if o is None),  # finished every round
            "elapsed_s": round(elapsed, 1),
            "answers": total,
            "answers_per_s": round(total / elapsed, 1),
            "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1),
            "peak_msgs_per_s": peak_rate((c.at for c in sends), 1.0),
            "peak_msgs_per_chat_per_s": max(
                (peak_rate(t, 1.0) for t in per_chat.values()), default=0
            ),
            "peak_msgs_per_chat_per_2s": max(
                (peak_rate(t, 2.0) for t in per_chat.values()), default=0
            ),
            "got_429": len([c for c in fake.calls if c.status == 429]),
            "cpu_ms_per_answer": round((cpu1 - cpu0) / total * 1000, 3),
            "peak_rss_mb": round(proc.peak_rss_mb(), 1),
            "rejected": len([c for c in fake.rejected if c.method != "setMyCommands"]),
        }
        await proc.stop()
        return result
    finally:
        await fake.stop()


# ---------------------------------------------------------------- the aiogram peer


async def start_peer(env: dict[str, str], workdir: Path) -> Proc:
    """bench/aiogram_app.py under the peer venv's python (bench/peer.py makes it on first use)."""
    from bench import peer

    python = await asyncio.to_thread(peer.ensure)
    log = (workdir / "aiogram_app.log").open("ab")
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # nothing of the bot's
    proc = await asyncio.create_subprocess_exec(
        str(python),
        str(ROOT / "bench" / "aiogram_app.py"),
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=log,
        preexec_fn=_app_core,
    )
    return Proc(proc)


def form_reply_as_json(body: bytes, content_type: str) -> bytes:
    """aiogram's webhook response names its method in multipart/form-data (Telegram takes
    either); the fake reads JSON, so re-encode the fields, decoding JSON-valued ones. Split by
    hand: the email package's parser cost the driver ~2 ms a response, its core's whole budget."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, Any] = {}
    for part in body.split(b"--" + boundary):
        head, sep, raw = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head) if sep else None
        if name is None:
            continue
        value: Any = raw.removesuffix(b"\r\n").decode()
        if value[:1] in ("[", "{"):
            value = json.loads(value)
        fields[name[1].decode()] = value
    return json.dumps(fields).encode()


# The peer at its best too: aiogram's tasks_concurrency_limit (0: none, its default) by its
# aiohttp connection limit (100: its default), swept on a short run like the PTB floor.
PEER_GRID = [(c, p) for c in (1, 4, 16, 64, 0) for p in (4, 16, 64, 100)]


async def best_peer(
    run: Callable[[int, int], Any], label: str
) -> tuple[int, int, list[dict[str, Any]]]:
    """(tasks limit, pool) that gave the aiogram peer the most answers a second."""
    sweep = []
    for concurrency, pool in PEER_GRID:
        row = await run(concurrency, pool)
        sweep.append({"concurrency": concurrency, "pool": pool, **row})
        print(
            f"  peer sweep {label}: tasks limit {concurrency or 'none':>4}, pool {pool:>3}: "
            f"{row['answers_per_s']} answers/s",
            flush=True,
        )
    best = max(sweep, key=lambda r: r["answers_per_s"])
    return int(best["concurrency"]), int(best["pool"]), sweep


def against_peer(rows: list[dict[str, Any]], peer_row: dict[str, Any], c: int, p: int) -> None:
    """Append the peer's row; the bot's (rows[0]) answers/s and CPU over the peer's."""
    from bench import peer

    limit = f"tasks limit {c}" if c else "no tasks limit"
    peer_row["kind"] = f"bare aiogram {peer.version()} ({limit}, pool {p})"
    rows[0]["vs_peer"] = round(rows[0]["answers_per_s"] / peer_row["answers_per_s"], 2)
    rows[0]["cpu_vs_peer"] = round(rows[0]["cpu_ms_per_answer"] / peer_row["cpu_ms_per_answer"], 2)
    rows.append(peer_row)


async def peer_channel(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    c, p = 0, 100  # aiogram's defaults
    if args.floor_sweep:
        c, p, _ = await best_peer(
            lambda c, p: channel_burst("aiogram", args.readers // 4, c, p), "channel"
        )
    PEER_BEST["channel"] = (c, p)
    against_peer(rows, await channel_burst("aiogram", args.readers, c, p), c, p)


async def peer_webhook(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """aiogram's webhook handler, both ways; its tasks are not limited there (it answers the
    POST and handles the update in the background), so only the pool carries over."""
    from bench import peer

    _, p = PEER_BEST.get("channel", (0, 100))
    for in_reply, bot_row in ((False, rows[1]), (True, rows[2])):
        row = await channel_burst(
            "aiogram", args.readers, 0, p, webhook=True, answer_in_reply=in_reply
        )
        how = "answers in the response" if in_reply else "40 connections"
        row["kind"] = f"bare aiogram {peer.version()}, webhook, {how} (pool {p})"
        bot_row["vs_peer"] = round(bot_row["answers_per_s"] / row["answers_per_s"], 2)
        bot_row["cpu_vs_peer"] = round(bot_row["cpu_ms_per_answer"] / row["cpu_ms_per_answer"], 2)
        rows.append(row)


async def peer_quiz(
    args: argparse.Namespace, rows: list[dict[str, Any]], run_quiz: Callable[..., Any]
) -> None:
    c, p = 0, 100
    if args.floor_sweep:
        c, p, _ = await best_peer(
            lambda c, p: run_quiz("aiogram", args.learners // 4, c, p, 3), "quiz"
        )
    PEER_BEST["quiz"] = (c, p)
    against_peer(rows, await run_quiz("aiogram", args.learners, c, p), c, p)


async def peer_human(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    """The peer at human pace: it has no flood limiter, so its messages a second are the
    learners' rate, which real Telegram would answer with 429s above ~30."""
    from bench import peer

    c, p = PEER_BEST.get("quiz", (0, 100))
    row = await quizzes(
        "aiogram",
        args.learners,
        args.rounds or 4,
        pause=1.0,
        rate_limit=False,
        concurrency=c,
        pool=p,
    )
    row["kind"] = f"bare aiogram {peer.version()} (no flood limiter)"
    rows.append(row)


PEER_BEST: dict[str, tuple[int, int]] = {}  # workload -> the peer's best (tasks limit, pool)


# ---------------------------------------------------------------- a big database


BIG_ANSWERS, BIG_USERS, BIG_GROUPS = 1_000_000, 100_000, 50
BIG_USER0 = 40_000_000


def big_database() -> Path:
    """1,000,000 answers from 100,000 users over 30 days (a fifth in 50 groups, a tenth from
    the channel), with their totals; built once per schema version under bench/results/."""
    from bot.db.connection import _statements
    from bot.db.migrations import MIGRATIONS, SCHEMA_VERSION

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bigdb-v{SCHEMA_VERSION}.sqlite3"
    if path.exists():
        return path
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)

    async def schema() -> None:
        from bot.db import Store

        store = await Store.open(building)  # the real schema, through the real migrations
        await store.close()

    asyncio.run(schema())
    con = sqlite3.connect(building, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    now = "2026-11-01T09:00:00+00:00"
    con.executemany(
        "INSERT INTO users (user_id, first_name, created_at, last_seen) VALUES (?, ?, ?, ?)",
        ((BIG_USER0 + u, f"U{u}", now, now) for u in range(BIG_USERS)),
    )
    askings = 20_000
    con.executemany(
        "INSERT INTO askings (id, kind, question_id, choice_order, choices_sig, created_at) "
        "VALUES (?, 'quiz', ?, '0,1,2,3', 'x', ?)",
        ((a, f"q{a % 360}", now) for a in range(1, askings + 1)),
    )
    rng = random.Random(1)

    def rows() -> Iterable[tuple[Any, ...]]:
        seen: set[tuple[int, int]] = set()
        while len(seen) < BIG_ANSWERS:
            user = BIG_USER0 + int(rng.paretovariate(1.2) * 7) % BIG_USERS
            asking = rng.randint(1, askings)
            if (asking, user) in seen:
                continue
            seen.add((asking, user))
            roll = rng.random()
            source = "channel" if roll < 0.1 else "quiz"
            chat = (
                -100
                if roll < 0.1
                else (-(2000 + rng.randrange(BIG_GROUPS)) if roll < 0.3 else user)
            )
            ok = rng.random() < 0.6
            points = (2 if ok else 0) if source == "quiz" else 0
            day = f"2026-10-{1 + rng.randrange(30):02d}"
            yield (
                asking,
                user,
                chat,
                f"q{asking % 360}",
                source,
                ok,
                points,
                day + "T09:00:00+00:00",
                day,
            )

    con.executemany(
        "INSERT INTO answers (asking_id, user_id, chat_id, question_id, source, choice, correct, "
        "points, answered_at, local_day) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
        rows(),
    )
    # The totals, by the very statements the migration builds them with for an old database.
    script = next(m for m in MIGRATIONS if isinstance(m, str) and "CREATE TABLE score_totals" in m)
    for statement in _statements(script):
        if statement.startswith("INSERT"):
            con.execute(statement)
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("ANALYZE")
    con.close()
    building.rename(path)
    return path


async def _command_latencies(
    fake: FakeBotApi, users: list[FakeUser], text: str, *, parallel: int = 1
) -> list[float]:
    """Update handed to the bot -> its reply, for each user sending ``text``."""
    out: list[float] = []

    async def one(user: FakeUser) -> None:
        before = len(fake.sent_to(user.id))
        update = fake.send_text(user, text)
        await fake.wait_until(lambda: len(fake.sent_to(user.id)) > before, timeout=60)
        reply = fake.sent_to(user.id)[before]
        out.append(reply.at - fake.delivered_at[update])

    for i in range(0, len(users), parallel):
        await asyncio.gather(*(one(u) for u in users[i : i + parallel]))
    return out


async def _press_burst(
    fake: FakeBotApi, watch: Answers, question_id: str, readers: range
) -> list[float]:
    """A new post, then one press from each reader at once: update -> its answer, each."""
    before = len(fake.channel_posts())
    fake.send_text(ADMIN, f"/post_now {question_id}")
    await fake.wait_until(lambda: len(fake.channel_posts()) > before, timeout=30)
    post = fake.channel_posts()[-1]
    data = next(b["callback_data"] for b in post.buttons() if "callback_data" in b)
    queries = [fake.press(FakeUser(r, f"R{r}"), post, data) for r in readers]
    await asyncio.wait_for(asyncio.gather(*(watch.wait(q) for q in queries)), 300)
    return [watch.answered_at[q] - fake.delivered_at[fake.query_update[q]] for q in queries]


async def bigdb(concurrency: int, database: str = "sqlite") -> dict[str, Any]:
    t0 = time.monotonic()
    source = await asyncio.to_thread(big_database)
    build_s = time.monotonic() - t0
    fake = FakeBotApi(TOKEN)
    await fake.start()
    watch = Answers()
    fake.listeners.append(watch)
    workdir = Path(tempfile.mkdtemp(prefix="bench-bigdb-"))
    try:
        db = workdir / "bot.sqlite3"
        await asyncio.to_thread(lambda: db.write_bytes(source.read_bytes()))
        env = base_env(fake, workdir, rate_limit=False, concurrency=concurrency)
        copied = time.monotonic()
        await DATABASES.place(database, workdir, env)
        copy_s = time.monotonic() - copied
        started = time.monotonic()
        proc = await start("bench.bot_process", env, workdir)
        await ready(fake)
        startup_s = time.monotonic() - started
        await asyncio.sleep(0.5)
        rng = random.Random(2)
        sample = [FakeUser(BIG_USER0 + u, f"U{u}") for u in rng.sample(range(BIG_USERS), 400)]
        boards = await _command_latencies(fake, sample[:200], "/leaderboard")
        scores = await _command_latencies(fake, sample[200:], "/score")
        # Presses under a post, alone and then with 20 /leaderboards in flight.
        alone = await _press_burst(fake, watch, QUESTION, range(50_000_000, 50_002_000))
        busy_users = [FakeUser(BIG_USER0 + u, f"U{u}") for u in rng.sample(range(BIG_USERS), 20)]
        boards_task = asyncio.create_task(
            _command_latencies(fake, busy_users, "/leaderboard", parallel=20)
        )
        busy = await _press_burst(fake, watch, "algo-two-sum", range(50_010_000, 50_012_000))
        await boards_task
        result: dict[str, Any] = {
            "database": database,
            "copy_db_s": round(copy_s, 1),
            "answers": BIG_ANSWERS,
            "users": BIG_USERS,
            "db_build_s": round(build_s, 1),
            "file_mb": round(source.stat().st_size / 2**20, 1),
            "startup_s": round(startup_s, 2),
            "leaderboard_p50_ms": round(pct(boards, 50) * 1000, 1),
            "leaderboard_p99_ms": round(pct(boards, 99) * 1000, 1),
            "score_p50_ms": round(pct(scores, 50) * 1000, 1),
            "score_p99_ms": round(pct(scores, 99) * 1000, 1),
            "press_p99_alone_ms": round(pct(alone, 99) * 1000, 1),
            "press_p99_with_boards_ms": round(pct(busy, 99) * 1000, 1),
            "press_p99_ratio": round(pct(busy, 99) / pct(alone, 99), 2),
            "peak_rss_mb": round(proc.peak_rss_mb(), 1),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "rejected": len([c for c in fake.rejected if c.method != "setMyCommands"]),
        }
        await proc.stop()
        return result
    finally:
        await fake.stop()


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = [" | ".join(keys), " | ".join("---" for _ in keys)]
    lines += [" | ".join(str(r.get(k, "")) for k in keys) for r in rows]
    return "\n".join(lines)


# The floor at its best, not at the bot's settings: bare PTB is swept over these (concurrent
# updates, HTTP pool) on a short run of the same workload, and the fastest is measured in full.
FLOOR_GRID = [(c, p) for c in (1, 4, 16, 64, 256) for p in (1, 4, 16, 64)]


def against_floor(rows: list[dict[str, Any]], concurrency: int, pool: int) -> None:
    """Label the rows [bot (one per database), stock floor, floor on the bot's transport];
    ratios to the floor."""
    floor, transport = rows[-2], rows[-1]
    floor["kind"] = f"bare (best: {concurrency} updates, pool {pool})"
    transport["kind"] = f"bare on the bot's transport ({concurrency} updates, pool {pool})"
    for row in (*rows[:-2], transport):
        row["vs_floor"] = round(row["answers_per_s"] / floor["answers_per_s"], 2)


async def best_floor(
    run: Callable[[int, int], Any], label: str
) -> tuple[int, int, list[dict[str, Any]]]:
    """(concurrency, pool) that gave bare PTB the most answers a second, and the sweep."""
    sweep = []
    for concurrency, pool in FLOOR_GRID:
        row = await run(concurrency, pool)
        sweep.append({"concurrency": concurrency, "pool": pool, **row})
        print(
            f"  floor sweep {label}: {concurrency:>3} updates, pool {pool:>2}: "
            f"{row['answers_per_s']} answers/s",
            flush=True,
        )
    best = max(sweep, key=lambda r: r["answers_per_s"])
    return int(best["concurrency"]), int(best["pool"]), sweep


async def main_async(args: argparse.Namespace) -> None:
    try:
        await _main_async(args)
    finally:
        DATABASES.stop()


async def _main_async(args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, Any]]] = {}
    dbs = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if args.which == "channel" and args.workers > 1:
        # Several webhook workers on one database (CONTRACT §10): 1 and N in one run.
        database = "postgres" if args.database == "sqlite" else dbs[-1]
        results["channel burst, webhook workers on one database"] = [
            await channel_workers(args.readers, args.concurrency, n, database)
            for n in (1, args.workers)
        ]
    elif args.which in ("channel", "all"):
        c, p = args.concurrency, 16
        if args.floor_sweep:
            c, p, _ = await best_floor(
                lambda c, p: channel_burst("bare", args.readers // 4, c, p), "channel"
            )
        rows = [
            *[await channel_burst("bot", args.readers, args.concurrency, database=d) for d in dbs],
            await channel_burst("bare", args.readers, c, p),
            await channel_burst("bare-aiohttp", args.readers, c, p),
        ]
        against_floor(rows, c, p)
        if args.peer:
            await peer_channel(args, rows)
        results["channel burst"] = rows
    if args.which in ("webhook", "all"):
        # The same burst delivered both ways to the bot, 40 POSTs in flight for the webhook.
        rows = [
            await channel_burst("bot", args.readers, args.concurrency),
            await channel_burst("bot", args.readers, args.concurrency, webhook=True),
            await channel_burst(
                "bot", args.readers, args.concurrency, webhook=True, answer_in_reply=True
            ),
        ]
        rows[0]["kind"] = "bot, long polling"
        rows[1]["kind"] = "bot, webhook (40 connections)"
        rows[2]["kind"] = "bot, webhook, answers in the response"
        if args.peer:
            await peer_webhook(args, rows)
        results["channel burst, polling and webhook"] = rows
    if args.which in ("quiz", "all"):
        rounds = args.rounds or 10

        def run_quiz(
            kind: str, learners: int, c: int, p: int, n: int = rounds, *, database: str = "sqlite"
        ) -> Any:
            return quizzes(
                kind,
                learners,
                n,
                pause=0,
                rate_limit=False,
                concurrency=c,
                pool=p,
                database=database,
            )

        c, p = args.concurrency, 16
        if args.floor_sweep:
            c, p, _ = await best_floor(
                lambda c, p: run_quiz("bare", args.learners // 4, c, p, 3), "quiz"
            )
        rows = [
            *[
                await run_quiz("bot", args.learners, args.concurrency, args.pool, database=d)
                for d in dbs
            ],
            await run_quiz("bare", args.learners, c, p),
            await run_quiz("bare-aiohttp", args.learners, c, p),
        ]
        against_floor(rows, c, p)
        if args.peer:
            await peer_quiz(args, rows, run_quiz)
        results["quizzes, RATE_LIMIT=off"] = rows
    if args.which in ("human", "all"):
        # Four rounds: at 30 messages a second overall, 200 learners need ~30 s of sends.
        rows = [
            await quizzes(
                "bot",
                args.learners,
                args.rounds or 4,
                pause=1.0,
                rate_limit=True,
                concurrency=args.concurrency,
            )
        ]
        if args.peer:
            await peer_human(args, rows)
        results["quizzes, human pace, RATE_LIMIT=on"] = rows
    if args.which == "pictures":  # not in "all": it repeats the channel burst
        rows = []
        for _ in range(args.repeat):
            rows.append(await channel_burst("bot", args.readers, args.concurrency))
            rows[-1]["kind"] = "bot, burst alone"
            alone = rows[-1]
            n = args.pictures
            rows.append(
                await channel_burst("bot", args.readers, args.concurrency, pictures=n, cached=True)
            )
            rows[-1]["kind"] = f"bot, burst + {n} /progress, pictures cached (none drawn)"
            cached = rows[-1]
            rows.append(await channel_burst("bot", args.readers, args.concurrency, pictures=n))
            rows[-1]["kind"] = f"bot, burst + {n} /progress, {n} pictures drawn"
            for row in (cached, rows[-1]):
                row["p99_vs_alone"] = round(row["p99_ms"] / alone["p99_ms"], 2)
            rows[-1]["p99_vs_cached"] = round(rows[-1]["p99_ms"] / cached["p99_ms"], 2)
        results["channel burst with pictures drawn"] = rows
    if args.which == "daily":  # not in "all": it takes about six minutes at 10,000
        from bench.daily import daily_run

        results["/daily deliveries, RATE_LIMIT=on, fake enforces 30 msg/s"] = [
            await daily_run(args.subscribers, args.concurrency)
        ]
    if args.which == "bigdb":
        results["a big database"] = [await bigdb(args.concurrency, d) for d in dbs]
    if args.which == "games":  # not in "all": it plays real time (a minute or two)
        from bench.games import games_run

        results["live games, RATE_LIMIT=on, fake enforces 30 msg/s"] = [
            await games_run(
                args.groups, args.members, args.rounds or 5, args.seconds, args.concurrency
            )
        ]
    for title, rows in results.items():
        print(f"\n## {title}\n\n{table(rows)}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.which}-{int(time.time())}.json").write_text(json.dumps(results, indent=2))
    if args.which == "human":
        r = results["quizzes, human pace, RATE_LIMIT=on"][0]
        print(
            f"served={r['served']}/{r['learners']} p99_ms={r['p99_ms']} "
            f"peak_msgs_per_s={r['peak_msgs_per_s']} got_429={r['got_429']} "
            f"elapsed_s={r['elapsed_s']} load_avg_1m={os.getloadavg()[0]:.2f}"
        )
    if args.which == "bigdb":
        r = results["a big database"][0]
        keys = (
            "leaderboard_p99_ms",
            "score_p99_ms",
            "startup_s",
            "peak_rss_mb",
            "press_p99_ratio",
        )
        print(" ".join(f"{k}={r[k]}" for k in keys))


def main() -> None:
    _driver_core()
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument(
        "which",
        choices=[
            "channel",
            "webhook",
            "quiz",
            "human",
            "daily",
            "bigdb",
            "games",
            "pictures",
            "all",
        ],
    )
    parser.add_argument("--groups", type=int, default=50, help="games: groups playing")
    parser.add_argument("--members", type=int, default=8, help="games: members a group")
    parser.add_argument("--seconds", type=int, default=10, help="games: seconds a question")
    parser.add_argument("--pictures", type=int, default=200, help="/progress during the burst")
    parser.add_argument("--repeat", type=int, default=1, help="pictures: alternate runs")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=0, help="10 (quiz), 4 (human), 5 (games)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="channel: the burst by webhook to 1 and to N bot processes on one PostgreSQL",
    )
    parser.add_argument("--pool", type=int, default=16, help="the bot's HTTP pool")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres", "both"],
        default="sqlite",
        help="where the bot keeps its data (postgres: BENCH_POSTGRES or a throwaway server)",
    )
    parser.add_argument(
        "--no-floor-sweep",
        dest="floor_sweep",
        action="store_false",
        help="measure the floor at the bot's settings (the peer at aiogram's defaults) "
        "instead of sweeping for their best",
    )
    parser.add_argument(
        "--no-peer",
        dest="peer",
        action="store_false",
        help="leave out the bare aiogram peer (bench/aiogram_app.py, in bench/.peer-venv)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
