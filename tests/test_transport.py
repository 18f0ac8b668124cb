"""The HTTP transport (``bot.runtime.request``): PTB's ``BaseRequest`` on aiohttp, against the
fake Bot API over real HTTP. What matters is that a failure says whether the request could
have reached Telegram, because the retry rules (and "post exactly once") depend on it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

from bot.runtime.request import (
    MAX_ANSWER,
    AiohttpRequest,
    NotSent,
    OutcomeUnknown,
    RetryingRequest,
)
from tests.conftest import TOKEN
from tests.fakes import CHANNEL_ID, FakeBotApi

pytestmark = pytest.mark.e2e


async def test_requests_and_api_errors_go_through_ptb_as_usual(fake_api: FakeBotApi) -> None:
    async with Bot(TOKEN, base_url=fake_api.base_url, request=AiohttpRequest()) as bot:
        me = await bot.get_me()
        assert me.username
        sent = await bot.send_message(CHANNEL_ID, "<b>hi</b> &amp; bye", parse_mode="HTML")
        assert fake_api.messages[(CHANNEL_ID, sent.message_id)].text == "<b>hi</b> &amp; bye"
        with pytest.raises(BadRequest):  # the fake's 400, parsed by PTB
            await bot.send_message(CHANNEL_ID, "<b>unclosed", parse_mode="HTML")


async def test_the_body_is_json_and_an_upload_a_form() -> None:
    """A method's fields go as one JSON body (the Bot API takes application/json for every
    method but uploads), typed as PTB means them; an upload goes as multipart form data."""
    seen: dict[str, tuple[str, bytes]] = {}
    me = {"id": 1, "is_bot": True, "first_name": "B", "username": "b_bot"}

    async def capture(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        seen[method] = (request.content_type, await request.read())
        if method == "getMe":
            return web.json_response({"ok": True, "result": me})
        chat = {"id": -100123, "type": "supergroup", "title": "G"}
        message = {"message_id": 7, "date": 0, "chat": chat, "text": "x"}
        if method == "sendPhoto":
            message["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
        return web.json_response({"ok": True, "result": message})

    server = web.Application()
    server.router.add_post("/bot{token}/{method}", capture)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/bot"
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ünïcode & co", callback_data="x")]])
    try:
        async with Bot(TOKEN, base_url=base_url, request=AiohttpRequest()) as bot:
            await bot.send_message(-100123, "a&b=c <b>ü</b>", reply_markup=markup)
            await bot.send_photo(-100123, b"\x89PNG not really", caption="c&d <i>é</i>")
    finally:
        await runner.cleanup()
    content_type, body = seen["sendMessage"]
    assert content_type == "application/json"
    assert json.loads(body) == {
        "chat_id": -100123,
        "text": "a&b=c <b>ü</b>",
        "reply_markup": markup.to_dict(),
    }
    content_type, body = seen["sendPhoto"]
    assert content_type == "multipart/form-data"
    assert b"c&d <i>\xc3\xa9</i>" in body and b"\x89PNG not really" in body


async def test_a_proxy_from_the_environment_is_used_unless_no_proxy_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As with PTB's httpx client, HTTP(S)_PROXY is honoured and NO_PROXY bypasses it."""
    hosts: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        # A proxied request names the whole URL in its request line.
        hosts.append(request.raw_path)
        return web.json_response({"ok": True, "result": True})

    server = web.Application()
    server.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("HTTP_PROXY", f"127.0.0.1:{port}")  # no scheme: http:// is meant
    monkeypatch.setenv("NO_PROXY", f"localhost:{port}")  # an entry with a port
    request = AiohttpRequest(connect_timeout=2)
    await request.initialize()
    try:
        # Only the proxy can answer for a host that does not exist.
        status, _ = await request.do_request("http://api.example.invalid/bot1:x/close", "POST")
        assert status == 200 and hosts == ["http://api.example.invalid/bot1:x/close"]
        status, _ = await request.do_request(f"http://localhost:{port}/bot1:x/close", "POST")
        assert status == 200 and hosts[-1] == "/bot1:x/close"  # straight there
    finally:
        await request.shutdown()
        await runner.cleanup()


