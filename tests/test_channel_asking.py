"""Buttons on a channel post stay live (CONTRACT §4) when its message id is not known: a press
that comes before the send is stored, and a post whose send outcome was unknown (Telegram
delivered it, the bot heard 502). The door (services/door.py) binds the first press's
message, and the press path's asking cache (db/quizzes.py) never keeps a stale copy."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.services.presses import NOT_VALID
from tests.conftest import ADMIN, ALICE, BOB, Harness
from tests.fakes import FakeUser
from tests.helpers import answer_buttons, answered
from tests.test_faults_after_effect import admin_opens_bot, admin_pages

pytestmark = pytest.mark.e2e

CAROL = FakeUser(2003, "Carol")


async def _press(h: Harness, user: FakeUser, message: Any, data: str) -> str:
    return str((await answered(h, h.fake.press(user, message, data))).get("text"))


async def test_a_press_before_the_post_is_stored_is_graded_and_so_is_every_later_one(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: a reader presses between the send's answer and the commit that stores its
    message. Before, that press was refused, and the door cached the asking as it was then
    (no chat, no message): every press on the post was refused until a restart."""
    fake, store = bot.fake, bot.data.store
    stored = asyncio.Event()
    release = asyncio.Event()
    post_sent = store.channel.post_sent

    async def slow_post_sent(*args: Any, **kwargs: Any) -> None:
        await release.wait()
        await post_sent(*args, **kwargs)
        stored.set()

    monkeypatch.setattr(store.channel, "post_sent", slow_post_sent)
    await admin_opens_bot(bot)
    fake.send_text(ADMIN, "/post_now conc-gil-what")
    await fake.wait_until(lambda: bool(fake.channel_posts()))
    post = fake.channel_posts()[0]
    data = answer_buttons(post)[0]["callback_data"]
    early = await _press(bot, BOB, post, data)
    release.set()
    await asyncio.wait_for(stored.wait(), 10)
    later = await _press(bot, ALICE, post, data)
    again = await _press(bot, BOB, post, data)
    for text in (early, later, again):
        assert text != NOT_VALID
    assert again.startswith("You already answered")
    await fake.wait_until(lambda: any("Posted" in t for t in admin_pages(fake)))


async def test_a_post_whose_send_outcome_was_unknown_keeps_live_buttons(bot: Harness) -> None:
    """Attack: Telegram delivers the post and answers 502. Before, every reader's press got
    "This button is not valid here." Now the first press on the channel, on a message that
    carries the button, binds the post's message; the same data pressed on another message
    (a forged press, before or after) is still refused."""
    fake, store = bot.fake, bot.data.store
    await admin_opens_bot(bot)
    fake.send_text(ADMIN, "/post_now conc-gil-what")  # another post, sent normally
    await fake.wait_until(lambda: any("Posted" in t for t in admin_pages(fake)))
    fake.fail("sendMessage", 502, after_effect=True)
    fake.send_text(ADMIN, "/post_now")
    await fake.wait_until(lambda: len(fake.channel_posts()) == 2)
    await fake.wait_until(lambda: any("/post_now" in t and "may" in t for t in admin_pages(fake)))
    other, post = fake.channel_posts()
    data = answer_buttons(post)[0]["callback_data"]
    # Forged first: the unknown post's data on the other post is refused and binds nothing.
    assert await _press(bot, CAROL, other, data) == NOT_VALID
    first = await _press(bot, BOB, post, data)
    assert first != NOT_VALID and not first.startswith("You already")
    assert (await _press(bot, ALICE, post, data)) != NOT_VALID
    assert (await _press(bot, BOB, post, data)).startswith("You already answered")
    assert await _press(bot, CAROL, other, data) == NOT_VALID
    asking = await store.quizzes.get_asking(int(data.split(":")[1]))
    assert asking is not None and asking.message_id == post.message_id
    # The readers' answers are recorded (once each) like any channel answer.
    await store.answers.drain()
    answers = await store.quizzes.asking_answers(asking.id)
    assert sorted(user for user, _, _ in answers) == sorted([BOB.id, ALICE.id])
