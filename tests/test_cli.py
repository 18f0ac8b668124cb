"""The command line as a user runs it: python -m bot [run|validate|preview|backup]."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest

from tests import pg
from tests.conftest import ALICE, CONTENT, ROOT, TOKEN
from tests.fakes import FakeBotApi
from tests.helpers import integrity_ok, query, run_cli, start_bot

pytestmark = pytest.mark.e2e


def test_no_token_is_one_clear_sentence(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "BotFather" in lines[0] and ".env" in lines[0]


def test_bad_configuration_lists_every_problem(tmp_path: Path) -> None:
    result = run_cli(
        cwd=tmp_path, env={"BOT_TOKEN": TOKEN, "POST_TIME": "9am", "TIMEZONE": "Nowhere"}
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "POST_TIME" in result.stderr and "TIMEZONE" in result.stderr


def test_invalid_bank_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("topic: T\nquestions:\n  - id: X\n")
    result = run_cli(cwd=tmp_path, env={"BOT_TOKEN": TOKEN, "CONTENT_DIR": str(tmp_path)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "bad.yaml:3:" in result.stderr


def test_preview_needs_no_token_and_no_network(tmp_path: Path) -> None:
    result = run_cli(
        "preview",
        "conc-gil-what",
        cwd=tmp_path,
        env={"CONTENT_DIR": str(CONTENT), "TELEGRAM_API_URL": "http://127.0.0.1:9/bot"},
    )
    assert result.returncode == 0, result.stderr
    assert "❔ Interview Question" in result.stdout and "━━━━━━━━━━━━━━━" in result.stdout
    result = run_cli("preview", cwd=tmp_path, env={"CONTENT_DIR": str(CONTENT)})
    assert result.returncode == 0 and "Answer: <tg-spoiler>" in result.stdout
    assert not (tmp_path / "data").exists()  # preview writes nothing


def test_validate(tmp_path: Path) -> None:
    result = run_cli("validate", str(CONTENT))
    assert result.returncode == 0 and "valid" in result.stdout
    (tmp_path / "a.yaml").write_text(
        "topic: T\nquestions:\n  - id: ok\n    question: yes\n    answer: A\n"
    )
    result = run_cli("validate", str(tmp_path))
    assert result.returncode == 1
    assert (
        f"{tmp_path / 'a.yaml'}:4: question must be text, but YAML read a boolean" in result.stdout
    )


async def test_real_process_serves_then_stops_cleanly_on_sigterm(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "DEBUG"}
    proc = await start_bot(env, tmp_path)
    try:
        fake_api.send_text(ALICE, "/start")
        await fake_api.wait_for(
            "sendMessage", lambda c: c.params["chat_id"] == ALICE.id, timeout=30
        )
        if not pg.SELECTED:  # `backup` copies a SQLite file (PostgreSQL has pg_dump)
            backup = run_cli(
                "backup",
                str(tmp_path / "backup.sqlite3"),
                env={"DATABASE_PATH": env["DATABASE_PATH"]},
            )
            assert backup.returncode == 0, backup.stderr
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    log = stderr.decode()
    assert TOKEN not in log and TOKEN.split(":")[1] not in log  # never the token
    assert "database closed" in log
    assert await integrity_ok(env["DATABASE_PATH"])
    assert await query(env["DATABASE_PATH"], "SELECT COUNT(*) FROM users") == [(1,)]
    if pg.SELECTED:
        return
    copy = sqlite3.connect(tmp_path / "backup.sqlite3")
    try:
        assert copy.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 1
    finally:
        copy.close()


async def test_rejected_token_is_one_sentence(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT), "BOT_TOKEN": "999:WRONG"}
    proc = await start_bot(env, tmp_path)
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    text = stderr.decode()
    assert "Traceback" not in text and "rejected BOT_TOKEN" in text
    assert "WRONG" not in text
