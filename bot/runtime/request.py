"""HTTP to the Bot API: PTB's ``BaseRequest`` on aiohttp, with a small retry for failures PTB
does not retry.

Over ~300 lines because what a failure means (sent or not, outcome known or not) decides the
retry, so the transport and its retry rules are kept side by side.

**Why aiohttp and not PTB's default ``HTTPXRequest``.** Measured against the local fake API
(``python -m bench.transport``: ``getMe`` calls from one PTB ``Bot``), httpx costs about 2.9 ms
of CPU per request at 16 in flight and aiohttp about 0.36 ms: httpcore checks
every pooled connection's socket on every request, and httpx builds a cookie jar, redirect and
auth handling around each one. On the press path, where every answer is two or three requests,
that was most of the bot's CPU. ``BaseRequest`` is PTB's documented extension point for another
HTTP library; aiohttp is already a dependency (the webhook server) and is well kept.

**Retries.** ``AIORateLimiter`` waits out 429s (with ``max_retries``) but never retries a 5xx
answer or a failed connection. We retry:

* always, when the request certainly did not take effect: a connection that failed (or a pool
  slot that never came) before the request went out;
* when the outcome is unknown (the connection broke or timed out after the request went out,
  or a 5xx answer: Telegram's front end can answer 502/504 after the message was delivered,
  contract §6; or a 2xx answer that is not a Bot API answer, from a proxy or a broken
  answer) only where a repeat is harmless: edits and other idempotent methods (an edit
  repeated changes nothing), and a message to a private chat, where a rare duplicate question
  in the learner's own chat beats a quiz that silently stalls (contract §7 accepts it). A
  channel or group post with an unknown outcome is raised to the caller as ``OutcomeUnknown``,
  which counts it as posted and tells the admins instead of posting twice.

``answerCallbackQuery`` is never repeated on an unknown outcome: if the first landed, Telegram
refuses the second ("query is too old ... or query ID is invalid") and the press has nothing to
gain from it; the answer is best effort (``services.messages.answer_press``).

``BadRequest``/``Forbidden`` (4xx) are never retried.

**Bounds.** A request takes at most its pool, connect and read timeouts together (aiohttp's
read timeout is per read), and an answer over ``MAX_ANSWER`` is not buffered: both fail the
request as a ``NetworkError`` whose outcome is unknown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import ssl
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.runtime import metrics, private

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset(
    {
        "editMessageText",
        "editMessageReplyMarkup",
        "setMyCommands",
        "deleteMyCommands",
        "getMe",
        "getChat",
        "deleteWebhook",
    }
)


class NotSent(NetworkError):
    """The request certainly did not take effect (the connection failed before it went out)."""


class OutcomeUnknown(NetworkError):
    """Telegram answered 5xx, or 2xx with a body that is not a Bot API answer: the request
    may or may not have taken effect."""


JSON_HEADERS = {"Content-Type": "application/json"}
# The largest Bot API answer kept in memory. The largest real one is a getUpdates batch of 100
# updates of a few kilobytes each; past this a broken or hostile server would make us buffer
# without end (200 MiB was seen), so the request fails instead (its outcome unknown).
MAX_ANSWER = 8 * 1024 * 1024
KEEPALIVE = 5.0  # seconds an idle connection is kept: httpx's default


class AiohttpRequest(BaseRequest):
    """``BaseRequest`` on one ``aiohttp.ClientSession``: a pool of ``connection_pool_size``
    keep-alive connections, PTB's timeouts, PTB's exceptions.

    aiohttp counts the wait for a free pooled connection in its ``connect`` timeout, so
    ``pool_timeout + connect_timeout`` bounds both; either way nothing was sent.

    Where aiohttp's defaults differ from httpx's (PTB's client), httpx's are kept: idle
    connections are closed after 5 s (a server or proxy that drops idle connections first
    would otherwise break a post whose outcome then counts as unknown), proxies come from
    HTTPS_PROXY and friends, certificates from certifi, and redirects are not followed.
    """

    def __init__(
        self,
        connection_pool_size: int = 16,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    def _proxy_for(self, url: str) -> str | None:
        """HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and NO_PROXY, as httpx reads them, looked up
        once per host. (aiohttp's own ``trust_env`` looks them up, and reads ~/.netrc, in a
        worker thread on every request: most of a request's CPU in bench/.)"""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            proxy = None
            # host:port, so that a NO_PROXY entry with a port matches as well as one without.
            if not urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2]):
                found = urllib.request.getproxies()
                proxy = found.get(parts.scheme) or found.get("all")
            if proxy and "://" not in proxy:
                proxy = "http://" + proxy  # HTTPS_PROXY=host:3128, as httpx and curl read it
            self._proxies[origin] = proxy
        proxy = self._proxies[origin]
        if proxy and not proxy.startswith(("http://", "https://")):
            # A socks5:// proxy would be spoken to as an HTTP proxy: refuse it plainly.
            raise aiohttp.InvalidURL(f"{proxy.split('://')[0]}:// proxies are not supported")
        return proxy

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._pool_size,
                    keepalive_timeout=KEEPALIVE,
                    ssl=_tls_context(),
                ),
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets no cookies
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(  # noqa: PLR0917 - PTB's signature
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read_timeout if private.is_default(read_timeout) else read_timeout
        connect = self._connect_timeout if private.is_default(connect_timeout) else connect_timeout
        pool = self._pool_timeout if private.is_default(pool_timeout) else pool_timeout
        files = request_data is not None and request_data.contains_files
        # aiohttp has no write timeout, and sock_read starts only once the body is written.
        # A Bot API request body is small; an upload gets an overall bound instead.
        # sock_read bounds each read, not the answer: a server trickling a byte every few
        # seconds would hold the request for ever. So the whole request is bounded too, by
        # the sum of its phases' timeouts (no bound if the read has none, as PTB means it).
        total = None
        if read is not None:
            total = (connect or 0) + (pool or 0) + read
        if files:
            write = (
                self._media_write_timeout
                if private.is_default(write_timeout) or write_timeout is None
                else write_timeout
            )
            total = None if total is None else total + write
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=None if connect is None and pool is None else (connect or 0) + (pool or 0),
            sock_connect=connect,
            sock_read=read,
        )
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None and files:
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            data = form
        elif request_data is not None and (parameters := request_data.parameters):
            # A JSON body, which the Bot API takes for every method but uploads
            # (https://core.telegram.org/bots/api#making-requests: "application/json (except
            # for uploading files)"). PTB's own client sends a form instead (each field
            # JSON-encoded, then url-encoded): urllib's quoting is pure Python, 75 us of a
            # quiz edit's 80 (bench/micro.py), where json.dumps of the same fields takes 6.
            data = json.dumps(parameters, separators=(",", ":")).encode()
            headers = JSON_HEADERS
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxy_for(url),
            ) as res:
                return res.status, await _read_capped(res)
        except aiohttp.ConnectionTimeoutError as err:
            raise TimedOut("Connect or pool timeout: the request was not sent") from err
        except (aiohttp.ServerTimeoutError, TimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The class name says what broke, even when the message is empty; a proxy's
            # password, which aiohttp's proxy errors quote, never reaches the log.
            text = _USERINFO.sub("//***@", str(err))
            raise NetworkError(f"aiohttp.{type(err).__name__}: {text}") from err


_USERINFO = re.compile(r"//[^/@\s]*@")


async def _read_capped(res: aiohttp.ClientResponse) -> bytes:
    """The answer's body, or NetworkError past MAX_ANSWER (read no further)."""
    if res.content_length is not None and res.content_length > MAX_ANSWER:
        raise NetworkError(f"the Bot API's answer is over {MAX_ANSWER} bytes")
    body = bytearray()
    async for chunk in res.content.iter_any():
        body += chunk
        if len(body) > MAX_ANSWER:
            raise NetworkError(f"the Bot API's answer is over {MAX_ANSWER} bytes")
    return bytes(body)


def _is_answer(payload: bytes) -> bool:
    """A Bot API answer as PTB reads one: a JSON object with a ``result``. (Parsed again by
    PTB; a few microseconds for the answers the bot gets.)"""
    try:
        data = json.loads(payload)
    except ValueError:
        return False
    return isinstance(data, dict) and "result" in data


def _tls_context() -> ssl.SSLContext:
    """Certificates as httpx finds them: SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's."""
    cert_file, cert_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cert_file and Path(cert_file).is_file():
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir and Path(cert_dir).is_dir():
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())


