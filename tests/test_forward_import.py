"""Forward to import: an admin forwards a channel post, sees the entry, and adds it (or not).

End to end against the fake Bot API, with a copy of the real bank as CONTENT_DIR; every attack
on the Add button (another user, another message, edited data, a replay, a restart) writes
nothing.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.bank import check_bank
from bot.services import import_files, importing
from bot.ui import callback_data as cd
from tests.conftest import ADMIN, ALICE, CONTENT, Harness
from tests.fakes import StoredMessage
from tests.helpers import answered, button
from tests.test_importer import (
    cli_import,
    many_posts,
    one_post,
    open_files,
    questions_in,
    wait_until_waiting,
)

pytestmark = pytest.mark.e2e

POST = (
    "❔ Interview Question\n\n"
    "Why does a frozenset hash the same whatever order its items were added in?\n\n"
    "Answer: Its hash combines the hashes of its items with an order-free mix.\n"
    "• Equal frozensets must hash equal, and set equality ignores order.\n\n"
    "tags: #Python #Interview #Sets\n"
    "━━━━━━━━━━━━━━━\n"
    "By: @pyinterviewq ✨"
)


@pytest.fixture
async def imp(harness: Harness, tmp_path: Path) -> AsyncIterator[Harness]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    await harness.start(content_dir=content)
    yield harness


def imported(h: Harness) -> Path:
    return h.settings.content_dir / "imported.yaml"


async def offer(h: Harness, text: str = POST, *, caption: bool = False) -> StoredMessage:
    """Forward ``text`` as the admin; the bot's reply that carries Add / Skip."""
    h.fake.forward(ADMIN, text, caption=caption)
    await h.fake.wait_until(lambda: _offer(h) is not None)
    message = _offer(h)
    assert message is not None
    return message


def _offer(h: Harness) -> StoredMessage | None:
    found = [
        m
        for m in h.fake.messages_in(ADMIN.id)
        if any(str(b.get("callback_data", "")).startswith("i1:") for b in m.buttons())
    ]
    return found[-1] if found else None


async def reply_to(h: Harness, chat_id: int, count: int = 1) -> str:
    call = await h.fake.wait_for(
        "sendMessage", lambda c: c.params["chat_id"] == chat_id, count=count
    )
    return str(call.params["text"])


async def test_admin_forward_previews_then_add_writes_a_valid_entry(imp: Harness) -> None:
    offer_message = await offer(imp)
    assert "frozenset hash" in offer_message.text
    assert "tags:" in offer_message.text and "By: @pyinterviewq" in offer_message.text
    labels = [b["text"] for b in offer_message.buttons()]
    assert labels == ["➕ Add to the bank", "Skip"]
    assert not imported(imp).exists()

    add = button(offer_message, "i1:")["callback_data"]
    assert add.endswith(":add")
    query = imp.fake.press(ADMIN, offer_message, add)
    assert (await answered(imp, query)).get("text") == "Added to the bank."
    text = await reply_to(imp, ADMIN.id, count=2)
    assert "/reload" in text
    assert "frozenset hash" in imported(imp).read_text()
    bank, problems = check_bank(imp.settings.content_dir)
    assert problems == []
    assert any("frozenset hash" in q.question for q in bank.questions.values())
    assert offer_message.buttons() == []  # the buttons are gone

    # The second Add on the same message adds nothing (refused at the door: buttons forgotten).
    before = imported(imp).read_text()
    again = imp.fake.press(ADMIN, offer_message, add)
    assert (await answered(imp, again)).get("show_alert") is True
    assert imported(imp).read_text() == before


async def test_caption_forward_and_skip_writes_nothing(imp: Harness) -> None:
    offer_message = await offer(imp, caption=True)
    skip = [b for b in offer_message.buttons() if b["callback_data"].endswith(":skip")][0]
    query = imp.fake.press(ADMIN, offer_message, skip["callback_data"])
    assert (await answered(imp, query)).get("text") == "Skipped: nothing was added."
    await imp.fake.wait_until(lambda: offer_message.buttons() == [])
    add = skip["callback_data"].replace(":skip", ":add")  # and Add after Skip does nothing
    late = imp.fake.press(ADMIN, offer_message, add)
    assert (await answered(imp, late)).get("show_alert") is True
    assert not imported(imp).exists()


