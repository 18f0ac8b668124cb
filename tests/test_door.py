"""The one door for button presses, tried as an attacker with a modified client would.

Telegram does not check ``callback_data``: a client can send any data on any message it can
see. Every kind of button the bot sends is pressed on another chat's message, on another
message of the same chat, by another user, and with edited data; each press must get exactly
one alert and change nothing (no points, no edit, no message). Then the victims' quizzes
finish normally with the right counts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.db.settings import Key
from bot.ui import callback_data as cd
from tests.conftest import ADMIN, ALICE, Harness
from tests.fakes import CHANNEL_ID, FakeUser, StoredMessage
from tests.helpers import answer_buttons, answered, next_question, press_answer, settled

MALLORY = FakeUser(6666, "Mallory")
GROUP = -100777
OTHER_GROUP = -100888


@dataclass
class Scene:
    """One message of every kind, each in the chat it belongs to."""

    quiz: StoredMessage  # Alice's private quiz question (a1)
    report: StoredMessage  # Alice's feedback + next question (r1 and a1)
    more: StoredMessage  # Alice's practise summary ("More on", m1)
    forget: StoredMessage  # Alice's /forget confirmation (f1)
    hide: StoredMessage  # Alice's private /leaderboard (h1)
    group: StoredMessage  # the group's quiz question (a1, n1)
    group_other: StoredMessage  # another bot message in the same group
    channel: StoredMessage  # a channel post (a1)
    channel_other: StoredMessage  # another channel post
    mallory_own: StoredMessage  # a message in Mallory's own private chat
    mallory_group: StoredMessage  # a message in Mallory's own group


def data_of(message: StoredMessage, prefix: str) -> str:
    found = [
        str(b["callback_data"])
        for b in message.buttons()
        if str(b.get("callback_data", "")).startswith(prefix)
    ]
    assert found, f"no {prefix} button on {message.text[:60]!r}"
    return found[0]


async def reply_in(
    h: Harness, user: FakeUser, text: str, chat_id: int, marker: str
) -> StoredMessage:
    before = len(h.fake.messages_in(chat_id))
    chat = h.fake.chats.get(chat_id)
    h.fake.send_text(user, text, chat if chat is not None and chat.type != "private" else None)
    await h.fake.wait_until(
        lambda: any(marker in m.text for m in h.fake.messages_in(chat_id)[before:])
    )
    return [m for m in h.fake.messages_in(chat_id)[before:] if marker in m.text][-1]


async def settle(h: Harness) -> None:
    """Wait until every asking the scene sent has its message recorded."""

    async def unbound() -> int:
        row = await h.data.store.database.one(
            "SELECT COUNT(*) FROM askings WHERE message_id IS NULL"
        )
        assert row is not None
        return int(row[0])

    for _ in range(500):
        if await unbound() == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("an asking never had its message recorded")


async def build_scene(h: Harness) -> Scene:
    fake = h.fake
    fake.group(GROUP)
    fake.group(OTHER_GROUP, "Mallory's group")
    # Alice practises one question: its summary carries "More on".
    more_q = next(q for q in h.bank.questions.values() if q.quizzable)
    fake.send_text(ALICE, f"/start q_{more_q.id}")
    practise = await next_question(h, ALICE.id, 1)
    await press_answer(h, ALICE, practise, right=True)
    await fake.wait_until(lambda: any("right</b>" in m.text for m in fake.messages_in(ALICE.id)))
    more = [m for m in fake.messages_in(ALICE.id) if "More on" in str(m.reply_markup)][-1]
    # Alice's quiz: answering question 1 makes the message carry a report button.
    fake.send_text(ALICE, "/quiz 3")
    first = await next_question(h, ALICE.id, 1)
    await press_answer(h, ALICE, first, right=True)
    report = await next_question(h, ALICE.id, 2)
    forget = await reply_in(h, ALICE, "/forget", ALICE.id, "for good")
    hide = await reply_in(h, ALICE, "/leaderboard", ALICE.id, "All time")
    # The group's quiz, and another bot message in that group.
    group_other = await reply_in(h, ALICE, "/leaderboard", GROUP, "All time")
    fake.send_text(ALICE, "/quiz 2", fake.chats[GROUP])
    group = await next_question(h, GROUP, 1)
    # Two channel posts.
    fake.send_text(ADMIN, "/start")
    await fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ADMIN.id)
    ids = [q.id for q in h.bank.questions.values() if q.quizzable][:2]
    for qid in ids:
        fake.send_text(ADMIN, f"/post_now {qid}")
    await fake.wait_until(lambda: len(fake.channel_posts()) == 2)
    channel, channel_other = fake.channel_posts()
    # Mallory's own places.
    mallory_own = await reply_in(h, MALLORY, "/start", MALLORY.id, "")
    mallory_group = await reply_in(h, MALLORY, "/leaderboard", OTHER_GROUP, "All time")
    await settle(h)
    return Scene(
        quiz=report,  # the open question of Alice's quiz is on this message now
        report=report,
        more=more,
        forget=forget,
        hide=hide,
        group=group,
        group_other=group_other,
        channel=channel,
        channel_other=channel_other,
        mallory_own=mallory_own,
        mallory_group=mallory_group,
    )


async def state(h: Harness) -> tuple[object, ...]:
    store = h.data.store
    return (
        await store.stats.score(ALICE.id),
        await store.stats.score(MALLORY.id),
        await store.stats.count("answers"),
        await store.stats.count("users"),
        await store.users.get_user(ALICE.id),
    )


async def refused(h: Harness, user: FakeUser, message: StoredMessage, data: str) -> None:
    """One press: exactly one alert, then nothing else at all."""
    before_calls = len(h.fake.calls)
    before_state = await state(h)
    query = h.fake.press(user, message, data)
    params = await answered(h, query)
    assert params.get("text"), (data, params)
    assert params.get("show_alert") is True, (data, params)
    await settled(h)
    after = [c.method for c in h.fake.calls[before_calls:] if c.method != "getUpdates"]
    assert after == ["answerCallbackQuery"], (data, message.chat.id, after)
    assert await state(h) == before_state, data


def edited(data: str) -> list[str]:
    """What a modified client makes of ``data``."""
    kind = data[:2]
    return [
        f"{kind}:{10**18 - 1}" + (":0" if kind == "a1" else ""),  # another (huge) id
        f"{kind}:{'9' * 40}" + (":0" if kind == "a1" else ""),  # over 18 digits
        f"{kind}:-5" + (":0" if kind == "a1" else ""),  # negative
        f"{kind}:²" + (":0" if kind == "a1" else ""),  # not an ASCII digit
        f"{kind}:١٢" + (":0" if kind == "a1" else ""),  # Arabic-Indic digits
        data[:-1],  # truncated
        data + "0",  # extended
        "x" * 64,  # 64 bytes of junk
        "",  # empty
        data.replace(":", "∶"),  # a look-alike colon
    ]


KINDS = ["quiz", "report", "more", "forget-yes", "forget-no", "hide", "next", "group", "channel"]


def victim(scene: Scene, kind: str) -> tuple[StoredMessage, str, FakeUser]:
    """The victim's message, the data on it, and who may legitimately press it."""
    match kind:
        case "quiz":
            return scene.quiz, data_of(scene.quiz, "a1:"), ALICE
        case "report":
            return scene.report, data_of(scene.report, "r1:"), ALICE
        case "more":
            return scene.more, data_of(scene.more, "m1:"), ALICE
        case "forget-yes":
            return scene.forget, cd.forget(True), ALICE
        case "forget-no":
            return scene.forget, cd.forget(False), ALICE
        case "hide":
            return scene.hide, data_of(scene.hide, "h1:"), ALICE
        case "next":
            return scene.group, data_of(scene.group, "n1:"), ALICE
        case "group":
            return scene.group, data_of(scene.group, "a1:"), ALICE
        case _:
            return scene.channel, data_of(scene.channel, "a1:"), MALLORY


