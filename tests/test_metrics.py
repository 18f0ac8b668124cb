"""METRICS_PORT: /healthz and /metrics (CONTRACT §10), on the real Application."""

from __future__ import annotations

import re

import aiohttp
import pytest

from bot.config import ConfigError, Settings
from tests.conftest import ADMIN, Harness
from tests.fakes import FakeUser
from tests.helpers import answer_buttons, answered


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(trust_env=False) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as res,
    ):
        return res.status, await res.text()


def _value(text: str, name: str, labels: str = "") -> float:
    """A sample's value in Prometheus text (0 when absent)."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_healthz_and_metrics_count_what_happens(harness: Harness) -> None:
    await harness.start(metrics_port=0)
    port = harness.data.metrics_port
    assert port
    status, body = await _get(port, "/healthz")
    assert (status, body) == (200, "ok\n")
    _, before = await _get(port, "/metrics")

    harness.fake.send_text(ADMIN, "/post_now conc-gil-what")
    await harness.fake.wait_until(lambda: bool(harness.fake.channel_posts()), timeout=20)
    post = harness.fake.channel_posts()[0]
    buttons = answer_buttons(post)
    for i in range(3):
        await answered(
            harness,
            harness.fake.press(FakeUser(8100 + i, f"M{i}"), post, buttons[0]["callback_data"]),
        )
    sent = len(harness.fake.sent_to(ADMIN.id))
    harness.fake.fail("sendMessage", 429, retry_after=1)
    harness.fake.send_text(ADMIN, "/help")  # refused once with 429, then sent
    await harness.fake.wait_until(lambda: len(harness.fake.sent_to(ADMIN.id)) > sent, 20)

    status, after = await _get(port, "/metrics")
    assert status == 200
    assert "# TYPE bot_updates_received_total counter" in after
    grew = {
        name: _value(after, name, labels) - _value(before, name, labels)
        for name, labels in [
            ("bot_updates_received_total", ""),
            ("bot_presses_answered_total", ""),
            ("bot_press_latency_seconds_count", ""),
            ("bot_api_calls_total", 'method="answerCallbackQuery",outcome="ok"'),
            ("bot_api_calls_total", 'method="sendMessage",outcome="429"'),
            ("bot_api_flood_waits_total", ""),
        ]
    }
    assert grew == {
        "bot_updates_received_total": grew["bot_updates_received_total"],
        "bot_presses_answered_total": 3,
        "bot_press_latency_seconds_count": 3,
        "bot_api_calls_total": grew["bot_api_calls_total"],
        "bot_api_flood_waits_total": 1,
    }
    assert grew["bot_updates_received_total"] >= 5  # two commands, three presses
    assert _value(after, "bot_api_calls_total", 'method="sendMessage",outcome="429"') >= 1
    assert re.search(r"^bot_update_backlog \d", after, re.MULTILINE)
    assert "bot_database_errors_total" in after


async def test_healthz_is_503_when_the_database_does_not_answer(harness: Harness) -> None:
    await harness.start(metrics_port=0)
    port = harness.data.metrics_port
    assert port
    assert (await _get(port, "/healthz"))[0] == 200
    store = harness.data.store
    await store.database.close()  # the database goes away under the running bot
    status, body = await _get(port, "/healthz")
    assert status == 503 and "database" in body
    harness.data.store_ = None  # closed already: the harness's stop must not close it again


def test_metrics_settings_are_checked() -> None:
    env = {"BOT_TOKEN": "1:x", "METRICS_PORT": "9100", "METRICS_LISTEN": "10.0.0.5"}
    settings = Settings.from_env(env, dotenv=None)
    assert (settings.metrics_port, settings.metrics_listen) == (9100, "10.0.0.5")
    assert Settings.from_env({"BOT_TOKEN": "1:x"}, dotenv=None).metrics_port is None
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"BOT_TOKEN": "1:x", "METRICS_PORT": "http"}, dotenv=None)
    assert caught.value.problems == ["METRICS_PORT must be a number from 1 to 65535, not 'http'."]
