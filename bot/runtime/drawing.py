"""Where pictures are drawn: one worker thread, off the event loop, with a per-day cache.

Drawing a chart takes 0.1-0.5 s of CPU. On the event loop that would stall every press; in a
thread it only competes for the GIL. One worker, not a pool: pictures queue instead of taking
both cores from the presses (bench/pictures.py measures it), and matplotlib's object API is
then never used from two threads at once. The thread starts with the first picture, so a bot
that never draws has no thread and never imports matplotlib.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

from bot.core.limits import PICTURE_CACHE_BOUND

log = logging.getLogger(__name__)


class Drawer:
    """Runs drawing functions in one thread; remembers the last picture per (kind, owner, day).

    A cached picture is reused only for the same inputs: the same data gives the same bytes,
    and new answers the same day give a new picture.
    """

    def __init__(self, bound: int = PICTURE_CACHE_BOUND) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._bound = bound
        self._cache: dict[Hashable, tuple[Hashable, bytes]] = {}
        self._drawing: dict[Hashable, asyncio.Future[bytes]] = {}
        self.drawn = 0  # pictures actually drawn (not served from the cache)

    async def draw(
        self, key: Hashable, inputs: Hashable, draw: Callable[..., bytes], *args: object
    ) -> bytes:
        """``draw(*args)`` in the worker thread, unless ``key`` already holds ``inputs``'s."""
        cached = self._cache.get(key)
        if cached is not None and cached[0] == inputs:
            return cached[1]
        running = self._drawing.get((key, inputs))
        if running is not None:  # the same picture asked twice at once: draw it once
            return await asyncio.shield(running)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="draw")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, draw, *args)
        self._drawing[(key, inputs)] = future
        try:
            png = await asyncio.shield(future)
        finally:
            self._drawing.pop((key, inputs), None)
        self.drawn += 1
        if len(self._cache) >= self._bound:
            self._cache.clear()  # limits.py: a full cache is cleared, never grown
        self._cache[key] = (inputs, png)
        return png

    def close(self) -> None:
        """At shutdown: drop queued drawings; one already running finishes on its own."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
