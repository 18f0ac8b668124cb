"""A press's update built lazily (runtime/parse.py) is the update PTB would have built.

Compared field by field with ``Update.de_json`` on every shape a press comes in; then through
the real application, over long polling and over the webhook road's parser, a channel press
and a quiz answer are handled without their message ever being built in full.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from telegram import Bot, Message, Update
from telegram.ext import TypeHandler

from bot.runtime.parse import PressMessage, parse_update
from bot.runtime.polling import readable
from bot.runtime.updates import fairness_key
from tests.conftest import ADMIN, ALICE, TOKEN, Harness
from tests.fakes import FakeBotApi, FakeUser, StoredMessage
from tests.helpers import answer_buttons, answered, next_question, press_answer

READER = FakeUser(5001, "Reader")


def _press(fake: FakeBotApi, message: StoredMessage, data: str = "a1:1:0") -> dict[str, Any]:
    _, update = fake.press_update(READER, message, data)
    return update


def _shapes(fake: FakeBotApi) -> dict[str, dict[str, Any]]:
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a1:1:0"}]]}
    channel = _press(
        fake, StoredMessage(fake.channel, 7, "<b>Q</b>", "HTML", keyboard, 1700000000)
    )
    chat = fake.private_chat(FakeUser(42, "L"))
    private = _press(fake, StoredMessage(chat, 8, "Question 1/10", "HTML", keyboard, 1700000001))
    shapes = {"channel": channel, "private": private}
    # As Telegram sends a channel post: its author is the channel; with entities and a topic.
    real = copy.deepcopy(channel)
    message = real["callback_query"]["message"]
    message["sender_chat"] = message["chat"]
    message["entities"] = [{"type": "bold", "offset": 0, "length": 1}]
    message["message_thread_id"] = 3
    message["is_topic_message"] = True
    message["a_field_of_a_later_bot_api"] = {"x": 1}
    shapes["as sent"] = real
    inaccessible = copy.deepcopy(private)
    inaccessible["callback_query"]["message"] = {
        "message_id": 8,
        "date": 0,
        "chat": inaccessible["callback_query"]["message"]["chat"],
    }
    shapes["inaccessible"] = inaccessible
    inline = copy.deepcopy(private)
    del inline["callback_query"]["message"]
    inline["callback_query"]["inline_message_id"] = "AAA"
    shapes["inline message"] = inline
    extra = copy.deepcopy(private)
    extra["callback_query"]["a_later_field"] = 1  # not a shape parse knows: PTB parses it
    shapes["unknown key"] = extra
    return shapes


@pytest.mark.parametrize(
    "shape", ["channel", "private", "as sent", "inaccessible", "inline message", "unknown key"]
)
def test_a_press_parses_to_what_ptb_builds(fake_api: FakeBotApi, shape: str) -> None:
    data = _shapes(fake_api)[shape]
    before = copy.deepcopy(data)
    bot = Bot(TOKEN)
    expected = Update.de_json(copy.deepcopy(data), bot)
    lazy = parse_update(data, bot)
    assert lazy.to_dict() == expected.to_dict()  # every field, the message's built on demand
    assert data == before  # the JSON is not changed (PTB's de_json does not either)
    again = parse_update(data, bot)
    assert again == expected and again.callback_query == expected.callback_query
    message = again.callback_query.message if again.callback_query else None
    if message is not None:
        assert isinstance(message, Message) and message == expected.effective_message
        assert expected.effective_message == message
        assert len({message, expected.effective_message}) == 1  # the same hash, too
        assert message.get_bot() is bot and again.callback_query.get_bot() is bot  # type: ignore[union-attr]
        assert message.date == expected.callback_query.message.date  # type: ignore[union-attr]
        assert message.text == expected.callback_query.message.text  # type: ignore[union-attr]
        assert message.api_kwargs == expected.callback_query.message.api_kwargs  # type: ignore[union-attr]
        with pytest.raises(AttributeError):
            message.text = "changed"  # frozen, as PTB's are
    pickled = pickle.loads(pickle.dumps(parse_update(data, bot)))  # noqa: S301 (our own)
    for copied in (pickled, copy.deepcopy(lazy)):
        assert copied.to_dict() == expected.to_dict()
    lazily = isinstance(lazy.callback_query.message, PressMessage)  # type: ignore[union-attr]
    assert lazily == (shape not in ("unknown key", "inline message"))


def test_a_malformed_press_is_unreadable_as_before(fake_api: FakeBotApi) -> None:
    """What PTB cannot read, parse_update cannot either: polling still steps past it."""
    bad = _shapes(fake_api)["private"]
    del bad["callback_query"]["chat_instance"]
    with pytest.raises(TypeError, match="chat_instance"):
        Update.de_json(copy.deepcopy(bad), None)
    with pytest.raises(TypeError, match="chat_instance"):  # PTB's own error, as before
        parse_update(bad, None)
    _, dropped = readable([bad])
    assert dropped == [bad["update_id"]]


async def _spy(h: Harness) -> list[Update]:
    seen: list[Update] = []

    async def record(update: object, _: object) -> None:
        if isinstance(update, Update) and update.callback_query is not None:
            seen.append(update)

    assert h.app is not None
    h.app.add_handler(TypeHandler(Update, record, block=True), group=-100)
    return seen


async def test_presses_over_polling_are_handled_without_building_their_message(
    bot: Harness,
) -> None:
    seen = await _spy(bot)
    fake = bot.fake
    fake.send_text(ADMIN, "/post_now conc-gil-what")
    await fake.wait_until(lambda: bool(fake.channel_posts()))
    post = fake.channel_posts()[0]
    fake.send_text(ALICE, "/quiz")
    question = await next_question(bot, ALICE.id, 1)
    built = PressMessage.built_in_full
    channel_alert = await answered(
        bot, fake.press(READER, post, answer_buttons(post)[0]["callback_data"])
    )
    assert channel_alert["show_alert"] is True
    assert await answered(bot, await press_answer(bot, ALICE, question, right=True))
    await next_question(bot, ALICE.id, 2)  # the answer's edit is done
    assert len(seen) == 2
    assert all(
        u.callback_query and isinstance(u.callback_query.message, PressMessage) for u in seen
    )
    assert PressMessage.built_in_full == built  # nobody on the press path read past chat and id
    asking_id = int(answer_buttons(post)[0]["callback_data"].split(":")[1])
    assert (await bot.data.store.stats.tally(asking_id))[0] == 1


def test_a_press_on_a_channel_post_waits_in_its_pressers_queue(fake_api: FakeBotApi) -> None:
    """A channel post carries its channel as sender_chat (as Telegram sends it): keyed by the
    message, every reader's press would queue behind every other's. And the key is found
    without building the message."""
    data = _shapes(fake_api)["as sent"]
    update = parse_update(data, None)
    built = PressMessage.built_in_full
    assert fairness_key(update) == READER.id
    assert fairness_key(Update.de_json(copy.deepcopy(data), None)) == READER.id
    assert PressMessage.built_in_full == built
