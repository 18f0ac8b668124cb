"""Where the bot's CPU goes per answer, by component: py-spy over a bench.run workload.

    pip install py-spy   # into the bot's venv; not a dependency
    python -m bench.profile channel [--readers 2000]
    python -m bench.profile quiz [--learners 100]

Runs bench.run's workload for the bot alone and samples the bot process with
``py-spy record --format raw`` from the moment it is ready until it stops, every thread
(aiosqlite runs SQL on its own). Idle samples are not recorded, so the shares are of CPU, and
ms per answer is share x the run's CPU per answer. ``--nonblocking``: pausing the bot for
each sample made py-spy count its idle waits as CPU (three times the samples the CPU time
allows); not pausing, a sample now and then lands in a stale frame (once, a tenth of a run's
samples in one PTB function that costs 3 us a call): repeat a run before trusting one line.
Each sample goes to one component: a few phases by any frame on the stack (PTB's
``de_json``, FSRS, the renderer), else the innermost frame's library or module.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import run


def _path(frame: str) -> str:
    """ "Bot._post (telegram/_bot.py:712)" -> "telegram/_bot.py" (py-spy's relative paths)."""
    return frame.rpartition(" (")[2].rpartition(":")[0]


# Phases by any frame on the stack: (component, test of one frame).
PHASES: list[tuple[str, Callable[[str], bool]]] = [
    (
        "PTB: Update.de_json (objects built)",
        lambda f: f.startswith("de_json ") or ".de_json " in f,
    ),
    ("FSRS", lambda f: _path(f).startswith(("fsrs/", "bot/core/srs.py"))),
    ("render (bot/ui)", lambda f: _path(f).startswith("bot/ui/")),
]
TRANSPORT = "transport: HTTP, sockets (aiohttp, bot/runtime/request.py)"
LOOP = "event loop (asyncio or uvloop, selectors)"
LOOP_FRAMES = ("Application.__run ", "Application.run_polling ", "Runner.run ")
# Where a thread waits: py-spy counts some of these idle samples as busy, so they are left out
# (under uvloop this also leaves out the loop's own work in C, which sits on these frames).
# Samples are of runnable time, not CPU: on the shared machine a runnable bot waits for its
# core, so the samples outnumber the CPU time (1.3-2.3x); shares, not counts, are what holds.
WAIT = "waiting: epoll, aiosqlite's queue (not counted)"
WAIT_FRAMES = (
    "EpollSelector.select ",
    "_connection_worker_thread (aiosqlite/core.py:59)",  # tx.get(): waiting for work
    *LOOP_FRAMES,
)
# Else by the innermost frame whose path starts with one of these (in this order per frame).
LEAVES: list[tuple[str, tuple[str, ...]]] = [
    ("JSON (json module)", ("json/",)),
    ("DB: SQL, transaction (aiosqlite thread, bot/db)", ("aiosqlite/", "sqlite3/", "bot/db/")),
    (
        TRANSPORT,
        ("aiohttp/", "yarl/", "multidict/", "bot/runtime/request.py", "http/", "asyncio/sslproto"),
    ),
    (
        "PTB: rate limiter (aiolimiter, bot/runtime/ratelimit.py)",
        ("aiolimiter/", "telegram/ext/_aioratelimiter.py", "bot/runtime/ratelimit.py"),
    ),
    ("PTB: dispatch, handlers, context (telegram/ext)", ("telegram/ext/",)),
    ("PTB: Bot methods, to_dict, request (telegram/)", ("telegram/",)),
    ("door (services/door.py, presses.py)", ("bot/services/door.py", "bot/services/presses.py")),
    ("bot: services, handlers, runtime", ("bot/",)),
    (LOOP, ("asyncio/", "selectors.py")),
    ("logging", ("logging/",)),
    ("threads, queues (aiosqlite's hand-off)", ("threading.py", "queue.py")),
]


# aiosqlite runs each statement on its thread: a queue put/get and a call_soon_threadsafe
# wake-up of the loop per statement. Told apart by the innermost frame.
HAND_OFF = "DB: aiosqlite's hand-off per statement (queue, cross-thread wake-ups)"
HAND_OFF_FRAMES = (
    "BaseSelectorEventLoop._write_to_self ",
    "BaseSelectorEventLoop._read_from_self ",
    "BaseEventLoop.call_soon_threadsafe ",
)


def component(stack: list[str]) -> str:
    """``stack`` outermost first, as py-spy's raw format lists it."""
    for name, test in PHASES:
        if any(test(f) for f in stack):
            return name
    if stack and stack[-1].startswith(WAIT_FRAMES):
        return WAIT
    if stack and stack[-1].startswith(HAND_OFF_FRAMES):
        return HAND_OFF
    if stack and stack[-1].startswith("_SelectorSocketTransport."):  # socket send/recv
        return TRANSPORT
    for frame in reversed(stack):
        path = _path(frame)
        for name, prefixes in LEAVES:
            if path.startswith(prefixes):
                return name
    return "no Python frame (GC, C code), other"


def breakdown(raw: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            counts[component(stack.split(";")[1:])] += int(n)  # [0]: the process/thread
    return counts


async def profiled(which: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The workload with py-spy on the bot from ready to stop."""
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    procs: list[run.Proc] = []
    spies: list[asyncio.subprocess.Process] = []
    start_app, ready = run.start_app, run.ready

    async def start_app_(kind: str, env: dict[str, str], workdir: Path) -> run.Proc:
        proc = await start_app(kind, env, workdir)
        procs.append(proc)
        return proc

    async def ready_(fake: Any) -> None:
        await ready(fake)
        spies.append(
            await asyncio.create_subprocess_exec(
                pyspy,
                "record",
                "--pid",
                str(procs[-1].pid),
                "--format",
                "raw",
                "--nonblocking",
                "--threads",
                "--rate",
                str(args.rate),
                "--output",
                str(out),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        )

    run.start_app, run.ready = start_app_, ready_  # type: ignore[assignment]
    try:
        if which == "channel":
            row: dict[str, Any] = await run.channel_burst("bot", args.readers, args.concurrency)
        else:
            row = await run.quizzes(
                "bot", args.learners, 10, pause=0, rate_limit=False, concurrency=args.concurrency
            )
    finally:
        run.start_app, run.ready = start_app, ready
        for spy in spies:  # py-spy ends with its target; this only bounds a stuck one
            try:
                await asyncio.wait_for(spy.wait(), 60)
            except TimeoutError:
                spy.send_signal(signal.SIGINT)
                await spy.wait()
    return row


def main() -> None:
    run._driver_core()
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("which", choices=["channel", "quiz"])
    parser.add_argument("--readers", type=int, default=2000)
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=int, default=500, help="py-spy samples a second")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bench-profile-")) / f"{args.which}.txt"
    row = asyncio.run(profiled(args.which, args, out))
    report(args.which, out, row)


def report(which: str, raw: Path, row: dict[str, Any]) -> None:
    """Each component's share of the counted samples, and that share of the measured CPU."""
    counts = breakdown(raw)
    waits = counts.pop(WAIT, 0)
    total = sum(counts.values())
    per_answer = float(row["cpu_ms_per_answer"])
    print(f"{which}: {row['answers_per_s']} answers/s, {per_answer} ms CPU per answer")
    print(f"{total} samples counted, {waits} in waits left out ({raw})")
    print("| component | share | ms per answer |\n| --- | --- | --- |")
    for name, n in counts.most_common():
        print(f"| {name} | {n / total:.0%} | {n / total * per_answer:.3f} |")


if __name__ == "__main__":
    main()