async def test_a_proxy_that_refuses_the_tunnel_is_not_sent_and_hides_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A proxy answering 407 to CONNECT: nothing reached Telegram, so the request counts as
    not sent (a channel post may be tried again), and the proxy's password is not logged."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:s3cret@127.0.0.1:{port}")
    request = RetryingRequest(retries=1, backoff=0.01)
    await request.initialize()
    try:
        with pytest.raises(NotSent) as caught:
            await request.do_request("https://api.example.invalid/bot1:x/sendMessage", "POST")
        assert "s3cret" not in str(caught.value.__cause__)
    finally:
        await request.shutdown()
        server.close()


async def test_a_socks_proxy_is_refused_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    request = RetryingRequest(retries=0)
    await request.initialize()
    try:
        with pytest.raises(NotSent) as caught:
            await request.do_request("https://api.example.invalid/bot1:x/getMe", "POST")
        assert "socks5:// proxies are not supported" in str(caught.value.__cause__)
    finally:
        await request.shutdown()


async def test_a_file_goes_as_multipart_with_the_other_parameters(fake_api: FakeBotApi) -> None:
    """The bot uploads nothing today; PTB would (sendDocument), so the transport sends files
    as multipart form data, as the Bot API requires, beside the JSON-encoded fields."""
    async with Bot(TOKEN, base_url=fake_api.base_url, request=AiohttpRequest()) as bot:
        with pytest.raises(TelegramError):  # the fake has no sendDocument: its 404
            await bot.send_document(CHANNEL_ID, b"backup bytes", filename="b.sqlite3")
    (call,) = fake_api.calls_to("sendDocument")
    assert call.params["chat_id"] == CHANNEL_ID
    assert call.params["document"] == b"backup bytes"  # a file part of the multipart body


async def test_no_free_connection_in_time_is_not_sent_and_never_reaches_the_api(
    fake_api: FakeBotApi,
) -> None:
    """The only pooled connection is stuck: the next request is refused before it is sent,
    so it may be retried safely (NotSent), and the fake never sees it."""
    gate = fake_api.hold("sendMessage")
    request = RetryingRequest(
        connection_pool_size=1, pool_timeout=0.2, connect_timeout=0.2, retries=1, backoff=0.01
    )
    async with Bot(TOKEN, base_url=fake_api.base_url, request=request) as bot:
        stuck = asyncio.create_task(bot.send_message(CHANNEL_ID, "first"))
        # The send holds the pool's one connection once it reached the server.
        await fake_api.wait_until(lambda: "sendMessage" in fake_api.held)
        seen = len(fake_api.calls_to("getMe"))  # the one Bot.initialize made
        with pytest.raises(NotSent):
            await bot.get_me()
        assert len(fake_api.calls_to("getMe")) == seen
        gate.set()
        await stuck
    assert [c.params["text"] for c in fake_api.calls_to("sendMessage")] == ["first"]


async def test_a_channel_post_that_timed_out_after_it_went_out_is_not_repeated(
    fake_api: FakeBotApi,
) -> None:
    """The post landed but the answer never came: the transport says TimedOut (an unknown
    outcome), and nothing sends it a second time."""
    fake_api.fail("sendMessage", 200, delay=1.0, after_effect=True)
    request = RetryingRequest(read_timeout=0.3, retries=3, backoff=0.01)
    async with Bot(TOKEN, base_url=fake_api.base_url, request=request) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHANNEL_ID, "once")
        assert time.monotonic() - started < 1.0  # the read timeout, not the server's delay
    # The retries were over when send_message raised; the one request lands after its delay.
    await fake_api.wait_until(lambda: bool(fake_api.calls_to("sendMessage")))
    assert len(fake_api.calls_to("sendMessage")) == 1