def _not_delivered(exc: BaseException) -> bool:
    """True when the request failed before anything reached the server: no connection, no
    pooled connection in time (aiohttp raises ConnectionTimeoutError for both), a proxy that
    refused the tunnel, or a proxy setting that is not a URL."""
    cause = exc.__cause__
    return isinstance(
        cause,
        aiohttp.ClientConnectorError
        | aiohttp.ConnectionTimeoutError
        | aiohttp.ClientHttpProxyError
        | aiohttp.InvalidURL,
    )


def _repeat_is_harmless(endpoint: str, request_data: RequestData | None) -> bool:
    if endpoint in IDEMPOTENT:
        return True
    if endpoint == "sendMessage" and request_data is not None:
        chat_id = request_data.parameters.get("chat_id")
        return isinstance(chat_id, int) and chat_id > 0  # a private chat, not a channel/group
    return False


class RetryingRequest(AiohttpRequest):
    """``AiohttpRequest`` plus up to ``retries`` retries with exponential backoff and jitter."""

    def __init__(self, *args: Any, retries: int = 3, backoff: float = 0.5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retries = retries
        self.backoff = backoff

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                code, payload = await super().do_request(
                    url, method, request_data, *args, **kwargs
                )
            except (TimedOut, NetworkError) as exc:
                metrics.api_call(endpoint, None)
                if _not_delivered(exc):
                    if last:
                        raise NotSent(f"could not connect to the Bot API ({endpoint})") from exc
                    reason = "connection failed"
                elif _repeat_is_harmless(endpoint, request_data) and not last:
                    reason = f"no answer ({type(exc.__cause__ or exc).__name__})"
                else:
                    raise  # may have been delivered: never blindly repeated
            else:
                metrics.api_call(endpoint, code)
                if 200 <= code < 300 and method == "POST" and not _is_answer(payload):
                    # Something between us and Telegram (a proxy, a captive portal) answered,
                    # or Telegram's answer broke: the request may have taken effect.
                    if last or not _repeat_is_harmless(endpoint, request_data):
                        raise OutcomeUnknown(
                            f"the Bot API answered {code} to {endpoint} with a body that is "
                            "not a Bot API answer"
                        )
                    reason = f"answer {code} that is not a Bot API answer"
                elif code < 500:
                    return code, payload
                elif last or not _repeat_is_harmless(endpoint, request_data):
                    raise OutcomeUnknown(f"the Bot API answered {code} to {endpoint}")
                else:
                    reason = f"answer {code}"
            delay = self.backoff * (2**attempt) * (0.5 + random.random())
            log.warning("%s on %s; retry %d in %.1fs", reason, endpoint, attempt + 1, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
