"""Webhook mode (CONTRACT §9): the real bot takes updates as HTTP POSTs, and only real ones.

Each test starts the real Application with ``bot.runtime.webhook.run_webhook`` (or the real
``python -m bot`` process) against the fake Bot API, and POSTs to it over HTTP as Telegram would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import resource
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import build_application
from bot.config import ConfigError, Settings
from bot.core.models import QuestionBank
from bot.handlers import ALLOWED_UPDATES
from bot.runtime import webhook
from bot.runtime.webhook import MAX_BODY, SECRET_HEADER, run_webhook
from bot.state.replies import InReplyAnswers
from tests.conftest import ALICE, BOB, ROOT, TOKEN
from tests.fakes import SECRET_TOKEN_RE, Call, FakeBotApi, FakeUser, StoredMessage
from tests.helpers import answer_buttons, start_bot

pytestmark = pytest.mark.e2e

URL = "https://example.com/tg/x7q"
PATH = "/tg/x7q"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hook:
    """A bot running in webhook mode, and a client that POSTs to it."""

    fake: FakeBotApi
    port: int
    secret: str
    http: aiohttp.ClientSession

    def url(self, path: str = PATH) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def post(
        self,
        body: bytes | dict[str, Any] | list[Any],
        *,
        secret: str | None = "right",
        path: str = PATH,
    ) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = self.secret if secret == "right" else secret
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        # A stream: aiohttp warns about big raw bytes bodies (the "huge" case).
        stream = io.BytesIO(data)
        async with self.http.post(self.url(path), data=stream, headers=headers) as response:
            await response.read()
            return response.status

    async def post_for_reply(self, update: dict[str, Any]) -> tuple[int, bytes]:
        """POST as Telegram does, and do what the response body asks, as Telegram does."""
        headers = {"Content-Type": "application/json", SECRET_HEADER: self.secret}
        async with self.http.post(self.url(), json=update, headers=headers) as response:
            body = await response.read()
        self.fake.webhook_reply(body)
        return response.status, body

    async def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = self.fake.new_update(payload)
        assert await self.post(update) == 200
        return update


@pytest.fixture
async def hook(
    fake_api: FakeBotApi, settings: Settings, real_bank: QuestionBank
) -> AsyncIterator[Hook]:
    async for running in _hook(fake_api, settings, real_bank):
        yield running


@pytest.fixture
async def hook_in_reply(
    fake_api: FakeBotApi, settings: Settings, real_bank: QuestionBank
) -> AsyncIterator[Hook]:
    """The same, with WEBHOOK_ANSWER_IN_REPLY=on."""
    settings = dataclasses.replace(settings, webhook_answer_in_reply=True)
    async for running in _hook(fake_api, settings, real_bank):
        yield running


# The contract's 10 s header timeout and 75 s idle timeout, scaled down so that a test shows
# them in about a second: the code path is the same, only the two numbers differ.
SCALED_HEADER_TIMEOUT = 0.5
SCALED_IDLE_TIMEOUT = 1.5


@pytest.fixture
async def hook_scaled(
    fake_api: FakeBotApi,
    settings: Settings,
    real_bank: QuestionBank,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Hook]:
    """The same, with the port's timeouts scaled down (read when the server starts)."""
    monkeypatch.setattr(webhook, "HEADER_TIMEOUT", SCALED_HEADER_TIMEOUT)
    monkeypatch.setattr(webhook, "IDLE_TIMEOUT", SCALED_IDLE_TIMEOUT)
    async for running in _hook(fake_api, settings, real_bank):
        yield running


async def _hook(
    fake_api: FakeBotApi, settings: Settings, real_bank: QuestionBank
) -> AsyncIterator[Hook]:
    port = free_port()
    settings = dataclasses.replace(
        settings, webhook_url=URL, webhook_listen="127.0.0.1", port=port
    )
    app = build_application(settings, real_bank)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_webhook(app, settings, ALLOWED_UPDATES, stop=stop, stop_signals=())
    )
    call = await fake_api.wait_for("setWebhook")
    async with aiohttp.ClientSession() as http:
        yield Hook(fake_api, port, call.params["secret_token"], http)
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(502, id="bad-gateway"),
        pytest.param(504, id="gateway-timeout"),
        pytest.param(0, id="connection-dropped"),
    ],
)
async def test_a_transient_set_webhook_failure_is_retried_not_fatal(
    fake_api: FakeBotApi, settings: Settings, real_bank: QuestionBank, status: int
) -> None:
    fake_api.fail("setWebhook", status)
    async for hook in _hook(fake_api, settings, real_bank):
        await fake_api.wait_for("setWebhook", lambda c: c.status == 200)
        assert [c.status for c in fake_api.calls_to("setWebhook")] == [status or 599, 200]
        assert fake_api.webhook is not None and fake_api.webhook["url"] == URL
        await hook.send(fake_api.text_payload(ALICE, "/help"))
        await fake_api.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)


