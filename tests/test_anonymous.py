"""Commands from an anonymous group admin: Telegram sends them with ``sender_chat`` (the group)
and, for backward compatibility, ``from`` set to the placeholder @GroupAnonymousBot."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import Harness
from tests.fakes import Chat
from tests.helpers import next_question

ANONYMOUS_ID = 1087968824
ANONYMOUS: dict[str, Any] = {
    "id": ANONYMOUS_ID,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


def anonymous_command(group: Chat, text: str, message_id: int) -> dict[str, Any]:
    command = text.split(maxsplit=1)[0]
    return {
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": group.as_dict(),
            "from": ANONYMOUS,
            "sender_chat": group.as_dict(),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        }
    }


async def test_an_anonymous_admin_gets_answers(bot: Harness) -> None:
    group = bot.fake.group(-100555, "Anon group")
    bot.fake.push_raw(anonymous_command(group, "/quiz 2", 7001))
    question = await next_question(bot, group.id, 1)
    assert "Question 1/2" in question.text
    # Personal commands cannot be about a placeholder account: they say so.
    for n, command in enumerate(("/score", "/forget", "/daily", "/leaderboard")):
        before = len(bot.fake.messages_in(group.id))
        bot.fake.push_raw(anonymous_command(group, command, 7100 + n))

        def replied(b: int = before) -> bool:
            return len(bot.fake.messages_in(group.id)) > b

        await bot.fake.wait_until(replied)
        reply = bot.fake.messages_in(group.id)[-1].text
        if command != "/leaderboard":
            assert "your own account" in reply, (command, reply)
    assert await bot.data.store.users.get_user(ANONYMOUS_ID) is None
