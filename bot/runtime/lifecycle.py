"""``BotApplication``: PTB's Application with a stop that ends in time, whatever the backlog.

CONTRACT §6/§9: on SIGTERM the bot answers and records what it received and exits 0 within 10
seconds. PTB's ``Application.stop`` awaits every task it started, however long they take (a
backlog of replies waiting in the flood limits took 14.6 s); the update processor keeps its
backlog outside PTB's tasks anyway (``runtime.updates``). So the stop here runs the backlog
and what it started (follow-ups) until a deadline, cuts the rest, and hands the updates that
did not run to ``keep`` (the database), to be run at the next start: an update Telegram
counts as delivered is handled, now or then, never lost.

Why keep them rather than leave them for Telegram to deliver again: Telegram forgets every
update below the ``offset`` of a getUpdates call, and PTB's polling loop asks for the next batch
(with ``offset`` = last + 1) moments after handing a batch over, long before its updates are
handled; its stop confirms the last batch the same way (``Updater._stop_polling``). Holding
the offset back to the oldest update not handled would stall all fetching behind any hundred
slow ones (a batch holds at most 100 updates from the offset): the group flood this bot must
stay fair under. In webhook mode Telegram has had its 200 for each. Updates never fetched stay
with Telegram, as ever.

The budget, from the stop signal: the webhook server's grace (at most 3 s, and only while a
request is still being read) or polling's last getUpdates, then ``UPDATES_BUDGET``, a second
for requests on the wire (``updates.IN_FLIGHT_GRACE``) and the tally flush (2 s,
``services.jobs``): about 7 s, never over 10.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Any

from telegram.ext import Application, ExtBot

from bot.runtime.updates import IN_FLIGHT_GRACE, FairUpdateProcessor
from bot.state.context import BotContext, BotData

log = logging.getLogger(__name__)

UPDATES_BUDGET = 4.0

Keep = Callable[[Sequence[object]], Awaitable[None]]


class BotApplication(
    Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]
):
    """Stops within a deadline; updates it could not run go to ``keep_updates``."""

    keep_updates: Keep | None = None

    async def stop(self) -> None:
        processor = self.update_processor
        if not self.running or not isinstance(processor, FairUpdateProcessor):
            await super().stop()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + UPDATES_BUDGET
        # The updates PTB has taken but not yet handed over are filed first (in microseconds:
        # the processor only files them), so they run now rather than at the next start.
        kept: list[object] = []
        try:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.update_queue.join(), UPDATES_BUDGET)
            kept = await processor.stop(deadline)
            # What answered presses started (follow-ups: own tasks, running all along) ends
            # with the updates, or a moment after for one whose request is on the wire.
            await _cut_follow_ups(self.bot_data, deadline + IN_FLIGHT_GRACE)
        finally:
            await super().stop()  # what PTB still held reaches the processor, which keeps it
        kept += processor.take_kept()
        if not kept:
            return
        if self.keep_updates is None:
            log.warning("shutdown: %d update(s) not handled in time are lost", len(kept))
            return
        try:
            await self.keep_updates(kept)
        except Exception:
            log.exception(
                "shutdown: %d update(s) not handled in time could not be kept", len(kept)
            )


async def _cut_follow_ups(data: BotData, deadline: float) -> None:
    """Wait for what answered presses started (the next question, an edit) until the
    deadline, then cut it."""
    loop = asyncio.get_running_loop()
    while data.follow_ups and (left := deadline - loop.time()) > 0:
        await asyncio.wait(set(data.follow_ups), timeout=left)  # they may start more
    if data.follow_ups:
        log.warning("shutdown: %d follow-up(s) still running were cut off", len(data.follow_ups))
        tasks = list(data.follow_ups)
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