async def test_a_stop_signal_while_set_webhook_is_retried_ends_the_run(
    fake_api: FakeBotApi, settings: Settings, real_bank: QuestionBank
) -> None:
    fake_api.fail("setWebhook", 502, times=1000)
    settings = dataclasses.replace(
        settings, webhook_url=URL, webhook_listen="127.0.0.1", port=free_port()
    )
    stop = asyncio.Event()
    app = build_application(settings, real_bank)
    task = asyncio.create_task(
        run_webhook(app, settings, ALLOWED_UPDATES, stop=stop, stop_signals=())
    )
    await fake_api.wait_for("setWebhook", count=2)  # failed, and retried
    stop.set()
    await asyncio.wait_for(task, 10)  # returns (no error) without a successful setWebhook
    assert not app.running and fake_api.webhook is None


async def test_a_refused_set_webhook_stops_the_start_in_one_sentence(
    fake_api: FakeBotApi,
    settings: Settings,
    real_bank: QuestionBank,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refusal = "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
    monkeypatch.setattr(fake_api, "_m_setWebhook", lambda params: (400, refusal))
    settings = dataclasses.replace(
        settings, webhook_url=URL, webhook_listen="127.0.0.1", port=free_port()
    )
    app = build_application(settings, real_bank)
    run = run_webhook(app, settings, ALLOWED_UPDATES, stop=asyncio.Event(), stop_signals=())
    with pytest.raises(ConfigError) as caught:
        await asyncio.wait_for(run, 10)
    [problem] = caught.value.problems
    assert problem.startswith(f"Telegram refused WEBHOOK_URL {URL}: ")
    assert "failed to resolve host" in problem.lower()
    assert len(fake_api.calls_to("setWebhook")) == 1  # not retried


def replies_to(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [c.params["text"] for c in fake.sent_to(chat_id) if c.status == 200]


async def test_set_webhook_with_a_generated_secret_and_only_handled_updates(hook: Hook) -> None:
    call = hook.fake.calls_to("setWebhook")[0]
    assert call.params["url"] == URL
    assert SECRET_TOKEN_RE.fullmatch(hook.secret) and len(hook.secret) >= 32
    assert call.params["allowed_updates"] == list(ALLOWED_UPDATES)
    assert not hook.fake.calls_to("getUpdates")  # no long polling beside the webhook


async def test_an_update_with_the_secret_is_answered_and_a_press_goes_through_the_door(
    hook: Hook,
) -> None:
    fake = hook.fake
    await hook.send(fake.text_payload(ALICE, "/quiz 1"))
    await fake.wait_until(lambda: any(answer_buttons(m) for m in fake.messages_in(ALICE.id)))
    question = next(m for m in fake.messages_in(ALICE.id) if answer_buttons(m))
    query_id = "777"
    press = {
        "callback_query": {
            "id": query_id,
            "from": ALICE.as_dict(),
            "chat_instance": str(ALICE.id),
            "message": question.as_dict(),
            "data": answer_buttons(question)[0]["callback_data"],
        }
    }
    await hook.send(press)
    call = await fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params["callback_query_id"]) == query_id
    )
    assert call.params.get("text")  # right or wrong, with the explanation


def press_on(question: StoredMessage, user: FakeUser, query_id: str) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": query_id,
            "from": user.as_dict(),
            "chat_instance": str(user.id),
            "message": question.as_dict(),
            "data": answer_buttons(question)[0]["callback_data"],
        }
    }


async def open_question(hook: Hook, user: FakeUser) -> StoredMessage:
    fake = hook.fake
    await hook.send(fake.text_payload(user, "/quiz 2"))
    await fake.wait_until(lambda: any(answer_buttons(m) for m in fake.messages_in(user.id)))
    return next(m for m in fake.messages_in(user.id) if answer_buttons(m))


