"""Routes you can grep: THE DOOR as a guard in front of one pattern route per kind of button.

The wiring is read back from the real Application (``handlers.register``), and the door is
attacked where the guard design could leak: a door that fails must let no route run.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from telegram.ext import CallbackQueryHandler

from bot.app import build_application
from bot.config import Settings
from bot.core.models import QuestionBank
from bot.handlers import DOOR_GROUP
from bot.services import door
from bot.ui import callback_data as cd
from tests.conftest import ALICE, Harness
from tests.helpers import answered, next_question, press_answer, settled

SAMPLES = {
    cd.ANSWER: cd.answer(12, 3),
    cd.NEXT: cd.next_question(12),
    cd.REPORT: cd.report(12),
    cd.FORGET: cd.forget(True),
    cd.HIDE: cd.hide(False),
    cd.MORE: cd.more("py-gil-01"),
    cd.DONE: cd.done(12),
    cd.IMPORT: cd.import_entry(12, True),
    cd.GAME: cd.game_answer(12, 0),
    cd.PROGRESS: cd.progress(),
}


def test_every_kind_has_one_route_behind_the_door(
    settings: Settings, real_bank: QuestionBank
) -> None:
    app = build_application(settings, real_bank)
    groups = sorted(app.handlers)
    assert groups[0] == DOOR_GROUP
    guards = [h for h in app.handlers[DOOR_GROUP] if isinstance(h, CallbackQueryHandler)]
    # One guard, for every press whatever its data (it refuses what matches no route).
    assert [(h.callback, h.pattern) for h in guards] == [(door.guard, None)]
    routes = [
        h
        for g in groups
        if g != DOOR_GROUP
        for h in app.handlers[g]
        if isinstance(h, CallbackQueryHandler)
    ]
    # No catch-all behind the door: every route is one kind's anchored pattern, once.
    assert sorted(h.pattern.pattern for h in routes) == sorted(  # type: ignore[union-attr]
        p.pattern for p in cd.PATTERNS.values()
    )
    assert set(SAMPLES) == set(cd.PATTERNS)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_pattern_takes_its_own_data_and_nothing_more(kind: str) -> None:
    data = SAMPLES[kind]
    matching = [k for k, p in cd.PATTERNS.items() if p.match(data)]
    assert matching == [kind]  # exactly one route for the data the bot makes
    # PTB matches with re.match: the patterns must be anchored at the end themselves.
    for forged in (data + "\n", data + " ", data + ":1", " " + data):
        assert not any(p.match(forged) for p in cd.PATTERNS.values()), forged
        assert cd.decode(forged) is None


async def test_a_door_that_fails_lets_no_route_run(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack: the door's load fails (a locked database). PTB hands the error to the error
    handler and goes on to the next handler group: the route there must not act on a press
    nobody admitted. The press gets the error handler's one answer; a retry counts."""
    fake = bot.fake
    fake.send_text(ALICE, "/quiz 3")
    first = await next_question(bot, ALICE.id, 1)
    quizzes = bot.data.store.quizzes
    real = quizzes.get_asking_and_session

    async def locked(asking_id: int) -> Any:
        monkeypatch.setattr(quizzes, "get_asking_and_session", real)  # fails once
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(quizzes, "get_asking_and_session", locked)
    failed = await press_answer(bot, ALICE, first, right=True)
    reply = await answered(bot, failed)
    assert "did not go through" in reply["text"]
    # The same press again: admitted, graded, recorded once. One user's updates run in order,
    # so once this one is answered the failed one is done with, every group of it included.
    again = await press_answer(bot, ALICE, first, right=True)
    assert (await answered(bot, again))["text"] == "✅ Right!"
    await next_question(bot, ALICE.id, 2)
    await settled(bot)
    answers_to_failed = [
        c
        for c in fake.calls
        if c.method == "answerCallbackQuery" and str(c.params["callback_query_id"]) == failed
    ]
    assert len(answers_to_failed) == 1  # the error handler's: no route acted on it
    assert await bot.data.store.stats.count("answers") == 1