async def test_non_admin_forward_gets_the_usual_reply_and_writes_nothing(imp: Harness) -> None:
    imp.fake.forward(ALICE, POST)
    text = await reply_to(imp, ALICE.id)
    assert "/quiz" in text and not _offer(imp)
    assert not imported(imp).exists()


async def test_not_a_question_and_already_in_the_bank_say_so(imp: Harness) -> None:
    imp.fake.forward(ADMIN, "Good morning, channel! New questions every day at 9.")
    assert "not an interview question" in await reply_to(imp, ADMIN.id)
    known = next(iter(imp.bank.questions.values()))
    post = f"❔ Interview Question\n\n{known.question}\n\nAnswer: {known.answer}\n"
    imp.fake.forward(ADMIN, post)
    assert "already in the bank" in await reply_to(imp, ADMIN.id, count=2)
    imp.fake.forward(ADMIN, POST, origin="user")
    assert "from a channel" in await reply_to(imp, ADMIN.id, count=3)
    assert not _offer(imp) and not imported(imp).exists()


async def test_forged_and_replayed_import_presses_are_refused_and_write_nothing(
    imp: Harness,
) -> None:
    fake = imp.fake
    offer_message = await offer(imp)
    add = button(offer_message, "i1:")["callback_data"]
    pending_id = cd.decode(add).args[0]  # type: ignore[union-attr]
    fake.send_text(ADMIN, "/help")  # the bot's reply: another message of the admin's chat
    await reply_to(imp, ADMIN.id, count=2)
    help_reply = fake.last_message(ADMIN.id)
    assert help_reply.message_id != offer_message.message_id
    attacks = [
        (ALICE, offer_message, add),  # another user, same message
        (ADMIN, help_reply, add),  # replayed onto another message
        (ADMIN, offer_message, f"i1:{int(pending_id) + 1}:add"),  # edited id
        (ADMIN, offer_message, f"i1:{pending_id}:ADD"),  # edited action
        (ADMIN, offer_message, f"i1:{pending_id}:add\n"),  # trailing newline
    ]
    for user, message, data in attacks:
        query = fake.press(user, message, data)
        params = await answered(imp, query)
        assert params.get("show_alert") is True, data
    assert not imported(imp).exists()
    # The genuine press still works afterwards: the attacks consumed nothing.
    query = fake.press(ADMIN, offer_message, add)
    assert (await answered(imp, query)).get("text") == "Added to the bank."
    assert imported(imp).exists()


async def test_a_press_after_a_restart_says_the_import_expired(imp: Harness) -> None:
    offer_message = await offer(imp)
    add = button(offer_message, "i1:")["callback_data"]
    await imp.restart()
    query = imp.fake.press(ADMIN, offer_message, add)
    params = await answered(imp, query)
    assert params.get("show_alert") is True and "expired" in str(params.get("text"))
    assert not imported(imp).exists()


async def test_add_and_skip_are_answered_while_sends_and_edits_are_stuck(imp: Harness) -> None:
    """Each press is answered at once, and the admin's next press too (one user's updates run
    in order): taking the buttons off, and the note, follow outside the press."""
    first = await offer(imp)
    other = POST.replace("frozenset hash", "tuple of ints hash")
    imp.fake.forward(ADMIN, other)
    await imp.fake.wait_until(lambda: (o := _offer(imp)) is not None and o is not first)
    second = _offer(imp)
    assert second is not None
    stuck = imp.fake.hold("sendMessage", "editMessageReplyMarkup")
    for message, action in ((first, "add"), (second, "skip")):
        data = next(
            str(b["callback_data"])
            for b in message.buttons()
            if str(b["callback_data"]).endswith(f":{action}")
        )
        query = imp.fake.press(ADMIN, message, data)
        await asyncio.wait_for(answered(imp, query), timeout=3)
    assert imported(imp).exists()
    stuck.set()
    await imp.fake.wait_until(lambda: not first.buttons() and not second.buttons())
    assert "/reload" in await reply_to(imp, ADMIN.id, count=3)