async def test_with_answer_in_reply_a_press_is_answered_inside_the_webhook_response(
    hook_in_reply: Hook,
) -> None:
    hook, fake = hook_in_reply, hook_in_reply.fake
    question = await open_question(hook, ALICE)
    status, body = await hook.post_for_reply(fake.new_update(press_on(question, ALICE, "901")))
    reply = json.loads(body)
    assert status == 200 and reply["method"] == "answerCallbackQuery"
    assert reply["callback_query_id"] == "901" and reply["text"]  # right or wrong, and why
    assert "901" in fake.answered_queries  # what Telegram did with it
    assert [c.status for c in fake.calls_to("answerCallbackQuery")] == [200]  # no request
    await fake.wait_until(lambda: "Question 2/2" in fake.messages_in(ALICE.id)[-1].text)


async def test_with_answer_in_reply_a_lost_response_is_answered_on_redelivery(
    hook_in_reply: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response carrying the press's answer never reaches Telegram, so Telegram performs
    nothing and delivers the update again: the bot acts once, and the answer still comes.
    (The response's wait is stretched from 0.25 s so that a loaded machine cannot turn the
    first answer into a request, which would leave nothing to lose.)"""
    monkeypatch.setattr(webhook, "IN_REPLY_WAIT", 5.0)
    hook, fake = hook_in_reply, hook_in_reply.fake
    question = await open_question(hook, ALICE)
    update = fake.new_update(press_on(question, ALICE, "905"))
    headers = {"Content-Type": "application/json", SECRET_HEADER: hook.secret}
    async with hook.http.post(hook.url(), json=update, headers=headers) as response:
        lost = await response.read()  # lost on the way back: Telegram never sees it
    assert json.loads(lost)["method"] == "answerCallbackQuery"
    assert "905" not in fake.answered_queries
    status, body = await hook.post_for_reply(update)  # Telegram's redelivery
    assert status == 200 and json.loads(body) == json.loads(lost)
    assert "905" in fake.answered_queries
    # Graded once: one next question, not two.
    await fake.wait_until(lambda: "Question 2/2" in fake.messages_in(ALICE.id)[-1].text)
    await hook.send(fake.text_payload(ALICE, "/help"))
    await fake.wait_for("sendMessage", lambda c: "/quiz" in c.params["text"])
    assert sum("Question 2/2" in m.text for m in fake.messages_in(ALICE.id)) == 1


async def test_with_answer_in_reply_a_slow_press_is_answered_by_a_request_instead(
    hook_in_reply: Hook,
) -> None:
    """Alice's earlier /score is stuck on its send, so her press waits its turn past the
    response's wait: the response goes back empty, and the answer comes as a request."""
    hook, fake = hook_in_reply, hook_in_reply.fake
    question = await open_question(hook, ALICE)
    gate = fake.hold("sendMessage")
    await hook.send(fake.text_payload(ALICE, "/score"))
    await fake.wait_until(lambda: "sendMessage" in fake.held)  # its reply is stuck
    status, body = await hook.post_for_reply(fake.new_update(press_on(question, ALICE, "902")))
    assert (status, body) == (200, b"")
    assert "902" not in fake.answered_queries
    gate.set()
    call = await fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params["callback_query_id"]) == "902"
    )
    assert call.status == 200 and call.params.get("text")
    assert len(fake.calls_to("answerCallbackQuery")) == 1  # answered once, not twice
    # Presses were queueing, so for a second responses are not held: the next press (a
    # fast one) is answered by a request too.
    await fake.wait_until(
        lambda: any("Question 2/2" in m.text for m in fake.messages_in(ALICE.id))
    )
    second = next(m for m in fake.messages_in(ALICE.id) if "Question 2/2" in m.text)
    status, body = await hook.post_for_reply(fake.new_update(press_on(second, ALICE, "904")))
    assert (status, body) == (200, b"")
    await fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params["callback_query_id"]) == "904"
    )


async def test_without_answer_in_reply_the_response_is_empty(hook: Hook) -> None:
    question = await open_question(hook, BOB)
    status, body = await hook.post_for_reply(hook.fake.new_update(press_on(question, BOB, "903")))
    assert (status, body) == (200, b"")
    await hook.fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params["callback_query_id"]) == "903"
    )