@pytest.mark.parametrize("kind", KINDS)
async def test_every_button_refuses_forged_presses(bot: Harness, kind: str) -> None:
    scene = await build_scene(bot)
    message, data, owner = victim(scene, kind)
    # On another chat's message (Mallory replays it in her own chat and group).
    await refused(bot, MALLORY, scene.mallory_own, data)
    await refused(bot, MALLORY, scene.mallory_group, data)
    # On another message of the same chat.
    same_chat_other = {
        ALICE.id: scene.forget if message is not scene.forget else scene.hide,
        GROUP: scene.group_other,
        CHANNEL_ID: scene.channel_other,
    }[message.chat.id]
    await refused(bot, owner, same_chat_other, data)
    # By another user, on the very message (where the button is someone's own).
    if kind not in ("group", "next", "channel"):
        await refused(bot, MALLORY, message, data)
    # Edited data, on the very message, by its rightful presser.
    for forged in edited(data):
        await refused(bot, owner, message, forged)
    # Data of another kind or another asking that the bot never put on this message.
    for other in (data_of(scene.channel_other, "a1:"), cd.forget(True), cd.hide(True)):
        if other not in {str(b.get("callback_data")) for b in message.buttons()}:
            await refused(bot, owner, message, other)


async def test_victims_quizzes_finish_normally_after_the_attacks(bot: Harness) -> None:
    scene = await build_scene(bot)
    for kind in KINDS:
        message, data, _owner = victim(scene, kind)
        await refused(bot, MALLORY, scene.mallory_own, data)
        for forged in edited(data):
            await refused(bot, MALLORY, message, forged)
    # Alice's private quiz: question 2 is open on the report message; 3 follows.
    await press_answer(bot, ALICE, scene.report, right=True)
    third = await next_question(bot, ALICE.id, 3)
    await press_answer(bot, ALICE, third, right=False)
    await bot.fake.wait_until(
        lambda: any("2/3 right" in m.text for m in bot.fake.messages_in(ALICE.id))
    )
    # The group's quiz: Alice and Bob answer, Next, question 2, Finish.
    bob = FakeUser(2002, "Bob")
    await press_answer(bot, ALICE, scene.group, right=True)
    await press_answer(bot, bob, scene.group, right=False)
    await bot.fake.wait_until(
        lambda: "Bob" in bot.fake.messages[(GROUP, scene.group.message_id)].text
    )
    bot.fake.press(ALICE, scene.group, data_of(scene.group, "n1:"))
    second = await next_question(bot, GROUP, 2)
    await press_answer(bot, bob, second, right=True)
    bot.fake.press(bob, second, data_of(second, "n1:"))
    await bot.fake.wait_until(
        lambda: any("Quiz over" in m.text for m in bot.fake.messages_in(GROUP))
    )
    summary = [m for m in bot.fake.messages_in(GROUP) if "Quiz over" in m.text][-1].text
    summary = summary.replace("\u2068", "").replace("\u2069", "")  # names are isolated
    assert "Alice: 1/1 right" in summary and "Bob: 1/2 right" in summary
    # The channel post still takes honest presses.
    honest = bot.fake.press(MALLORY, scene.channel, data_of(scene.channel, "a1:"))
    assert "already" not in (await answered(bot, honest)).get("text", "")
    assert len(answer_buttons(scene.channel)) >= 2