def _lock_waiters(lock: Path) -> int:
    """How many open files of this process are ``lock`` (ours, and the Add's thread's)."""
    return open_files("self").count(str(lock))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
async def test_cli_import_and_add_at_once_keep_both(imp: Harness) -> None:
    """An import of 300 posts and the admin's Add start while FILE is locked (as when a third
    import writes it); both re-read FILE under the lock: 300 + 1 entries, none lost."""
    content = imp.settings.content_dir
    out, lock = imported(imp), content / ".imported.yaml.lock"
    source = content.parent / "posts.txt"
    source.write_text(many_posts("omega", 300), encoding="utf-8")
    offer_message = await offer(imp)
    add = button(offer_message, "i1:")["callback_data"]
    with import_files.file_lock(out, 1):
        cli = cli_import(content.parent, {"CONTENT_DIR": str(content)}, str(source))
        await asyncio.to_thread(wait_until_waiting, [cli], lock)
        query = imp.fake.press(ADMIN, offer_message, add)
        async with asyncio.timeout(importing.ADD_WAIT - 1):  # the Add waits for the lock too
            while _lock_waiters(lock) < 2:
                await asyncio.sleep(0.01)
    assert (await answered(imp, query)).get("text") == "Added to the bank."
    stdout, stderr = await asyncio.to_thread(cli.communicate, timeout=120)
    assert cli.returncode == 0, stderr
    assert stdout.strip().splitlines()[-1] == "300 posts read · 300 imported · 0 skipped"
    questions = questions_in(out)
    assert len(set(questions)) == len(questions) == 301
    assert any("frozenset hash" in q for q in questions)
    assert check_bank(content)[1] == []


async def test_add_while_another_import_holds_the_file_says_so_and_can_be_pressed_again(
    imp: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "ADD_WAIT", 0.2)
    offer_message = await offer(imp)
    add = button(offer_message, "i1:")["callback_data"]
    with import_files.file_lock(imported(imp), 1):
        query = imp.fake.press(ADMIN, offer_message, add)
        params = await answered(imp, query)
    assert params.get("show_alert") is True and "another import" in str(params.get("text"))
    assert not imported(imp).exists()
    again = imp.fake.press(ADMIN, offer_message, add)
    assert (await answered(imp, again)).get("text") == "Added to the bank."
    assert "frozenset hash" in imported(imp).read_text()


async def test_a_huge_imported_answer_is_sent_in_at_most_two_messages(imp: Harness) -> None:
    """A 1 MB answer (a text file run together) used to make ``/start a_<id>`` send 257
    messages; imported, it is bounded, and the bank takes it."""
    content = imp.settings.content_dir
    source = content.parent / "huge.txt"
    answer = "A sentence of the huge answer. " * 33_000
    source.write_text(one_post("Why is this answer so long?", answer), encoding="utf-8")
    result = await asyncio.to_thread(importing.run_import, [source], imported(imp), content)
    (entry,) = result.plan.entries
    imp.fake.send_text(ADMIN, "/reload")
    await imp.fake.wait_until(lambda: entry.id in imp.data.bank.questions)
    before = len(imp.fake.sent_to(ALICE.id))
    imp.fake.send_text(ALICE, f"/start a_{entry.id}")
    imp.fake.send_text(ALICE, "/help")  # handled after the /start: its reply marks the end
    await imp.fake.wait_until(
        lambda: any("/quiz" in c.params["text"] for c in imp.fake.sent_to(ALICE.id)[before:])
    )
    sent = [c.params["text"] for c in imp.fake.sent_to(ALICE.id)[before:]]
    answers = [t for t in sent if "huge answer" in t]
    assert 1 <= len(answers) <= 2, [t[:80] for t in sent]