@pytest.mark.parametrize("secret", [None, "", "wrong", "x" * 300])
async def test_a_request_without_the_right_secret_is_refused_and_changes_nothing(
    hook: Hook, secret: str | None
) -> None:
    update = hook.fake.new_update(hook.fake.text_payload(ALICE, "/start"))
    assert await hook.post(update, secret=secret) == 403
    # Then a real one from the same user: one user's updates run in order, so had the refused
    # one been taken, its reply would come first.
    await hook.send(hook.fake.text_payload(ALICE, "/help"))
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
    texts = replies_to(hook.fake, ALICE.id)
    assert len(texts) == 1 and "/quiz" in texts[0] and "Python interview practice" not in texts[0]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json {", id="garbage"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"null", id="null"),
        pytest.param(b"42", id="number"),
        pytest.param([{"update_id": 5, "message": {}}], id="array"),
        pytest.param({"message": {"text": "/start"}}, id="no-update-id"),
        pytest.param({"update_id": "5"}, id="update-id-string"),
        pytest.param({"update_id": True}, id="update-id-bool"),
        pytest.param({"update_id": 5, "message": "nonsense"}, id="message-not-an-object"),
        pytest.param({"update_id": 5, "message": {"text": "/start"}}, id="message-missing-fields"),
        pytest.param(b"{" + b'"a":1,' * (MAX_BODY // 6) + b'"update_id":1}', id="huge"),
        # json.loads recurses once per level: past Python's recursion limit it raises
        # RecursionError, which is not a ValueError.
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
        pytest.param(
            b'{"update_id": 1, "message": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001,
            id="deeply-nested-update",
        ),
    ],
)
async def test_a_body_that_is_not_an_update_is_a_4xx_never_a_500(
    hook: Hook, body: bytes | dict[str, Any] | list[Any]
) -> None:
    status = await hook.post(body)
    assert 400 <= status < 500
    await hook.send(hook.fake.text_payload(ALICE, "/help"))  # the server still works
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
    assert len(replies_to(hook.fake, ALICE.id)) == 1


async def raw_exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` as raw bytes (a header a client library would refuse to send) and
    return the server's status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("value", [b"\xff\xfe", b"caf\xc3", "caf\u00e9".encode()])
async def test_a_secret_header_that_is_not_ascii_is_403_not_500(hook: Hook, value: bytes) -> None:
    body = json.dumps(hook.fake.new_update(hook.fake.text_payload(ALICE, "/start"))).encode()
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + SECRET_HEADER.encode()
        + b": "
        + value
        + b"\r\n\r\n"
        + body
    )
    status_line = await raw_exchange(hook.port, request)
    assert status_line.split()[1] == b"403", status_line
    await hook.send(hook.fake.text_payload(ALICE, "/help"))  # nothing was taken
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
    texts = replies_to(hook.fake, ALICE.id)
    assert len(texts) == 1 and "Python interview practice" not in texts[0]


async def test_unknown_path_is_404_and_other_methods_are_refused(hook: Hook) -> None:
    update = hook.fake.new_update(hook.fake.text_payload(ALICE, "/start"))
    assert await hook.post(update, path="/tg/other") == 404
    assert await hook.post(update, path="/") == 404
    async with hook.http.get(hook.url(), headers={SECRET_HEADER: hook.secret}) as response:
        assert response.status == 405


async def test_a_redelivered_update_is_acted_on_once(hook: Hook) -> None:
    update = await hook.send(hook.fake.text_payload(BOB, "/start"))
    assert await hook.post(update) == 200  # Telegram repeats when our 200 was lost
    await hook.send(hook.fake.text_payload(BOB, "/help"))
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == BOB.id, count=2)
    assert len(replies_to(hook.fake, BOB.id)) == 2  # /start once, then /help


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WEBHOOK_URL", "http://example.com/tg/x7q"),  # not https
        ("WEBHOOK_URL", "https://example.com"),  # no path
        ("WEBHOOK_URL", "https://example.com/"),
        ("WEBHOOK_URL", "https:///tg/x7q"),  # no host
        ("WEBHOOK_URL", "https://[::1/tg"),  # unparsable
        # Paths the server would not match as Telegram sends them: aiohttp matches the
        # decoded path (these got 404 for every update), reads {x} as a route variable, and
        # "." segments and "//" are normalised on the way.
        ("WEBHOOK_URL", "https://example.com/tg/a%20b"),
        ("WEBHOOK_URL", "https://example.com/tg/caf%C3%A9"),
        ("WEBHOOK_URL", "https://example.com/tg/café"),
        ("WEBHOOK_URL", "https://example.com/tg/{x}"),
        ("WEBHOOK_URL", "https://example.com/tg/a b"),
        ("WEBHOOK_URL", "https://example.com/tg/../x"),
        ("WEBHOOK_URL", "https://example.com/tg/./x"),
        ("WEBHOOK_URL", "https://example.com/tg//x"),
        ("WEBHOOK_URL", "https://example.com/tg/a;b=c"),
        ("WEBHOOK_SECRET", "has space"),
        ("WEBHOOK_SECRET", "x" * 257),
        ("WEBHOOK_SECRET", "ünïcode"),
        ("PORT", "0"),
        ("PORT", "65536"),
        ("PORT", "80a"),
        ("PORT", "-1"),
        ("WEBHOOK_LISTEN", "0.0.0.0; rm"),
    ],
)
def test_bad_webhook_configuration_is_reported_with_the_others(variable: str, value: str) -> None:
    env = {"BOT_TOKEN": TOKEN, "WEBHOOK_URL": URL, variable: value, "POST_TIME": "9am"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    problems = caught.value.problems
    assert len(problems) == 2  # gathered with POST_TIME's, one sentence each
    assert any(p.startswith(variable) for p in problems)


def test_webhook_configuration_defaults_and_path() -> None:
    s = Settings.from_env({"BOT_TOKEN": TOKEN})
    assert (s.webhook_url, s.webhook_listen, s.port) == (None, "0.0.0.0", 8443)  # noqa: S104
    s = Settings.from_env(
        {
            "BOT_TOKEN": TOKEN,
            "WEBHOOK_URL": URL + "?a=1",
            "PORT": "8080",
            "WEBHOOK_SECRET": "a-Z_9",
        }
    )
    assert (s.webhook_path, s.port, s.webhook_secret) == (PATH, 8080, "a-Z_9")
    assert "a-Z_9" not in repr(s)
    for path in ("/tg/x7q/", "/a.b~c_d-e/F9", "/.well-known-ish/..x"):
        s = Settings.from_env({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://e.com" + path})
        assert s.webhook_path == path


async def test_a_webhook_path_that_would_never_match_is_refused_at_start_in_one_sentence(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **env_for_subprocess,
        "PYTHONPATH": str(ROOT),
        "WEBHOOK_URL": "https://example.com/tg/caf%C3%A9",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "PORT": str(free_port()),
    }
    proc = await start_bot(env, tmp_path)
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    text = stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in text
    assert "WEBHOOK_URL's path must be" in text and "'/tg/caf%C3%A9'" in text
    assert not fake_api.calls_to("setWebhook")


async def test_real_process_in_webhook_mode_finishes_in_flight_work_on_sigterm(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **env_for_subprocess,
        "PYTHONPATH": str(ROOT),
        "WEBHOOK_URL": URL,
        "WEBHOOK_SECRET": "operator-chosen_secret",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "PORT": str(port),
    }
    proc = await start_bot(env, tmp_path)
    try:
        call = await fake_api.wait_for("setWebhook", timeout=30)
        assert call.params["secret_token"] == "operator-chosen_secret"
        async with aiohttp.ClientSession() as http:
            hook = Hook(fake_api, port, "operator-chosen_secret", http)
            await hook.send(fake_api.text_payload(ALICE, "/start"))
            await fake_api.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
            # Taken (200), then SIGTERM at once: the update in flight is still answered.
            await hook.send(fake_api.text_payload(BOB, "/quiz 1"))
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, stderr = await asyncio.wait_for(proc.communicate(), 30)
            elapsed = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = stderr.decode()
    assert proc.returncode == 0, log
    assert elapsed < 10
    assert any(answer_buttons(m) for m in fake_api.messages_in(BOB.id))
    assert "operator-chosen_secret" not in log and TOKEN.split(":")[1] not in log
    assert "database closed" in log
    assert not fake_api.calls_to("getUpdates")


async def test_a_taken_port_is_one_sentence_not_a_traceback(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {
            **env_for_subprocess,
            "PYTHONPATH": str(ROOT),
            "WEBHOOK_URL": URL,
            "WEBHOOK_SECRET": "operator-chosen_secret",  # required on PostgreSQL
            "WEBHOOK_LISTEN": "127.0.0.1",
            "PORT": str(taken.getsockname()[1]),
        }
        proc = await start_bot(env, tmp_path)
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    text = stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in text
    assert "cannot listen" in text and "database closed" in text
    assert not fake_api.calls_to("setWebhook")


async def test_an_answer_offered_to_a_withdrawn_response_goes_by_request() -> None:
    """A response that gave up (timed out, or its handler was cancelled at shutdown) takes no
    answer, and withdrawing an older response for the same id leaves the newer one waiting."""
    slots = InReplyAnswers()
    gone = slots.offer("1")
    slots.withdraw("1", gone)
    assert not slots.take("1", "Right!", show_alert=False)  # answered by a request instead
    older, newer = slots.offer("2"), slots.offer("2")
    slots.withdraw("2", older)
    assert slots.take("2", "Right!", show_alert=True)
    assert newer.result() == {
        "method": "answerCallbackQuery",
        "callback_query_id": "2",
        "text": "Right!",
        "show_alert": True,
    }
    assert not slots.take("2", "again", show_alert=False)  # one answer per response


# ---------------------------------------------------------------- strangers on the port


async def until_closed(reader: asyncio.StreamReader, bound: float = 15.0) -> bytes:
    """Everything the server sends until it closes the connection (``bound``: a safety net
    for a server that never does)."""
    received = b""
    async with asyncio.timeout(bound):
        while True:
            try:
                chunk = await reader.read(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk


def raw_post(hook: Hook, update: dict[str, Any], *, secret: str | None = None) -> bytes:
    body = json.dumps(update).encode()
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{SECRET_HEADER}: {secret or hook.secret}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def test_a_connection_without_complete_headers_is_closed_after_the_header_timeout(
    hook_scaled: Hook,
) -> None:
    """One connection sends nothing, another trickles its headers a byte at a time (bytes keep
    coming, so an idle timer alone would never fire): both are closed at the header timeout."""
    hook = hook_scaled
    silent_reader, silent = await asyncio.open_connection("127.0.0.1", hook.port)
    slow_reader, slow = await asyncio.open_connection("127.0.0.1", hook.port)
    opened = time.monotonic()
    request = raw_post(hook, hook.fake.new_update(hook.fake.text_payload(ALICE, "/start")))

    async def trickle() -> int:
        sent = 0
        try:
            for byte in request:
                slow.write(bytes([byte]))
                await slow.drain()
                sent += 1
                await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        return sent

    trickling = asyncio.create_task(trickle())
    try:
        assert await until_closed(silent_reader) == b""
        assert await until_closed(slow_reader) == b""
        elapsed = time.monotonic() - opened
        sent = await trickling
    finally:
        silent.close()
        slow.close()
    assert elapsed >= SCALED_HEADER_TIMEOUT * 0.9
    assert sent < request.index(b"\r\n\r\n")  # cut off in the headers, still sending
    # The stranger changed nothing: Alice's first reply is to her own /help.
    await hook.send(hook.fake.text_payload(ALICE, "/help"))
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ALICE.id)
    texts = replies_to(hook.fake, ALICE.id)
    assert len(texts) == 1 and "Python interview practice" not in texts[0]


async def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(
    hook_scaled: Hook,
) -> None:
    """Telegram's own keep-alive connection: answered, then left idle. It outlives the header
    timeout (idle is not slow headers) and is closed at the idle timeout."""
    hook = hook_scaled
    reader, writer = await asyncio.open_connection("127.0.0.1", hook.port)
    try:
        update = hook.fake.new_update(hook.fake.text_payload(BOB, "/help"))
        writer.write(raw_post(hook, update))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        answered = time.monotonic()
        assert status_line.split()[1] == b"200"
        await until_closed(reader)
        idle = time.monotonic() - answered
    finally:
        writer.close()
    assert idle >= SCALED_IDLE_TIMEOUT * 0.9
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == BOB.id)


async def test_the_next_request_on_a_kept_connection_has_the_same_header_deadline(
    hook_scaled: Hook,
) -> None:
    """Answered once, the connection then trickles its next request's headers: closed at the
    header timeout after that first byte, well before the idle timeout."""
    hook = hook_scaled
    reader, writer = await asyncio.open_connection("127.0.0.1", hook.port)
    try:
        writer.write(raw_post(hook, hook.fake.new_update(hook.fake.text_payload(BOB, "/help"))))
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 10)).split()[1] == b"200"
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)  # the rest of the answer
        started = time.monotonic()
        for byte in b"POST /tg/x7q HTTP/1.1\r\nX-Slow: " + b"a" * 1000:
            writer.write(bytes([byte]))
            await writer.drain()
            if reader.at_eof():
                break
            await asyncio.sleep(0.05)
        await until_closed(reader)
        elapsed = time.monotonic() - started
    except ConnectionError:
        elapsed = time.monotonic() - started
    finally:
        writer.close()
    assert SCALED_HEADER_TIMEOUT * 0.9 <= elapsed < SCALED_IDLE_TIMEOUT


async def test_a_body_that_does_not_arrive_in_time_is_refused(hook_scaled: Hook) -> None:
    """Right secret, headers complete, then the body stalls: 408 at the header timeout, and
    the connection is not kept."""
    hook = hook_scaled
    request = raw_post(hook, hook.fake.new_update(hook.fake.text_payload(BOB, "/start")))
    reader, writer = await asyncio.open_connection("127.0.0.1", hook.port)
    try:
        writer.write(request[:-5])
        await writer.drain()
        started = time.monotonic()
        answer = await until_closed(reader)
        elapsed = time.monotonic() - started
    finally:
        writer.close()
    assert answer.split()[1] == b"408"
    assert elapsed >= SCALED_HEADER_TIMEOUT * 0.9
    await hook.send(hook.fake.text_payload(BOB, "/help"))  # the stalled /start changed nothing
    await hook.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == BOB.id)
    texts = replies_to(hook.fake, BOB.id)
    assert len(texts) == 1 and "Python interview practice" not in texts[0]


async def test_a_refused_request_does_not_keep_its_connection(hook: Hook) -> None:
    """A stranger's connection is closed after its 403 (or 404): only Telegram's stay open."""
    for request in (
        raw_post(hook, {"update_id": 1}, secret="wrong"),
        b"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", hook.port)
        try:
            writer.write(request)
            answer = await until_closed(reader, bound=10)
        finally:
            writer.close()
        assert answer.split()[1] in (b"403", b"404")


async def test_connections_over_the_cap_are_refused_at_once(
    settings: Settings, real_bank: QuestionBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every slot in the middle of a request (headers in, body still coming), a new
    connection gets a 503 at once instead of waiting for a slot. The cap is scaled down from
    MAX_CONNECTIONS (a thousand) to 3 so that the test holds three requests, not a thousand;
    the server is the real one, started on its own so that the test sees its guard."""
    monkeypatch.setattr(webhook, "MAX_CONNECTIONS", 3)
    app = build_application(settings, real_bank)
    server = webhook.WebhookServer(app, PATH, "s3cret")
    port = await server.start("127.0.0.1", 0)
    guard = server.guard
    assert guard is not None and guard.max_connections == 3
    body = b'{"update_id": 1}'
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{SECRET_HEADER}: s3cret\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    try:
        for _, writer in held:
            writer.write(head + body[:5])  # headers complete, the body not yet
            await writer.drain()
        await wait_for_condition(lambda: guard.busy_connections == 3)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            answer = await until_closed(reader, bound=5)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert (guard.refused, guard.replaced) == (1, 0)
        # The held requests were not disturbed: each finishes (an update, then redeliveries).
        for reader, writer in held:
            writer.write(body[5:])
            assert (await asyncio.wait_for(reader.readline(), 10)).split()[1] == b"200"
    finally:
        for _, writer in held:
            writer.close()
        await server.stop()


async def wait_for_condition(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition of the server's own state (no event to wait on there)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


class Stranger:
    """Hundreds of connections to the port: some idle, some trickling header bytes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, idle: int, trickling: int) -> None:
        for _ in range(idle):
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writers.append(writer)
        for _ in range(trickling):
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writers.append(writer)
            self.tasks.append(asyncio.create_task(self._trickle(writer)))

    async def _trickle(self, writer: asyncio.StreamWriter) -> None:
        head = f"POST {PATH} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode() + b"a" * 10_000
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.2)
        except ConnectionError:
            pass

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


async def telegram_posts(hook: Hook, users: list[FakeUser]) -> list[float]:
    """Telegram POSTs one update per user, each on a new connection (the case a full port
    would refuse); returns how long each POST took."""
    took = []
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http:
        fresh = Hook(hook.fake, hook.port, hook.secret, http)
        for user in users:
            started = time.monotonic()
            await fresh.send(hook.fake.text_payload(user, "/help"))
            took.append(time.monotonic() - started)
    return took


def chat_is(chat_id: int) -> Callable[[Call], bool]:
    return lambda call: call.params["chat_id"] == chat_id


STRANGER_USERS = [FakeUser(5000 + i, f"user{i}") for i in range(10)]


@pytest.mark.parametrize("cap", [64, None], ids=["over-the-cap", "default-cap"])
async def test_a_strangers_idle_and_trickling_connections_never_delay_telegram(
    fake_api: FakeBotApi,
    settings: Settings,
    real_bank: QuestionBank,
    monkeypatch: pytest.MonkeyPatch,
    cap: int | None,
) -> None:
    """200 idle and 50 trickling connections from a stranger, at the default cap and over a
    cap scaled down from a thousand to 64 (so that 250 connections overflow it): Telegram's
    POSTs, each on a new connection, are answered within a second, and every update is acted
    on."""
    if cap is not None:
        monkeypatch.setattr(webhook, "MAX_CONNECTIONS", cap)
    async for hook in _hook(fake_api, settings, real_bank):
        stranger = Stranger(hook.port)
        try:
            await stranger.open(idle=200, trickling=50)
            took = await telegram_posts(hook, STRANGER_USERS)
        finally:
            await stranger.close()
        assert max(took) < 1.0, took
        for user in STRANGER_USERS:
            await fake_api.wait_for("sendMessage", chat_is(user.id))


async def test_real_process_with_few_files_serves_telegram_past_a_strangers_connections(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    """The reported stall: ``python -m bot`` allowed 256 open files, a stranger holds 300 idle
    and 50 trickling connections. Telegram's POSTs are still answered within a second, and
    SIGTERM with the stranger still connected exits 0 within 10 s."""
    port = free_port()
    env = {
        **env_for_subprocess,
        "PYTHONPATH": str(ROOT),
        "WEBHOOK_URL": URL,
        "WEBHOOK_SECRET": "operator-chosen_secret",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "PORT": str(port),
    }

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=few_files,  # only setrlimit, before exec
    )
    stranger = Stranger(port)
    try:
        await fake_api.wait_for("setWebhook", timeout=30)
        await stranger.open(idle=300, trickling=50)
        async with aiohttp.ClientSession() as http:
            hook = Hook(fake_api, port, "operator-chosen_secret", http)
            took = await telegram_posts(hook, STRANGER_USERS[:5])
        for user in STRANGER_USERS[:5]:
            await fake_api.wait_for("sendMessage", chat_is(user.id))
        proc.send_signal(signal.SIGTERM)  # the stranger still connected
        started = time.monotonic()
        _, stderr = await asyncio.wait_for(proc.communicate(), 30)
        stopped_in = time.monotonic() - started
    finally:
        await stranger.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = stderr.decode()
    assert max(took) < 1.0, took
    assert proc.returncode == 0, log
    assert stopped_in < 10
    assert "Too many open files" not in log


async def test_at_the_cap_a_new_connection_replaces_a_waiting_one_then_the_longest_idle(
    settings: Settings, real_bank: QuestionBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cap 3 (scaled down from a thousand, as above): a stranger's connection still waiting
    for headers goes first; then the idle keep-alive connection used longest ago; a
    connection in the middle of a request is never touched."""
    monkeypatch.setattr(webhook, "MAX_CONNECTIONS", 3)
    app = build_application(settings, real_bank)
    server = webhook.WebhookServer(app, PATH, "s3cret")
    port = await server.start("127.0.0.1", 0)
    guard = server.guard
    assert guard is not None
    ids = iter(range(1, 100))

    def request() -> bytes:
        body = json.dumps({"update_id": next(ids)}).encode()
        return (
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{SECRET_HEADER}: s3cret\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def answered(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = conn
        writer.write(request())
        assert (await asyncio.wait_for(reader.readline(), 10)).split()[1] == b"200"
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    conns = []
    try:
        a = await connect()
        conns.append(a)
        await answered(a)  # Telegram's, now idle
        b = await connect()
        conns.append(b)
        held = request()
        b[1].write(held[:-3])  # in the middle of a request
        await wait_for_condition(lambda: guard.busy_connections == 1)
        c = await connect()  # a stranger's, silent
        conns.append(c)
        await wait_for_condition(lambda: guard.open_connections == 3)
        d = await connect()
        conns.append(d)
        assert await until_closed(c[0], bound=5) == b""  # the waiting one went
        await answered(d)  # now idle, and used after a
        e = await connect()
        conns.append(e)
        assert await until_closed(a[0], bound=5) == b""  # the longest idle went
        await answered(e)
        await answered(d)  # still open
        b[1].write(held[-3:])
        assert (await asyncio.wait_for(b[0].readline(), 10)).split()[1] == b"200"
        assert (guard.replaced, guard.refused) == (2, 0)
    finally:
        for _, writer in conns:
            writer.close()
        await server.stop()
