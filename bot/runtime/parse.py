"""Building a press's ``Update`` with only what the press path reads.

``Update.de_json`` of a press costs 140-220 us, most of it the ``Message`` the button is on:
``Message.__init__`` sets some 150 attributes (each through ``TelegramObject.__setattr__``)
and ``Message.de_json`` looks for every kind of content, then the keyboard's buttons. The door
reads the message's chat and id; nearly everything else goes unread. So a press's message is
a ``PressMessage``: a real ``Message`` (``isinstance`` holds, every method and property works)
that holds its chat and id at once and builds the rest from the update's JSON the first time
anything else is read, through PTB's own ``Message.de_json``. What a handler sees is the same
object either way; only when the work is done differs.

Only the plain shape takes this path (an update that is only a ``callback_query``, a query
whose keys PTB knows, a message with an id, a chat and a date: a ``Message`` even when the
date is 0, as ``CallbackQuery.de_json`` builds it); anything else, and anything that does not
parse here, is parsed by ``Update.de_json`` as before.

Both roads in use it: the webhook server (``runtime/webhook.py``) calls ``parse_update``;
long polling goes through ``PressBot.get_updates``, which lets PTB fetch the batch as always
but takes the entries from ``UpdatesRequest.parse_json_payload`` (``runtime/polling.py``)
before ``Bot.get_updates`` would build them. PTB's private parts used here (the slots the lazy
message fills, freezing) are behind ``runtime/private.py``'s wall.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Any, ClassVar

from telegram import CallbackQuery, Chat, Message, MessageEntity, Update, User
from telegram.ext import ExtBot

from bot.runtime import private

__all__ = ["RAW_UPDATES", "PressBot", "PressMessage", "parse_update", "parse_updates"]

# The keys of a callback query in Bot API 9 (https://core.telegram.org/bots/api#callbackquery).
_QUERY_KEYS = frozenset(
    {"id", "from", "chat_instance", "message", "data", "inline_message_id", "game_short_name"}
)


class PressMessage(Message):
    """A ``Message`` whose chat and id are ready and whose rest is parsed on first use."""

    __slots__ = ("_source",)
    # How many had to be built in full (a test reads it: the press path should build none).
    built_in_full: ClassVar[int] = 0

    def __init__(self, source: dict[str, Any], chat: Chat, bot: Any) -> None:
        # Not Message.__init__: that is the cost this class defers. TelegramObject's sets the
        # bookkeeping attributes every object has; the rest waits in ``_source``.
        private.init_object(self)
        self._source: dict[str, Any] | None = source
        self.message_id = source["message_id"]
        self.chat = chat
        self._id_attrs = (self.message_id, self.chat)
        self.set_bot(bot)
        private.freeze(self)

    def __hash__(self) -> int:
        # TelegramObject hashes the class with the id attributes; equal to a Message, so the
        # same hash as one (PTB's __eq__ already treats them as equal).
        return hash((Message, self._id_attrs))

    def __getattr__(self, name: str) -> Any:
        # Reached only for an attribute not set yet: build the whole message once, then read.
        source = object.__getattribute__(self, "_source") if name != "_source" else None
        if source is None or name.startswith("__"):
            raise AttributeError(name)
        if name == "entities":
            # Every CommandHandler reads it of every update's effective_message, a press's
            # included (commandhandler.check_update): built alone, as Message.de_json would.
            bot = object.__getattribute__(self, "_bot")
            entities = tuple(MessageEntity.de_list(source.get("entities") or [], bot))
            object.__setattr__(self, name, entities)
            return entities
        PressMessage.built_in_full += 1
        full = Message.de_json(source, object.__getattribute__(self, "_bot"))
        private.copy_slots(full, self, Message)
        object.__setattr__(self, "_source", None)
        return object.__getattribute__(self, name)


def _press(data: dict[str, Any], bot: Any) -> Update | None:
    """The update of a plain press, or None when it is not one (parse it in full)."""
    if len(data) != 2 or not isinstance(data.get("update_id"), int):
        return None
    query = data.get("callback_query")
    if not isinstance(query, dict) or not _QUERY_KEYS.issuperset(query):
        return None
    raw_message = query.get("message")
    message: Message | None = None
    if raw_message is not None:
        if not (
            isinstance(raw_message, dict)
            and isinstance(raw_message.get("message_id"), int)
            and isinstance(raw_message.get("chat"), dict)
            and isinstance(raw_message.get("date"), int)
        ):
            return None
        message = PressMessage(raw_message, Chat.de_json(raw_message["chat"], bot), bot)
    sender = User.de_json(query["from"], bot)
    callback = CallbackQuery(
        id=query["id"],
        from_user=sender,
        chat_instance=query["chat_instance"],
        message=message,
        data=query.get("data"),
        inline_message_id=query.get("inline_message_id"),
        game_short_name=query.get("game_short_name"),
    )
    callback.set_bot(bot)
    update = Update(update_id=data["update_id"], callback_query=callback)
    update.set_bot(bot)
    return update


def parse_update(data: dict[str, Any], bot: Any) -> Update:
    """``Update.de_json(data, bot)``, with a press's message parsed when first read."""
    try:
        update = _press(data, bot)
    except (KeyError, TypeError, ValueError):
        update = None  # not the shape it seemed: PTB parses it (and says what is wrong)
    return update if update is not None else Update.de_json(data, bot)


def parse_updates(entries: Sequence[dict[str, Any]], bot: Any) -> tuple[Update, ...]:
    return tuple(parse_update(entry, bot) for entry in entries)


# Set by ``PressBot.get_updates`` around PTB's own: ``UpdatesRequest.parse_json_payload`` puts
# the batch's entries here and hands PTB an empty batch to build.
RAW_UPDATES: contextvars.ContextVar[list[list[Any]] | None] = contextvars.ContextVar(
    "raw_updates", default=None
)


class PressBot(ExtBot[Any]):  # Any: the flood limiter takes per-request arguments
    """``ExtBot`` whose ``get_updates`` builds presses with ``parse_update``."""

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        box: list[list[Any]] = []
        token = RAW_UPDATES.set(box)
        try:
            parsed = await super().get_updates(*args, **kwargs)
        finally:
            RAW_UPDATES.reset(token)
        if not box:  # the request does not hand entries over (not an UpdatesRequest)
            return parsed
        updates = parse_updates(box[0], self)
        for update in updates:  # as ExtBot.get_updates does (a no-op without callback data)
            self.insert_callback_data(update)
        return updates
