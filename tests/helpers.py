"""Small helpers for end-to-end tests: find buttons, press the right or a wrong one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from bot.ui import callback_data as cd
from tests.conftest import ROOT, Harness
from tests.fakes import WAIT_BOUND, FakeUser, StoredMessage


def answer_buttons(message: StoredMessage) -> list[dict[str, Any]]:
    return [b for b in message.buttons() if str(b.get("callback_data", "")).startswith("a1:")]


def button(message: StoredMessage, prefix: str) -> dict[str, Any]:
    found = [b for b in message.buttons() if str(b.get("callback_data", "")).startswith(prefix)]
    assert found, f"no {prefix} button in {message.text[:80]!r}"
    return found[0]


async def right_position(h: Harness, message: StoredMessage) -> int:
    """Which shown position is right, from the stored asking (the test knows the key)."""
    data = cd.decode(answer_buttons(message)[0]["callback_data"])
    assert data is not None
    asking = await h.data.store.quizzes.get_asking(data.int_arg(0))
    assert asking is not None
    q = h.data.bank.questions[asking.question_id]
    return asking.order.index(q.correct)


async def press_answer(h: Harness, user: FakeUser, message: StoredMessage, *, right: bool) -> str:
    buttons = answer_buttons(message)
    pos = await right_position(h, message)
    if not right:
        pos = (pos + 1) % len(buttons)
    return h.fake.press(user, message, buttons[pos]["callback_data"])


async def answered(h: Harness, query_id: str) -> dict[str, Any]:
    call = await h.fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    return call.params


async def settled(
    h: Harness, *, update_id: int | None = None, timeout: float = WAIT_BOUND
) -> None:
    """Wait until the bot has nothing left to do for the updates it took (``update_id``:
    once it has queued that one, by the offset it asks for next): none queued, none being
    processed (PTB's own count), no follow-up of a press still running. Asserting that nothing
    else happened is then sound, where a sleep would only make it likely."""
    app = h.app
    assert app is not None

    def idle() -> bool:
        return (
            (update_id is None or h.fake.confirmed >= update_id)
            and app.update_queue.empty()
            and app.update_processor.current_concurrent_updates == 0
            # The fair processor files an update and runs it in a task of its key: its own
            # count is what is still queued or running there.
            and getattr(app.update_processor, "backlog", 0) == 0
            and getattr(app.update_processor, "notices_in_flight", 0) == 0
            and not h.data.follow_ups
        )

    async with asyncio.timeout(timeout):
        calm = 0
        while calm < 5:  # a task started in this loop turn shows up a turn later
            calm = calm + 1 if idle() else 0
            await asyncio.sleep(0 if calm else 0.005)


async def quiet(h: Harness, *, horizon: float = 2.0, timeout: float = WAIT_BOUND) -> None:
    """``settled``, and the JobQueue quiet too: no job run under way, and no one-time or
    time-of-day job (a catch-up post, an extra post, tomorrow's post) due within ``horizon``
    seconds. After a (re)start, the start-time catch-ups are decided and done by then, so
    asserting that one did not happen is sound. Repeating jobs (tallies, /daily ticks) are not
    waited for: a test drives those itself (test_daily's ``tick``)."""
    app = h.app
    assert app is not None and app.job_queue is not None
    queue = app.job_queue

    def jobs_idle() -> bool:
        if h.jobs_running:
            return False
        soon = datetime.now(UTC) + timedelta(seconds=horizon)
        return not any(
            job.next_t is not None
            and job.next_t <= soon
            and not isinstance(job.job.trigger, IntervalTrigger)
            for job in queue.jobs()
        )

    async with asyncio.timeout(timeout):
        while True:
            while not jobs_idle():  # nothing notifies a job's end: look again shortly
                await asyncio.sleep(0.01)
            await settled(h, timeout=timeout)
            if jobs_idle():
                return


def quiz_messages(h: Harness, chat_id: int) -> list[StoredMessage]:
    return [m for m in h.fake.messages_in(chat_id) if answer_buttons(m)]


def _question(h: Harness, chat_id: int, number: int) -> StoredMessage | None:
    found = [
        m
        for m in h.fake.messages_in(chat_id)
        if f"Question {number}/" in m.text and answer_buttons(m)  # still open
    ]
    return found[-1] if found else None


async def next_question(h: Harness, chat_id: int, number: int) -> StoredMessage:
    """Wait for the message asking question ``number`` of the current quiz in a chat."""
    await h.fake.wait_until(lambda: _question(h, chat_id, number) is not None)
    message = _question(h, chat_id, number)
    assert message is not None
    return message


async def query(location: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the bot's database at ``location``, on SQLite or (BOT_TEST_DATABASE=postgres,
    where tests/pg.py maps a file path to its database) PostgreSQL."""
    from bot.db import Store

    store = await Store.open(Path(location) if "://" not in str(location) else str(location))
    try:
        return [tuple(r) for r in await store.database.all(sql)]
    finally:
        await store.close()


async def integrity_ok(location: Path | str) -> bool:
    from bot.db import Store

    store = await Store.open(Path(location))
    try:
        return await store.integrity_check() == "ok"
    finally:
        await store.close()


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` to completion, with none of the developer's bot variables."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "CONTENT_"))
    }
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        cwd=cwd,
        check=False,
    )


async def start_bot(
    env: dict[str, str], cwd: Path, *, output: int = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """``python -m bot`` as a real process, as a user would run it."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, cwd=cwd, stdout=output, stderr=output
    )
