"""A press walked at run time: which of the bot's modules it passes through before it is answered.

    python -m bench.walk

Runs the real Application in this process against the local fake Bot API, then records, for
one channel reader's press and one private quiz answer, the bot module of every new call
into the bot's code (``sys.setprofile``; a coroutine resumed is not a new call; once the update
is handed on, the polling task's next ``getUpdates`` is not the press's), from the moment it is
queued until ``answerCallbackQuery`` reaches the fake. Consecutive repeats are folded; a
*return* is an entry of that timeline naming a module the press had already left. A static
reading of imports cannot see this: the route hides in dispatch tables and PTB's handler walk.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.core.bank import load_bank
from tests.fakes import CHANNEL_USERNAME, FakeBotApi, FakeUser, RunningClock, StoredMessage

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:WALK"
ADMIN = FakeUser(1001, "Ada")
READER = FakeUser(3001, "Reader")
LEARNER = FakeUser(3002, "Learner")
TRANSPORT = ("polling", "request", "parse", "updates", "ratelimit", "private", "webhook", "order")


class Walk:
    """The timeline of bot modules one press's calls enter."""

    def __init__(self) -> None:
        self.timeline: list[str] = []
        self.on = False
        self._frames: dict[int, FrameType] = {}  # a coroutine resumed is not a new call
        self.before: set[asyncio.Task[Any]] = set()  # tasks running before the press
        self.handed_on = False

    def hook(self, frame: FrameType, event: str, _: Any) -> None:
        if not self.on or event != "call" or id(frame) in self._frames:
            return
        task = asyncio.current_task()
        if self.handed_on and (task in self.before or _polls(task)):
            return
        self._frames[id(frame)] = frame
        name = frame.f_globals.get("__name__", "")
        if name.startswith("bot.") and (not self.timeline or self.timeline[-1] != name):
            self.timeline.append(name)
            self.handed_on = self.handed_on or name == "bot.runtime.updates"

    def summary(self, leave_out: tuple[str, ...] = ()) -> tuple[int, int]:
        """(modules, returns), the timeline folded again without the modules left out."""
        timeline = [m for m in self.timeline if not m.startswith(leave_out)]
        timeline = [m for i, m in enumerate(timeline) if i == 0 or timeline[i - 1] != m]
        seen: set[str] = set()
        returns = 0
        for i, module in enumerate(timeline):
            if module in seen and i > 0:
                returns += 1
            seen.add(module)
        return len(seen), returns


def _polls(task: asyncio.Task[Any] | None) -> bool:
    """PTB's polling loop runs each getUpdates as a task of its own."""
    return task is not None and "polling_action_cb" in task.get_coro().__qualname__  # type: ignore[union-attr]


async def walk(fake: FakeBotApi, press: Callable[[], str]) -> Walk:
    w = Walk()
    done = asyncio.Event()

    def listener(method: str, _: Any) -> None:
        if method == "answerCallbackQuery":
            w.on = False
            done.set()

    fake.listeners.append(listener)
    sys.setprofile(w.hook)
    try:
        w.before = asyncio.all_tasks()
        w.on = True
        press()
        await asyncio.wait_for(done.wait(), 10)
    finally:
        sys.setprofile(None)
        fake.listeners.remove(listener)
    return w


async def quiet(app: Any) -> None:
    """Wait until the bot has nothing left to do: no update queued or being processed, no
    follow-up of a press still running (the same test as ``tests.helpers.settled``)."""

    def idle() -> bool:
        return (
            app.update_queue.empty()
            and app.update_processor.current_concurrent_updates == 0
            and not app.bot_data.follow_ups
        )

    async with asyncio.timeout(30):
        calm = 0
        while calm < 5:  # a task started in this loop turn shows up a turn later
            calm = calm + 1 if idle() else 0
            await asyncio.sleep(0 if calm else 0.005)


def choice_data(message: StoredMessage) -> str:
    return next(
        str(b["callback_data"])
        for b in message.buttons()
        if str(b.get("callback_data", "")).startswith("a1:")
    )


async def record() -> tuple[Walk, Walk]:
    """Walk one channel reader's press and one private quiz answer, in this event loop."""
    fake = FakeBotApi(TOKEN)
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            token=TOKEN,
            base_url=fake.base_url,
            channel_id=f"@{CHANNEL_USERNAME}",
            admin_ids=frozenset({ADMIN.id}),
            database_path=Path(tmp) / "walk.sqlite3",
            content_dir=ROOT / "content",
            rate_limit=False,
        )
        bank = load_bank(ROOT / "content")
        clock = RunningClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
        app = build_application(settings, bank, clock=clock)
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES
        )
        await app.start()
        # Jobs (the /daily delivery tick, tally edits) are no part of a press: held meanwhile.
        assert app.job_queue is not None
        app.job_queue.scheduler.pause()
        try:
            qid = next(q.id for q in bank.questions.values() if q.quizzable)
            fake.send_text(ADMIN, f"/post_now {qid}")
            await fake.wait_until(lambda: len(fake.channel_posts()) == 1)
            post = fake.channel_posts()[0]
            # A first press warms the caches a busy channel's presses find warm.
            fake.press(READER, post, choice_data(post))
            await fake.wait_for("answerCallbackQuery")
            await quiet(app)  # what followed the first press is done: walk this one alone
            other = FakeUser(3003, "Second reader")
            channel = await walk(fake, lambda: fake.press(other, post, choice_data(post)))

            fake.send_text(LEARNER, "/quiz 3")
            await fake.wait_until(
                lambda: any("Question 1/" in m.text for m in fake.messages_in(LEARNER.id))
            )
            first = next(m for m in fake.messages_in(LEARNER.id) if "Question 1/" in m.text)
            fake.press(LEARNER, first, choice_data(first))
            await fake.wait_until(
                lambda: any("Question 2/" in m.text for m in fake.messages_in(LEARNER.id))
            )
            second = next(
                m for m in fake.messages_in(LEARNER.id) if "Question 2/" in m.text and m.buttons()
            )
            await quiet(app)
            quiz = await walk(fake, lambda: fake.press(LEARNER, second, choice_data(second)))
        finally:
            await app.updater.stop()
            await app.stop()
            assert app.post_stop is not None
            await app.post_stop(app)
            await app.shutdown()
            assert app.post_shutdown is not None
            await app.post_shutdown(app)
            await fake.stop()
    return channel, quiz


async def main() -> None:
    channel, quiz = await record()
    # The transport (runtime/ but its typed context) and db/'s own helpers, for the share of
    # the walk the feature code decides.
    # state.replies (the webhook's in-reply answers) counts as transport, as before it moved.
    transport = (*(f"bot.runtime.{m}" for m in TRANSPORT), "bot.state.replies")
    for label, w in (("channel press", channel), ("private quiz answer", quiz)):
        modules, returns = w.summary()
        bot_modules, bot_returns = w.summary(transport)
        inner, inner_returns = w.summary((*transport, "bot.db."))
        print(
            f"{label}: {modules} modules, {returns} returns "
            f"(without transport: {bot_modules} modules, {bot_returns} returns; "
            f"without transport and db/: {inner} modules, {inner_returns} returns)"
        )
        print("  " + " > ".join(m.removeprefix("bot.") for m in w.timeline))


if __name__ == "__main__":
    asyncio.run(main())
