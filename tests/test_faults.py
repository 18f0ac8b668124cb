"""Fault tests on the fake API: flood answers, 5xx, dropped connections, bad updates,
a locked or full database, and SIGKILL in the middle of a burst."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.runtime.request import NotSent, RetryingRequest
from tests.conftest import ADMIN, ALICE, ROOT, Harness
from tests.fakes import FakeBotApi, FakeUser
from tests.helpers import (
    answer_buttons,
    answered,
    integrity_ok,
    next_question,
    press_answer,
    query,
    settled,
    start_bot,
)

pytestmark = pytest.mark.e2e


def not_rejected(fake: FakeBotApi) -> list[str]:
    return [f"{c.method}: {c.error}" for c in fake.rejected if c.method != "setMyCommands"]


@pytest.mark.parametrize("method", ["sendMessage", "editMessageText", "answerCallbackQuery"])
@pytest.mark.parametrize("status", [429, 500, 502, 0])
async def test_quiz_survives_faults_on_each_method(bot: Harness, method: str, status: int) -> None:
    fake = bot.fake
    fake.fail(method, status, retry_after=1)
    fake.send_text(ALICE, "/quiz 1")
    question = await next_question(bot, ALICE.id, 1)
    query = await press_answer(bot, ALICE, question, right=True)
    if method != "answerCallbackQuery" or status == 429:
        await fake.wait_until(lambda: query in fake.answered_queries, timeout=20)
    # else: an answer whose outcome is unknown is not repeated (it may have landed; a second
    # would be refused); the quiz goes on all the same.
    summary = await fake.wait_for(
        "sendMessage", lambda c: "1/1 right" in c.params["text"], timeout=20
    )
    assert summary.status == 200
    await settled(bot)
    delivered = [c.params["text"] for c in fake.sent_to(ALICE.id) if c.status == 200]
    assert len([t for t in delivered if "Question 1/1" in t]) == 1  # asked once
    assert len([t for t in delivered if "1/1 right" in t]) == 1  # summed up once
    assert len(fake.messages_in(ALICE.id)) == 2
    assert await bot.data.store.stats.score(ALICE.id) == (
        {"easy": 1, "medium": 2, "hard": 3}[
            bot.data.bank.questions[
                (await bot.data.store.answers.seen_questions(ALICE.id)).pop()
            ].difficulty
        ],
        1,
        1,
    )
    assert "✅ <b>Right!</b>" in question.text  # the feedback edit landed
    assert not_rejected(fake) == []


async def test_connection_refused_is_retried_then_reported() -> None:
    request = RetryingRequest(retries=2, backoff=0.01)
    await request.initialize()
    try:
        with pytest.raises(NotSent):
            await request.do_request("http://127.0.0.1:9/bot1:x/getMe", "POST")
    finally:
        await request.shutdown()


async def test_malformed_and_unexpected_updates_do_not_crash(bot: Harness) -> None:
    fake = bot.fake
    chat = fake.private_chat(ALICE)
    weird: list[dict[str, Any]] = [
        {
            "channel_post": {
                "message_id": 1,
                "date": 0,
                "chat": fake.channel.as_dict(),
                "text": "/quiz",
            }
        },
        {
            "edited_message": {
                "message_id": 1,
                "date": 0,
                "chat": chat.as_dict(),
                "from": ALICE.as_dict(),
                "text": "/quiz",
                "edit_date": 1,
            }
        },
        {"message": {"message_id": 2, "date": 0, "chat": chat.as_dict(), "text": "/score"}},
        {
            "message": {
                "message_id": 3,
                "date": 0,
                "chat": chat.as_dict(),
                "from": ALICE.as_dict(),
                "sticker": {
                    "file_id": "x",
                    "file_unique_id": "y",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                },
            }
        },
        {
            "callback_query": {
                "id": "77",
                "from": ALICE.as_dict(),
                "chat_instance": "1",
                "data": "a1:1:0",
            }
        },
        {
            "callback_query": {
                "id": "78",
                "from": ALICE.as_dict(),
                "chat_instance": "1",
                "data": "💥" * 30,
            }
        },
        {"callback_query": {"id": "79", "from": ALICE.as_dict(), "chat_instance": "1"}},
        {
            "my_chat_member": {
                "chat": chat.as_dict(),
                "from": ALICE.as_dict(),
                "date": 0,
                "old_chat_member": {"status": "member", "user": ALICE.as_dict()},
                "new_chat_member": {"status": "kicked", "user": ALICE.as_dict(), "until_date": 0},
            }
        },
        {"inline_query": {"id": "5", "from": ALICE.as_dict(), "query": "x", "offset": ""}},
    ]
    for payload in weird:
        fake.push_raw(payload)
    fake.send_text(ALICE, "/quiz " + "x" * 50_000)
    fake.send_text(ALICE, "/timezone " + "<b>" * 3000)
    fake.send_text(ALICE, "hello " * 1000)
    fake.send_text(ALICE, "/start")
    await fake.wait_for("sendMessage", lambda c: "Python interview practice" in c.params["text"])
    await fake.wait_until(lambda: {"77", "78"} <= fake.answered_queries)
    assert not_rejected(fake) == []
    assert not [
        m for m in fake.messages_in(ALICE.id) if "Question 1/" in m.text
    ]  # no quiz from the edit


@pytest.mark.sqlite_only
async def test_locked_database_is_reported_and_recovers(harness: Harness) -> None:
    await harness.start(db_busy_timeout=0.3)
    fake = harness.fake
    fake.send_text(ALICE, "/quiz 2")
    question = await next_question(harness, ALICE.id, 1)
    locker = sqlite3.connect(harness.settings.database_path, timeout=5)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        first = await press_answer(harness, ALICE, question, right=True)
        reply = await answered(harness, first)
        assert "did not go through" in reply["text"]
    finally:
        locker.rollback()
        locker.close()
    second = await press_answer(harness, ALICE, question, right=True)
    assert "Right" in (await answered(harness, second)).get("text", "")
    await next_question(harness, ALICE.id, 2)
    assert (await harness.data.store.stats.score(ALICE.id))[1:] == (1, 1)


@pytest.mark.sqlite_only
async def test_unwritable_database_is_reported_and_recovers(bot: Harness) -> None:
    """Writes failing outright (as on a full disk; here SQLite's query_only switch, which fails
    every write the same way, deterministically): the press is not acknowledged, nothing is
    half-written, and the bot works again once writes succeed."""
    fake = bot.fake
    fake.send_text(ALICE, "/quiz 2")
    question = await next_question(bot, ALICE.id, 1)
    db = bot.data.store.database._db
    await db.execute("PRAGMA query_only = ON")
    first = await press_answer(bot, ALICE, question, right=True)
    assert "did not go through" in (await answered(bot, first)).get("text", "")
    await db.execute("PRAGMA query_only = OFF")
    assert (await bot.data.store.stats.score(ALICE.id))[1] == 0  # nothing half-written
    second = await press_answer(bot, ALICE, question, right=True)
    assert "Right" in (await answered(bot, second)).get("text", "")
    assert (await bot.data.store.stats.score(ALICE.id))[1:] == (1, 1)
    await next_question(bot, ALICE.id, 2)


async def test_sigkill_mid_burst_loses_no_acknowledged_answer(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT)}
    db_path = env["DATABASE_PATH"]

    proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
    try:
        fake_api.send_text(ADMIN, "/post_now conc-gil-what")
        await fake_api.wait_until(lambda: len(fake_api.channel_posts()) == 1, timeout=30)
        post = fake_api.channel_posts()[0]
        data = answer_buttons(post)[0]["callback_data"]
        readers = [FakeUser(100_000 + i, f"R{i}") for i in range(400)]
        query_user = {fake_api.press(r, post, data): r.id for r in readers}
        await fake_api.wait_until(
            lambda: len(fake_api.answered_queries & set(query_user)) >= 60, timeout=30
        )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        acknowledged = {query_user[q] for q in fake_api.answered_queries & set(query_user)}
        assert await integrity_ok(db_path)
        rows = await query(db_path, "SELECT user_id FROM answers WHERE source = 'channel'")
        recorded = [r[0] for r in rows]
        assert acknowledged <= set(recorded)  # every acknowledged answer survived the kill
        assert len(recorded) == len(set(recorded))  # none twice
        # Updates fetched but not yet handled died with the process (Telegram forgets updates
        # once getUpdates moved past them), so those readers see no answer and press again.
        proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
        again = {fake_api.press(r, post, data) for r in readers}
        await fake_api.wait_until(lambda: again <= fake_api.answered_queries, timeout=60)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    rows = await query(db_path, "SELECT user_id FROM answers WHERE source = 'channel'")
    assert sorted(r[0] for r in rows) == sorted(r.id for r in readers)