async def test_hide_and_forget_work_for_their_owner(bot: Harness) -> None:
    scene = await build_scene(bot)
    query = bot.fake.press(ALICE, scene.hide, data_of(scene.hide, "h1:"))
    assert "hidden" in (await answered(bot, query))["text"]
    assert (await bot.data.store.users.get_user(ALICE.id)).hidden  # type: ignore[union-attr]
    query = bot.fake.press(ALICE, scene.forget, cd.forget(False))
    assert "Nothing was deleted" in (await answered(bot, query))["text"]
    await bot.fake.wait_for("editMessageText", lambda c: "Kept everything" in c.params["text"])
    # The confirmation was answered: pressing "yes" on it now is refused.
    await refused(bot, ALICE, scene.forget, cd.forget(True))
    assert (await bot.data.store.stats.score(ALICE.id))[1] > 0


async def test_admin_commands_in_a_group_say_so_and_do_nothing(bot: Harness) -> None:
    fake = bot.fake
    fake.group(GROUP)
    qid = next(q.id for q in bot.bank.questions.values() if q.quizzable)
    for command in (f"/post_now {qid}", f"/preview {qid}", "/stats", "/queue", "/skip", "/pause"):
        reply = await reply_in(bot, ADMIN, command, GROUP, "")
        replies = [m for m in fake.messages_in(GROUP) if m.message_id >= reply.message_id]
        assert len(replies) == 1
        assert "private chat" in replies[0].text
        assert not replies[0].buttons()
    await settled(bot)
    assert fake.channel_posts() == []
    assert await bot.data.store.settings.get_kv(Key.PAUSED) is None


