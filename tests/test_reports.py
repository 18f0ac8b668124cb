"""Mistake reports, tried as careless and hostile users would: a report pending for an hour,
the same question reported twice, a flood of reports, a photo instead of a note."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.conftest import ADMIN, ALICE, Harness
from tests.fakes import Clock, StoredMessage
from tests.helpers import answered, next_question, press_answer, settled

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def reports_to_admin(h: Harness) -> list[str]:
    return [
        c.params["text"] for c in h.fake.sent_to(ADMIN.id) if "Mistake report" in c.params["text"]
    ]


async def started(h: Harness) -> Clock:
    clock = Clock(START)
    h.clock = clock
    await h.start()
    h.fake.send_text(ADMIN, "/start")  # so the bot may message the admin
    await h.fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == ADMIN.id)
    return clock


async def practised(h: Harness, number: int) -> StoredMessage:
    """Alice practises the number-th quiz question; returns the message with ⚑ on it."""
    qid = [q.id for q in h.bank.questions.values() if q.quizzable][number]

    def summaries() -> int:
        return sum("/1 right" in str(c.params.get("text", "")) for c in h.fake.sent_to(ALICE.id))

    before = summaries()
    h.fake.send_text(ALICE, f"/start q_{qid}")
    question = await next_question(h, ALICE.id, 1)
    await press_answer(h, ALICE, question, right=True)
    key = (question.chat.id, question.message_id)
    await h.fake.wait_until(lambda: "r1:" in str(h.fake.messages[key].reply_markup))
    # The round's summary too: a reply the test waits for next is not mistaken for it.
    await h.fake.wait_until(lambda: summaries() > before)
    return h.fake.messages[key]


def report_data(message: StoredMessage) -> str:
    return next(
        str(b["callback_data"])
        for b in message.buttons()
        if str(b.get("callback_data", "")).startswith("r1:")
    )


async def alice_says(h: Harness, text: str) -> str:
    before = len(h.fake.sent_to(ALICE.id))
    h.fake.send_text(ALICE, text)
    await h.fake.wait_until(lambda: len(h.fake.sent_to(ALICE.id)) > before)
    return str(h.fake.sent_to(ALICE.id)[-1].params["text"])


async def press_report(h: Harness, message: StoredMessage) -> str:
    query = h.fake.press(ALICE, message, report_data(message))
    return str((await answered(h, query)).get("text", ""))


async def test_a_report_goes_to_the_admins_once_per_question(harness: Harness) -> None:
    await started(harness)
    message = await practised(harness, 0)
    assert "within 10 minutes" in await press_report(harness, message)
    assert "Thank you" in await alice_says(harness, "The key is wrong <b>here</b>")
    reports = reports_to_admin(harness)
    assert len(reports) == 1
    assert "&lt;b&gt;here&lt;/b&gt;" in reports[0]  # the note is escaped
    # The same question again: refused at the button, and the next text is not a report.
    assert "already reported" in await press_report(harness, message)
    assert "/quiz" in await alice_says(harness, "and another thing")
    assert len(reports_to_admin(harness)) == 1


async def test_a_pending_report_expires(harness: Harness) -> None:
    clock = await started(harness)
    message = await practised(harness, 0)
    await press_report(harness, message)
    clock.advance(minutes=11)
    # An hour later this is small talk, not a report.
    assert "/quiz" in await alice_says(harness, "hello there")
    await settled(harness)
    assert reports_to_admin(harness) == []


async def test_reports_are_rate_limited_per_user(harness: Harness) -> None:
    await started(harness)
    for number in range(5):
        message = await practised(harness, number)
        assert "within 10 minutes" in await press_report(harness, message)
        assert "Thank you" in await alice_says(harness, f"note {number}")
    message = await practised(harness, 5)
    assert "try again tomorrow" in await press_report(harness, message)
    assert "/quiz" in await alice_says(harness, "note 6")
    assert len(reports_to_admin(harness)) == 5


async def test_a_photo_while_a_report_is_pending_is_answered_not_dropped(
    harness: Harness,
) -> None:
    await started(harness)
    message = await practised(harness, 0)
    await press_report(harness, message)
    before = len(harness.fake.sent_to(ALICE.id))
    chat = harness.fake.private_chat(ALICE)
    harness.fake.push_raw(
        {
            "message": {
                "message_id": 9000,
                "date": int(time.time()),
                "chat": chat.as_dict(),
                "from": ALICE.as_dict(),
                "photo": [{"file_id": "p", "file_unique_id": "u", "width": 9, "height": 9}],
            }
        }
    )
    await harness.fake.wait_until(lambda: len(harness.fake.sent_to(ALICE.id)) > before)
    assert "as text" in harness.fake.sent_to(ALICE.id)[-1].params["text"]
    # The report is still pending: the note that follows goes to the admins.
    assert "Thank you" in await alice_says(harness, "the explanation contradicts the key")
    assert len(reports_to_admin(harness)) == 1
