"""Where pictures are drawn: one low-priority worker process, with a per-day cache.

A chart takes 0.1-0.5 s of CPU. On the event loop it would stall every press; in a thread it
would still take the GIL from the loop (bench: a 2,000-press burst's p99 went 2.3x with 200
/progress drawn in a thread). So drawing runs in one worker process at the lowest CPU priority
(nice 19): presses and replies always come first, pictures get the idle CPU, and matplotlib's
memory (about 40 MB, and up to 150 MB once it has drawn a few dozen) stays out of the bot's
process. One worker, not a pool: pictures queue instead of taking both cores from the presses.
It is started (``spawn``: no copy of the bot's threads or sockets) with the first picture, so a
bot that never draws never starts it and never imports matplotlib.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.core.limits import PICTURE_CACHE_BOUND

log = logging.getLogger(__name__)


def _worker_init(bot_pid: int) -> None:
    os.nice(19)  # already so (Drawer._lower), unless the bot could not set it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the bot's to handle

    def exit_with_the_bot() -> None:
        # A bot killed with kill -9 never tells its worker, which holds its own end of the
        # task pipe and would wait forever: it watches for its parent instead.
        while os.getppid() == bot_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=exit_with_the_bot, name="watch-bot", daemon=True).start()


class Drawer:
    """Runs drawing functions (module-level, with picklable arguments) in the worker;
    remembers the last picture per (kind, owner, day).

    A cached picture is reused only for the same inputs: the same data gives the same bytes,
    and new answers the same day give a new picture.
    """

    def __init__(self, bound: int = PICTURE_CACHE_BOUND) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._bound = bound
        self._cache: dict[Hashable, tuple[Hashable, bytes]] = {}
        self._drawing: dict[Hashable, asyncio.Future[bytes]] = {}
        self.drawn = 0  # pictures actually drawn (not served from the cache)
        self._lowered: set[int] = set()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
                initargs=(os.getpid(),),
            )
            log.info("picture worker started")
        return self._pool

    def _lower(self) -> None:
        """Put the worker at nice 19 from its first instruction: it starts by importing the
        bot's main module (spawn does), which at normal priority would take the CPU from a
        burst of presses for a second. The pool starts it in ``submit``, so it exists now.
        (Its own initializer runs only after that import.)"""
        processes = getattr(self._pool, "_processes", None) or {}
        for pid in list(processes):
            if pid not in self._lowered:
                with contextlib.suppress(OSError):  # it may have exited already
                    os.setpriority(os.PRIO_PROCESS, pid, 19)
                self._lowered.add(pid)

    async def draw(
        self, key: Hashable, inputs: Hashable, draw: Callable[..., bytes], *args: object
    ) -> bytes:
        """``draw(*args)`` in the worker, unless ``key`` already holds ``inputs``'s picture."""
        cached = self._cache.get(key)
        if cached is not None and cached[0] == inputs:
            return cached[1]
        running = self._drawing.get((key, inputs))
        if running is not None:  # the same picture asked twice at once: draw it once
            return await asyncio.shield(running)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), draw, *args)
        self._lower()
        self._drawing[(key, inputs)] = future
        try:
            png = await asyncio.shield(future)
        except BrokenProcessPool:
            # The worker died (killed, out of memory): this picture fails, the next starts anew.
            log.error("the picture worker died; the next picture starts a new one")  # noqa: TRY400 - re-raised
            self._pool = None
            raise
        finally:
            self._drawing.pop((key, inputs), None)
        self.drawn += 1
        if len(self._cache) >= self._bound:
            self._cache.clear()  # limits.py: a full cache is cleared, never grown
        self._cache[key] = (inputs, png)
        return png

    def close(self) -> None:
        """At shutdown: drop queued drawings; the worker exits after the one it is drawing."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