async def test_every_press_is_answered_while_every_send_and_edit_is_stuck(bot: Harness) -> None:
    """No press waits on a send or an edit (a flood limiter, a slow network): each is answered
    while all of them hang, and what follows each press lands once they move again."""
    scene = await build_scene(bot)
    fake = bot.fake
    stuck = fake.hold("sendMessage", "editMessageText", "editMessageReplyMarkup")
    # Alice's presses are handled in her order: her quiz answer first, then "More on" (which
    # stops that quiz and opens one on the topic), so the answer counts.
    queries = [await press_answer(bot, ALICE, scene.report, right=True)]  # private quiz
    presses = [
        (ALICE, scene.report, data_of(scene.report, "r1:")),
        (ALICE, scene.forget, cd.forget(False)),
        (ALICE, scene.hide, data_of(scene.hide, "h1:")),
        (ALICE, scene.more, data_of(scene.more, "m1:")),
        (MALLORY, scene.channel, data_of(scene.channel, "a1:")),
    ]
    queries += [fake.press(user, message, data) for user, message, data in presses]
    queries.append(await press_answer(bot, ALICE, scene.group, right=True))  # group quiz
    for query in queries:
        await asyncio.wait_for(answered(bot, query), timeout=3)
    # "Next" in the group, once Alice's answer is in: answered too, its reveal still stuck.
    await asyncio.wait_for(
        answered(bot, fake.press(ALICE, scene.group, data_of(scene.group, "n1:"))), timeout=3
    )
    stuck.set()
    await fake.wait_for("editMessageText", lambda c: "Kept everything" in c.params["text"])
    await next_question(bot, ALICE.id, 3)  # the private quiz moved on
    await next_question(bot, GROUP, 2)  # and so did the group's
    # ... and "More on" sent the first question of its quiz.
    await fake.wait_until(
        lambda: any(
            "Question 1/" in m.text and m.message_id > scene.report.message_id
            for m in fake.messages_in(ALICE.id)
        )
    )


async def test_more_on_takes_effect_in_the_pressers_order(bot: Harness) -> None:
    """ "More on" stops the open quiz when it is pressed, not when its first question is sent:
    an answer pressed after it, on the old quiz, meets that quiz over and counts nothing."""
    scene = await build_scene(bot)
    fake = bot.fake
    before = await state(bot)
    stuck = fake.hold("sendMessage", "editMessageText", "editMessageReplyMarkup")
    more = fake.press(ALICE, scene.more, data_of(scene.more, "m1:"))
    late = await press_answer(bot, ALICE, scene.report, right=True)
    await asyncio.wait_for(answered(bot, more), timeout=3)
    reply = await asyncio.wait_for(answered(bot, late), timeout=3)
    assert reply.get("text") == "This quiz is over. /quiz starts a new one."
    assert await state(bot) == before
    stuck.set()
    await fake.wait_until(
        lambda: any(
            "Question 1/" in m.text and m.message_id > scene.report.message_id
            for m in fake.messages_in(ALICE.id)
        )
    )
