"""A fake Telegram Bot API server (aiohttp on 127.0.0.1) and builders for real updates.

The real ``Application`` talks to it over HTTP through ``base_url``. It answers like Telegram,
and refuses what Telegram refuses: invalid HTML, code in a spoiler, text over 4096 characters,
``callback_data`` over 64 bytes, alerts over 200 characters, a callback query answered twice,
an edit that changes nothing, a message to a user who never opened the bot. Tests queue
updates, inject faults, and assert on the recorded calls.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.telegram_html import check_message_text, parse, utf16_len

# How long a test waits for an event by default: only a bound for a bot that never gets
# there (a passing wait returns as soon as the event is recorded). Generous, because the
# suite runs on a loaded 2-core machine beside pytest-xdist's other workers, where a picture
# drawn at nice 19 or a start under load takes several seconds.
WAIT_BOUND = 30.0
BOT_ID = 7000001
BOT_USERNAME = "InterviewTestBot"
CHANNEL_ID = -1001234567890
CHANNEL_USERNAME = "pyinterviewq"
MAX_CALLBACK_DATA = 64
MAX_ALERT = 200
MAX_CAPTION = 1024  # sendPhoto: "0-1024 characters after entities parsing"
FLOOD_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the supergroup chat"

# PTB sends every parameter as a form field; non-string values are JSON text. These keys are
# always strings in the Bot API, so we never JSON-decode them ("42" stays the text "42").
RAW_KEYS = {
    "text",
    "callback_query_id",
    "caption",
    "url",
    "parse_mode",
    "description",
    "secret_token",
}
# setWebhook's secret_token: 1-256 characters, only A-Z, a-z, 0-9, _ and -
# (https://core.telegram.org/bots/api#setwebhook).
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}", re.ASCII)


def check_markup(markup: Any) -> str:
    """What Telegram says of an inline keyboard (as sent, JSON): '' when accepted."""
    if markup is None:
        return ""
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not button.get("text"):
                return "Bad Request: text buttons are unallowed in the inline keyboard"
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                return "Bad Request: BUTTON_DATA_INVALID"
            url = button.get("url")
            if url is not None and not url.startswith(("https://", "http://", "tg://")):
                return "Bad Request: BUTTON_URL_INVALID"
            copy = button.get("copy_text")
            if copy is not None and not (
                isinstance(copy, dict) and 1 <= len(str(copy.get("text", ""))) <= 256
            ):
                return "Bad Request: BUTTON_COPY_TEXT_INVALID"
            # Bot API 9.4: style is one of "danger", "success", "primary", or absent.
            if button.get("style", "primary") not in {"danger", "success", "primary"}:
                return "Bad Request: BUTTON_STYLE_INVALID"
            # Exactly one field other than text, icon_custom_emoji_id and style says what
            # the button does (those we send: url, callback_data, copy_text).
            if sum(x is not None for x in (data, url, copy)) != 1:
                return "Bad Request: can't parse inline keyboard button"
    return ""


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    error: str = ""


@dataclass
class Fault:
    status: int  # 429, 500, 502, ... or 0: drop the connection without an answer
    retry_after: int = 0
    times: int = 1
    delay: float = 0.0  # answer only after this long (for read timeouts)
    after_effect: bool = False  # apply the call, then fail (a send whose outcome is unknown)


@dataclass
class FakeUser:
    id: int
    first_name: str
    username: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    is_forum: bool = False  # a supergroup with topics
    migrated_to: int | None = None  # a group upgraded to this supergroup
    general_closed: bool = False  # its General topic is closed: no message may go there

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "is_forum"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class StoredMessage:
    chat: Chat
    message_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    date: int
    edits: int = 0
    thread_id: int | None = None  # the forum topic it is in
    photo: bytes | None = None  # a sendPhoto's upload; ``text`` is then its caption

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.as_dict(),
            "text": self.text,
            "from": {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Interview Bot",
                "username": BOT_USERNAME,
            },
        }
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.photo is not None:
            del data["text"]
            data["caption"] = self.text
            data["photo"] = [photo_size(self.photo)]
        if self.thread_id is not None:
            data["message_thread_id"] = self.thread_id
            data["is_topic_message"] = True
        return data

    def buttons(self) -> list[dict[str, Any]]:
        if not self.reply_markup:
            return []
        return [b for row in self.reply_markup.get("inline_keyboard", []) for b in row]


def png_size(png: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if it is not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        return None
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def photo_size(png: bytes) -> dict[str, Any]:
    width, height = png_size(png) or (0, 0)
    digest = f"{zlib.crc32(png):08x}{len(png):x}"
    return {
        "file_id": f"AgAC{digest}",
        "file_unique_id": f"AQAD{digest}",
        "width": width,
        "height": height,
        "file_size": len(png),
    }


def _decode(key: str, value: str) -> Any:
    if key in RAW_KEYS:
        return value
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


class FakeBotApi:
    """Serves ``/bot<token>/<method>``; ``base_url`` is what PTB's ``base_url`` takes."""

    def __init__(self, token: str = "123456:TEST") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.rejected: list[Call] = []
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1)
        )
        self._query_ids = itertools.count(1)
        self.answered_queries: set[str] = set()
        self.delivered_at: dict[int, float] = {}  # update_id -> first handed to getUpdates
        # Benchmarks listen instead of polling: (method, message or query id) after each success.
        self.listeners: list[Callable[[str, Any], None]] = []
        self.query_update: dict[str, int] = {}  # callback query id -> its update_id
        self.messages: dict[tuple[int, int], StoredMessage] = {}
        self.chats: dict[int, Chat] = {}
        self.known_users: set[int] = set()  # users who opened the bot (may be messaged)
        self.held: list[str] = []  # methods of requests that waited at a hold() gate
        self.blocked_users: set[int] = set()  # users who blocked the bot: 403 to every send
        # Telegram's flood limit, when a benchmark turns it on: more than this many messages
        # (sends and edits) in any one second get 429 with retry_after, as Telegram answers.
        self.flood_limit: int | None = None
        self._recent_sends: collections.deque[float] = collections.deque()
        # Telegram refuses an answer to a query older than its answer window (about 15 s);
        # None: no window. Measured from when getUpdates first handed the press out.
        self.answer_window: float | None = None
        self.channel = Chat(
            CHANNEL_ID, "channel", title="Python Interview Questions", username=CHANNEL_USERNAME
        )
        self.chats[CHANNEL_ID] = self.channel
        self.channel_posting_allowed = True
        self.webhook: dict[str, Any] | None = None  # setWebhook's parameters while one is set
        self.polls_in_flight = 0
        self.most_polls_at_once = 0
        # Methods whose calls wait (unanswered) until their event is set: a send stuck in a
        # flood limiter or a slow network, for as long as a test likes.
        self.holds: dict[str, asyncio.Event] = {}
        self.chat_admins: dict[int, set[int]] = defaultdict(set)  # group -> admins' user ids
        self.kicked_from: set[int] = set()  # groups the bot was removed from: 403 there
        self._cond = asyncio.Condition()
        self._closing = False  # stop(): pending long polls return at once
        self.confirmed = 0  # the highest update_id a getUpdates offset has moved past
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    async def start(self) -> None:
        self._closing = False
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server: Any = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            # A long poll still waiting would hold the server's cleanup for its whole timeout.
            self._closing = True
            await self._notify()
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ test API: updates

    def _push(self, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **payload})
        asyncio.get_running_loop().create_task(self._notify())
        return update_id

    async def _notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    def private_chat(self, user: FakeUser) -> Chat:
        chat = self.chats.get(user.id) or Chat(user.id, "private", first_name=user.first_name)
        self.chats[user.id] = chat
        return chat

    def group(
        self, chat_id: int = -100777, title: str = "Study group", *, forum: bool = False
    ) -> Chat:
        chat = self.chats.get(chat_id) or Chat(chat_id, "supergroup", title=title, is_forum=forum)
        self.chats[chat_id] = chat
        return chat

    def send_text(
        self, user: FakeUser, text: str, chat: Chat | None = None, *, thread_id: int | None = None
    ) -> int:
        """A user sends ``text`` (a command gets its bot_command entity, as Telegram adds it);
        ``thread_id``: in that topic of a forum supergroup."""
        return self._push(self.text_payload(user, text, chat, thread_id=thread_id))

    def webhook_reply(self, body: bytes) -> None:
        """What Telegram does with a webhook response that names a method: performs it, and
        tells nobody how it went (https://core.telegram.org/bots/api#making-requests-when-
        getting-updates)."""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return
        if not isinstance(data, dict) or not isinstance(data.get("method"), str):
            return
        params = {k: v for k, v in data.items() if k != "method"}
        _, call = self._perform(data["method"], params)
        self._record(call)
        asyncio.get_running_loop().create_task(self._notify())

    def new_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An update with a fresh ``update_id``, not queued for getUpdates (to POST it)."""
        return {"update_id": next(self._update_ids), **payload}

    def text_payload(
        self, user: FakeUser, text: str, chat: Chat | None = None, *, thread_id: int | None = None
    ) -> dict[str, Any]:
        """The ``{"message": ...}`` part of an update in which ``user`` sends ``text``."""
        chat = chat or self.private_chat(user)
        if chat.type == "private":
            self.known_users.add(user.id)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat.id]),
            "date": int(time.time()),
            "chat": chat.as_dict(),
            "from": user.as_dict(),
            "text": text,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": message}

    def forward(
        self,
        user: FakeUser,
        text: str,
        entities: list[dict[str, Any]] | None = None,
        *,
        caption: bool = False,
        origin: str = "channel",
    ) -> int:
        """``user`` forwards a post of the channel (or, with ``origin="user"``, a user's
        message) to the bot's private chat; ``caption=True``: a photo with that caption."""
        chat = self.private_chat(user)
        self.known_users.add(user.id)
        now = int(time.time())
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat.id]),
            "date": now,
            "chat": chat.as_dict(),
            "from": user.as_dict(),
        }
        if origin == "channel":
            message["forward_origin"] = {
                "type": "channel",
                "chat": self.channel.as_dict(),
                "message_id": 42,
                "date": now - 3600,
            }
        else:
            message["forward_origin"] = {
                "type": "user",
                "sender_user": FakeUser(4242, "Somebody").as_dict(),
                "date": now - 3600,
            }
        if caption:
            message["photo"] = [
                {"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}
            ]
            message["caption"] = text
            message["caption_entities"] = entities or []
        else:
            message["text"] = text
            message["entities"] = entities or []
        return self._push({"message": message})

    def press(self, user: FakeUser, message: StoredMessage, data: str) -> str:
        """A user presses a button with ``data`` under ``message``; returns the query id."""
        query_id = str(next(self._query_ids) + 10**12)
        payload = self._press_payload(query_id, user, message, data)
        self.query_update[query_id] = self._push(payload)
        return query_id

    def press_update(
        self, user: FakeUser, message: StoredMessage, data: str
    ) -> tuple[str, dict[str, Any]]:
        """The same press as an update to POST to a webhook: (query id, update)."""
        query_id = str(next(self._query_ids) + 10**12)
        update = self.new_update(self._press_payload(query_id, user, message, data))
        self.query_update[query_id] = update["update_id"]
        return query_id, update

    @staticmethod
    def _press_payload(
        query_id: str, user: FakeUser, message: StoredMessage, data: str
    ) -> dict[str, Any]:
        return {
            "callback_query": {
                "id": query_id,
                "from": user.as_dict(),
                "chat_instance": str(message.chat.id),
                "message": message.as_dict(),
                "data": data,
            }
        }

    def migrate_group(self, old: Chat, new_id: int) -> Chat:
        """``old`` (a basic group) becomes a supergroup: new id, messages kept (as Telegram
        shows the history there), sends to the old id refused with ``migrate_to_chat_id``."""
        new = Chat(new_id, "supergroup", title=old.title)
        self.chats[new_id] = new
        old.migrated_to = new_id
        for (cid, mid), message in list(self.messages.items()):
            if cid == old.id:
                message.chat = new
                self.messages[(new_id, mid)] = message
        return new

    def service_message(self, user: FakeUser, chat: Chat, **fields: Any) -> int:
        message = {
            "message_id": next(self._message_ids[chat.id]),
            "date": int(time.time()),
            "chat": chat.as_dict(),
            "from": user.as_dict(),
            **fields,
        }
        return self._push({"message": message})

    def bot_membership(self, chat: Chat, status: str, by: FakeUser) -> int:
        """A my_chat_member update: the bot's status in ``chat`` changed to ``status``."""
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "Interview Bot"}

        def member(state: str) -> dict[str, Any]:
            if state != "administrator":
                return {
                    "user": bot,
                    "status": state,
                    **({"until_date": 0} if state == "kicked" else {}),
                }
            rights = (
                "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
                "can_promote_members can_change_info can_invite_users can_post_stories "
                "can_edit_stories can_delete_stories can_post_messages can_edit_messages"
            )
            return {
                "user": bot,
                "status": "administrator",
                "can_be_edited": False,
                "is_anonymous": False,
                **dict.fromkeys(rights.split(), True),
            }

        old = "member" if status == "administrator" else "administrator"
        return self._push(
            {
                "my_chat_member": {
                    "chat": chat.as_dict(),
                    "from": by.as_dict(),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(status),
                }
            }
        )

    def push_raw(self, payload: dict[str, Any]) -> int:
        return self._push(payload)

    # ------------------------------------------------------------ test API: faults, queries

    def fail(
        self,
        method: str,
        status: int,
        *,
        retry_after: int = 0,
        times: int = 1,
        delay: float = 0.0,
        after_effect: bool = False,
    ) -> None:
        self.faults[method].append(Fault(status, retry_after, times, delay, after_effect))

    def hold(self, *methods: str) -> asyncio.Event:
        """Calls to ``methods`` wait unanswered until the returned event is set."""
        gate = asyncio.Event()
        for method in methods:
            self.holds[method] = gate
        return gate

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == "sendMessage" and _chat_key(c.params.get("chat_id")) == chat_id
        ]

    def channel_posts(self) -> list[StoredMessage]:
        return [m for (cid, _), m in sorted(self.messages.items()) if cid == CHANNEL_ID]

    def last_message(self, chat_id: int) -> StoredMessage:
        ids = [mid for (cid, mid) in self.messages if cid == chat_id]
        if not ids:
            raise AssertionError(f"no message in chat {chat_id}")
        return self.messages[(chat_id, max(ids))]

    def messages_in(self, chat_id: int) -> list[StoredMessage]:
        return [m for (cid, _), m in sorted(self.messages.items()) if cid == chat_id]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = WAIT_BOUND,
        count: int = 1,
    ) -> Call:
        """Wait until ``count`` calls to ``method`` (matching ``predicate``) were answered."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if predicate is None or predicate(c)]

        async with asyncio.timeout(timeout):
            async with self._cond:
                await self._cond.wait_for(lambda: len(matching()) >= count)
        return matching()[count - 1]

    async def wait_until(self, check: Callable[[], bool], timeout: float = WAIT_BOUND) -> None:
        async with asyncio.timeout(timeout):
            async with self._cond:
                await self._cond.wait_for(check)

    # ------------------------------------------------------------ the server

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params: dict[str, Any] = {}
        if request.method == "POST":
            if request.content_type == "application/json":
                params = await request.json()
            else:
                form = await request.post()
                params = {
                    # An uploaded file (multipart: sendPhoto) is kept as its bytes.
                    k: v.file.read() if isinstance(v, web.FileField) else _decode(k, str(v))
                    for k, v in form.items()
                }
        params.update({k: _decode(k, v) for k, v in request.query.items()})
        if method == "getUpdates":
            return await self._get_updates(params)
        if self.flood_limit is not None and method in FLOOD_METHODS and self._flooded():
            call = Call(method, params, time.monotonic(), 429, "flood limit")
            self.calls.append(call)
            return await self._faulty(request, method, params, Fault(429, 1), record=False)
        gate = self.holds.get(method)
        if gate is not None:
            self.held.append(method)  # a request that reached us, answered or not
            await self._notify()  # a test may wait for it to get here
            await gate.wait()
        fault = self._take_fault(method)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and not fault.after_effect:
            return await self._faulty(request, method, params, fault)
        payload, call = self._perform(method, params)
        status = call.status
        if fault is not None:  # the effect happened, but the client never hears of it
            call.status = 599
            self.calls.append(call)
            await self._notify()
            return await self._faulty(request, method, params, fault, record=False)
        self._record(call)
        await self._notify()
        if status == 200:
            return web.json_response({"ok": True, "result": payload})
        if isinstance(payload, dict):  # an error with parameters (migrate_to_chat_id)
            return web.json_response({"ok": False, "error_code": status, **payload}, status=status)
        return _error(status, str(payload))

    def _flooded(self) -> bool:
        """Over ``flood_limit`` messages in the last second (this one counted if it passes)."""
        now = time.monotonic()
        recent = self._recent_sends
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        assert self.flood_limit is not None
        if len(recent) >= self.flood_limit:
            return True
        recent.append(now)
        return False

    def _take_fault(self, method: str) -> Fault | None:
        queue = self.faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _faulty(
        self,
        request: web.Request,
        method: str,
        params: dict[str, Any],
        fault: Fault,
        record: bool = True,
    ) -> web.StreamResponse:
        if record:
            self.calls.append(
                Call(method, params, time.monotonic(), fault.status or 599, "injected fault")
            )
            await self._notify()
        if fault.status == 0:
            transport = request.transport
            if transport is not None:
                transport.abort()  # no answer at all: the client sees a broken connection
            raise asyncio.CancelledError
        if fault.status == 429:
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {fault.retry_after}",
                    "parameters": {"retry_after": fault.retry_after},
                },
                status=429,
            )
        return web.Response(status=fault.status, text="<html>Bad Gateway</html>")

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        # Several pollers (CONTRACT §10): how many getUpdates were ever running at once.
        self.polls_in_flight += 1
        self.most_polls_at_once = max(self.most_polls_at_once, self.polls_in_flight)
        try:
            return await self._get_updates_one(params)
        finally:
            self.polls_in_flight -= 1

    async def _get_updates_one(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:  # as Telegram answers while a webhook is set
            self.calls.append(Call("getUpdates", params, time.monotonic(), 409, "webhook set"))
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        # PTB asks past an update only once it has queued it for its handlers.
        self.confirmed = max(self.confirmed, offset - 1)
        timeout = min(float(params.get("timeout") or 0), 1.0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            try:
                async with asyncio.timeout(timeout):
                    async with self._cond:
                        await self._cond.wait_for(lambda: bool(self._updates) or self._closing)
            except TimeoutError:
                pass
        batch = self._updates[: int(params.get("limit") or 100)]
        now = time.monotonic()
        for update in batch:
            self.delivered_at.setdefault(update["update_id"], now)
        return web.json_response({"ok": True, "result": batch})

    def _tell(self, method: str, subject: Any) -> None:
        for listener in self.listeners:
            listener(method, subject)

    def _perform(self, method: str, params: dict[str, Any]) -> tuple[Any, Call]:
        """Carry out a method call: (its result or error text, the call as recorded)."""
        status, payload = self._dispatch(method, params)
        error = "" if status == 200 else str(payload)
        return payload, Call(method, params, time.monotonic(), status, error)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        if call.status != 200:
            self.rejected.append(call)

    def _dispatch(self, method: str, p: dict[str, Any]) -> tuple[int, Any]:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, "Not Found: method not found"
        result: tuple[int, Any] = handler(p)
        return result

    # ------------------------------------------------------------ Bot API methods

    def _m_getMe(self, p: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Interview Bot",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_deleteWebhook(self, p: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = None
        return 200, True

    def _m_setWebhook(self, p: dict[str, Any]) -> tuple[int, Any]:
        url = str(p.get("url", ""))
        if not url.startswith("https://"):
            return 400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
        secret = p.get("secret_token")
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(str(secret)):
            return 400, "Bad Request: secret token contains unallowed characters"
        allowed = p.get("allowed_updates")
        if allowed is not None and not isinstance(allowed, list):
            return 400, "Bad Request: can't parse allowed updates"
        self.webhook = dict(p)
        return 200, True

    def _m_getWebhookInfo(self, p: dict[str, Any]) -> tuple[int, Any]:
        # https://core.telegram.org/bots/api#webhookinfo: url is "" when none is set; the
        # secret is never told.
        hook = self.webhook or {}
        info: dict[str, Any] = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook.get("allowed_updates") is not None:
            info["allowed_updates"] = hook["allowed_updates"]
        return 200, info

    def _m_getChat(self, p: dict[str, Any]) -> tuple[int, Any]:
        chat = self._chat(p.get("chat_id"))
        if chat is None:
            return 400, "Bad Request: chat not found"
        # getChat answers a ChatFullInfo: these two are always present in it.
        return 200, {**chat.as_dict(), "accent_color_id": 0, "max_reaction_count": 11}

    def _m_setMyCommands(self, p: dict[str, Any]) -> tuple[int, Any]:
        for command in p.get("commands", []):
            name, desc = command.get("command", ""), command.get("description", "")
            if not (1 <= len(name) <= 32 and name.replace("_", "").isalnum() and name.islower()):
                return 400, f"Bad Request: BOT_COMMAND_INVALID {name!r}"
            if not 1 <= len(desc) <= 256:
                return 400, "Bad Request: command description is too long"
        scope = p.get("scope") or {}
        if scope.get("type") == "chat" and scope.get("chat_id") not in self.known_users:
            return 400, "Bad Request: chat not found"
        return 200, True

    def _check_markup(self, markup: Any) -> str:
        return check_markup(markup)

    def _chat(self, chat_id: Any) -> Chat | None:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            return next((c for c in self.chats.values() if c.username == chat_id[1:]), None)
        try:
            return self.chats.get(int(chat_id))
        except (TypeError, ValueError):
            return None

    def block(self, user: FakeUser) -> None:
        """The user blocks the bot: every send or edit in their private chat is refused."""
        self.blocked_users.add(user.id)

    def _m_sendMessage(self, p: dict[str, Any]) -> tuple[int, Any]:
        chat = self._chat(p.get("chat_id"))
        if chat is None:
            return 400, "Bad Request: chat not found"
        if chat.type == "private" and chat.id in self.blocked_users:
            return 403, BLOCKED
        if chat.id in self.kicked_from:
            return 403, KICKED
        if chat.migrated_to is not None:
            return 400, {
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": chat.migrated_to},
            }
        if chat.type == "private" and chat.id not in self.known_users:
            return 403, "Forbidden: bot can't initiate conversation with a user"
        if chat.type == "channel" and not self.channel_posting_allowed:
            return 403, "Forbidden: bot is not a member of the channel chat"
        thread_id = p.get("message_thread_id")
        if chat.is_forum and thread_id is None and chat.general_closed:
            return 400, "Bad Request: TOPIC_CLOSED"
        reason = check_message_text(str(p.get("text", "")), p.get("parse_mode"))
        reason = reason or self._check_markup(p.get("reply_markup"))
        if reason:
            return 400, reason
        message = StoredMessage(
            chat=chat,
            message_id=next(self._message_ids[chat.id]),
            text=str(p["text"]),
            parse_mode=p.get("parse_mode"),
            reply_markup=p.get("reply_markup"),
            date=int(time.time()),
            thread_id=thread_id if chat.is_forum else None,
        )
        self.messages[(chat.id, message.message_id)] = message
        self._tell("sendMessage", message)
        return 200, message.as_dict()

    def _m_sendPhoto(self, p: dict[str, Any]) -> tuple[int, Any]:
        """An uploaded PNG with a caption (https://core.telegram.org/bots/api#sendphoto): at
        most 10 MB, width + height at most 10000, caption 0-1024 characters after parsing."""
        chat = self._chat(p.get("chat_id"))
        if chat is None:
            return 400, "Bad Request: chat not found"
        if chat.type == "private" and chat.id in self.blocked_users:
            return 403, BLOCKED
        if chat.type == "private" and chat.id not in self.known_users:
            return 403, "Forbidden: bot can't initiate conversation with a user"
        if chat.type == "channel" and not self.channel_posting_allowed:
            return 403, "Forbidden: bot is not a member of the channel chat"
        photo = p.get("photo")
        size = png_size(photo) if isinstance(photo, bytes) else None
        if photo is None or size is None or len(photo) > 10 * 1024 * 1024:
            return 400, "Bad Request: IMAGE_PROCESS_FAILED"
        if sum(size) > 10_000:
            return 400, "Bad Request: PHOTO_INVALID_DIMENSIONS"
        caption = str(p.get("caption") or "")
        if caption:
            reason = check_message_text(caption, p.get("parse_mode"))
            if reason and "too long" not in reason:
                return 400, reason
            plain = parse(caption) if p.get("parse_mode") == "HTML" else caption
            if utf16_len(plain) > MAX_CAPTION:
                return 400, "Bad Request: message caption is too long"
        reason = self._check_markup(p.get("reply_markup"))
        if reason:
            return 400, reason
        message = StoredMessage(
            chat=chat,
            message_id=next(self._message_ids[chat.id]),
            text=caption,
            parse_mode=p.get("parse_mode"),
            reply_markup=p.get("reply_markup"),
            date=int(time.time()),
            photo=photo,
        )
        self.messages[(chat.id, message.message_id)] = message
        self._tell("sendPhoto", message)
        return 200, message.as_dict()

    def photos_to(self, chat_id: int) -> list[StoredMessage]:
        return [m for m in self.messages_in(chat_id) if m.photo is not None]

    def _edited(self, p: dict[str, Any]) -> StoredMessage | None:
        chat = self._chat(p.get("chat_id"))
        return self.messages.get((chat.id, int(p.get("message_id", 0)))) if chat else None

    def _m_editMessageText(self, p: dict[str, Any]) -> tuple[int, Any]:
        if self._chat_key_blocked(p):
            return 403, BLOCKED
        message = self._edited(p)
        if message is None:
            return 400, "Bad Request: message to edit not found"
        if message.chat.type == "channel" and not self.channel_posting_allowed:
            return 403, "Forbidden: bot is not a member of the channel chat"
        reason = check_message_text(str(p.get("text", "")), p.get("parse_mode"))
        reason = reason or self._check_markup(p.get("reply_markup"))
        if reason:
            return 400, reason
        markup = p.get("reply_markup")
        if p["text"] == message.text and markup == message.reply_markup:
            return 400, (
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message"
            )
        message.text, message.parse_mode = str(p["text"]), p.get("parse_mode")
        message.reply_markup = markup
        message.edits += 1
        self._tell("editMessageText", message)
        return 200, message.as_dict()

    def _chat_key_blocked(self, p: dict[str, Any]) -> bool:
        chat = self._chat(p.get("chat_id"))
        return chat is not None and (chat.id in self.blocked_users or chat.id in self.kicked_from)

    def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> tuple[int, Any]:
        if self._chat_key_blocked(p):
            return 403, BLOCKED
        message = self._edited(p)
        if message is None:
            return 400, "Bad Request: message to edit not found"
        reason = self._check_markup(p.get("reply_markup"))
        if reason:
            return 400, reason
        message.reply_markup = p.get("reply_markup")
        message.edits += 1
        return 200, message.as_dict()

    def _m_answerCallbackQuery(self, p: dict[str, Any]) -> tuple[int, Any]:
        query_id = str(p.get("callback_query_id"))
        delivered = self.delivered_at.get(self.query_update.get(query_id, -1))
        too_old = (
            self.answer_window is not None
            and delivered is not None
            and time.monotonic() - delivered > self.answer_window
        )
        if query_id in self.answered_queries or too_old:
            return 400, TOO_OLD
        text = p.get("text") or ""
        if len(text) > MAX_ALERT:
            return 400, "Bad Request: MESSAGE_TOO_LONG"
        self.answered_queries.add(query_id)
        self._tell("answerCallbackQuery", query_id)
        return 200, True

    def _m_deleteMessage(self, p: dict[str, Any]) -> tuple[int, Any]:
        chat = self._chat(p.get("chat_id"))
        if chat is None or self.messages.pop((chat.id, int(p.get("message_id", 0))), None) is None:
            return 400, "Bad Request: message to delete not found"
        return 200, True

    def _m_sendChatAction(self, p: dict[str, Any]) -> tuple[int, Any]:
        return 200, True

    def _m_getChatMember(self, p: dict[str, Any]) -> tuple[int, Any]:
        """A ChatMember: "administrator" for ``chat_admins``, "member" for anyone else."""
        chat = self._chat(p.get("chat_id"))
        if chat is None:
            return 400, "Bad Request: chat not found"
        user_id = int(p.get("user_id", 0))
        user = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if user_id not in self.chat_admins[chat.id]:
            return 200, {"status": "member", "user": user}
        rights = (
            "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
            "can_promote_members can_change_info can_invite_users can_post_stories "
            "can_edit_stories can_delete_stories"
        )
        return 200, {
            "status": "administrator",
            "user": user,
            "can_be_edited": False,
            "is_anonymous": False,
            **dict.fromkeys(rights.split(), False),
        }


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )


def _chat_key(chat_id: Any) -> int | None:
    if isinstance(chat_id, str) and chat_id.startswith("@"):
        return CHANNEL_ID if chat_id[1:] == CHANNEL_USERNAME else None
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return None


@dataclass
class Clock:
    """A clock tests move by hand (no sleeping)."""

    now_value: Any
    log: list[Any] = field(default_factory=list)

    def __call__(self) -> Any:
        return self.now_value

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.now_value = self.now_value + timedelta(**kwargs)


@dataclass
class RunningClock:
    """Real time, shifted to start at ``start``: the bot's day begins where the test says.

    Tests that start the bot with its default posting time must not depend on the hour CI
    happens to run at (after 09:00 UTC a catch-up post would go out at start).
    """

    start: Any
    _origin: float = field(default_factory=time.monotonic)

    def __call__(self) -> Any:
        from datetime import timedelta

        return self.start + timedelta(seconds=time.monotonic() - self._origin)
