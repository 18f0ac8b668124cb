"""End to end: the real Application over HTTP against the fake Bot API."""

from __future__ import annotations

import pytest

from tests.conftest import ALICE, Harness

pytestmark = pytest.mark.e2e


async def test_start_and_help_replies(bot: Harness) -> None:
    fake = bot.fake
    fake.send_text(ALICE, "/start")
    call = await fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
    assert "Python interview practice" in call.params["text"]
    fake.send_text(ALICE, "/help")
    call = await fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id, count=2)
    assert "/quiz" in call.params["text"]
    assert "/post_now" not in call.params["text"]  # admin commands only for admins
    assert not [c for c in fake.rejected if c.method == "sendMessage"]


async def test_admin_menu_failure_is_logged_not_fatal(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # The admin never opened the bot: Telegram answers "chat not found" to a per-chat menu.
    rejected = await bot.fake.wait_for("setMyCommands", lambda c: c.status == 400)
    assert rejected.params["scope"]["type"] == "chat"
    logged = [r.getMessage() for r in caplog.get_records("setup")]  # the bot started in setup
    assert any("could not set the admin menu" in m for m in logged)
    bot.fake.send_text(ALICE, "/start")  # and the bot still serves users
    await bot.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)


async def test_commands_registered_on_start(bot: Harness) -> None:
    call = await bot.fake.wait_for("setMyCommands")
    names = [c["command"] for c in call.params["commands"]]
    assert {"quiz", "score", "leaderboard", "forget"} <= set(names)