async def test_a_dropped_connection_is_a_network_error_and_an_edit_is_retried(
    fake_api: FakeBotApi,
) -> None:
    async with Bot(
        TOKEN, base_url=fake_api.base_url, request=RetryingRequest(backoff=0.01)
    ) as bot:
        sent = await bot.send_message(CHANNEL_ID, "before")
        fake_api.fail("editMessageText", 0, after_effect=True)  # applied, then the line drops
        # The repeat reaches Telegram, which says the message already reads so
        # (services.messages.edit takes that as done).
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text("after", chat_id=CHANNEL_ID, message_id=sent.message_id)
        assert len(fake_api.calls_to("editMessageText")) == 2
        assert fake_api.messages[(CHANNEL_ID, sent.message_id)].text == "after"
        fake_api.fail("sendMessage", 0, after_effect=True)
        with pytest.raises(NetworkError) as caught:  # a channel post: never blindly repeated
            await bot.send_message(CHANNEL_ID, "maybe")
        assert not isinstance(caught.value, NotSent)
    assert [c.params["text"] for c in fake_api.calls_to("sendMessage")] == ["before", "maybe"]


async def test_an_uninitialized_transport_refuses_and_shutdown_is_idempotent() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError):
        await request.do_request("http://127.0.0.1:9/bot1:x/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()


async def test_a_post_answered_200_with_a_body_that_is_not_an_answer_is_an_unknown_outcome(
    fake_api: FakeBotApi,
) -> None:
    """The post landed, then something (a proxy, a broken answer) answered 200 with HTML:
    PTB alone would raise a bare TelegramError that nothing treats as "maybe posted"."""
    fake_api.fail("sendMessage", 200, after_effect=True)
    request = RetryingRequest(retries=3, backoff=0.01)
    async with Bot(TOKEN, base_url=fake_api.base_url, request=request) as bot:
        with pytest.raises(OutcomeUnknown):
            await bot.send_message(CHANNEL_ID, "once")
        # Where a repeat is harmless (an edit), it is repeated instead.
        sent = await bot.send_message(CHANNEL_ID, "before")
        fake_api.fail("editMessageText", 200)
        await bot.edit_message_text("after", chat_id=CHANNEL_ID, message_id=sent.message_id)
    assert [c.params["text"] for c in fake_api.calls_to("sendMessage")] == ["once", "before"]
    assert len(fake_api.calls_to("editMessageText")) == 2


async def serve_raw(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, str]:
    """A server that reads one request and answers with ``handle``; returns its base URL."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot{TOKEN}"


async def test_a_trickling_answer_is_bounded_by_the_total_timeout() -> None:
    """Every byte comes well within the read timeout, but the answer would take 20 s: the
    request ends after its timeouts together (pool + connect + read), not 20 s."""

    async def trickle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 100\r\n\r\n")
        for _byte in range(100):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.2)

    server, base = await serve_raw(trickle)
    request = AiohttpRequest(read_timeout=0.5, connect_timeout=0.5, pool_timeout=0.5)
    await request.initialize()
    try:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await request.do_request(f"{base}/sendMessage", "POST")
        elapsed = time.monotonic() - started
    finally:
        await request.shutdown()
        server.close()
    assert elapsed < 5.0  # 1.5 s of timeouts, with room for a loaded machine; not 20 s


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_huge_answer_is_not_buffered(declared: bool) -> None:
    """A 200 MiB answer: the request fails once MAX_ANSWER is passed (or at once, when the
    answer says its length), and the rest is never read."""
    size = 200 * 1024 * 1024
    written = 0

    async def huge(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        length = f"Content-Length: {size}\r\n" if declared else "Transfer-Encoding: chunked\r\n"
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n".encode())
        chunk = b"x" * (1024 * 1024)
        while written < size:
            writer.write(chunk if declared else b"100000\r\n" + chunk + b"\r\n")
            await writer.drain()
            written += len(chunk)

    server, base = await serve_raw(huge)
    request = AiohttpRequest(read_timeout=10)
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match="over"):
            await request.do_request(f"{base}/getUpdates", "POST")
    finally:
        await request.shutdown()
        server.close()
    assert written < MAX_ANSWER + 16 * 1024 * 1024  # socket buffers, not 200 MiB
