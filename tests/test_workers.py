"""Several processes (CONTRACT §10, issue #21), with real ``python -m bot`` processes.

SQLite: one process only. PostgreSQL: webhook workers that share one configuration, act on an
update once however many of them Telegram (or a balancer) hands it to.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.conftest import ALICE, ROOT
from tests.fakes import FakeBotApi
from tests.helpers import start_bot

pytestmark = pytest.mark.e2e


async def _stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return stderr.decode()


@pytest.mark.sqlite_only
async def test_a_second_process_on_one_sqlite_file_refuses_in_one_sentence(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT)}
    first = await start_bot(env, tmp_path)
    try:
        fake_api.send_text(ALICE, "/start")  # the first one runs: it answers
        await fake_api.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id, 30)
        second = await start_bot(env, tmp_path)
        _, stderr = await asyncio.wait_for(second.communicate(), 30)
        text = stderr.decode()
        assert second.returncode == 1, text
        assert "Traceback" not in text
        assert "Another bot process is already running on" in text
        assert env["DATABASE_PATH"] in text
        # The first is unharmed: it still answers.
        fake_api.send_text(ALICE, "/help")
        await fake_api.wait_for(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE.id, 30, count=2
        )
    finally:
        log = await _stop(first)
    assert first.returncode == 0, log
    # Its lock went with it: the next start on the file is not refused.
    again = await start_bot(env, tmp_path)
    try:
        fake_api.send_text(ALICE, "/help")
        await fake_api.wait_for(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE.id, 30, count=3
        )
    finally:
        log = await _stop(again)
    assert again.returncode == 0, log
