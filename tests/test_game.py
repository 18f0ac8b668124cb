"""Live games in groups (contract §11), end to end through the real Application and the fake
Bot API, on a clock the test moves.

The JobQueue's scheduler is paused: the test runs the game's jobs itself, in the order of
the times they carry (the bot's clock), after moving the clock there. So a 10-question game
of 10 s questions plays in a moment, and "when" is exactly what the bot's clock says.

Over ~300 lines on purpose: one feature's whole contract, with the driver its tests share.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core import game as rules_game
from bot.services import game
from bot.ui import game as ui
from tests.conftest import ADMIN, ALICE, BOB, ROOT, Harness
from tests.fakes import Chat, Clock, FakeBotApi, FakeUser, StoredMessage
from tests.helpers import query, start_bot
from tests.telegram_html import check_message_text
from tests.test_e2e_quiz import score_line

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CAROL = FakeUser(2003, "Carol")
MALLORY = FakeUser(6666, "Mallory")
GROUP = -100555
OTHER_GROUP = -100666


@dataclass
class Play:
    h: Harness
    clock: Clock

    @property
    def fake(self) -> Any:
        return self.h.fake

    def pause(self) -> None:
        assert self.h.app is not None and self.h.app.job_queue is not None
        self.h.app.job_queue.scheduler.pause()  # the test runs the game's jobs itself

    def jobs(self) -> list[Any]:
        assert self.h.app is not None and self.h.app.job_queue is not None
        return [j for j in self.h.app.job_queue.jobs() if (j.name or "").startswith("game:")]

    def ticks(self) -> list[game.Tick]:
        return sorted((j.data for j in self.jobs()), key=lambda t: t.at)

    async def step(self) -> game.Tick:
        """Run the game's next job at its time: the clock moves there first."""
        await self.settle()
        jobs = self.jobs()
        assert jobs, "no game job is waiting"
        job = min(jobs, key=lambda j: (j.data.at, j.data.what != "refresh"))
        tick: game.Tick = job.data
        self.clock.now_value = max(self.clock.now_value, tick.at)
        job.schedule_removal()
        assert self.h.app is not None
        await job.run(self.h.app)
        await self.settle()
        return tick

    async def run_until(self, what: str, position: int) -> None:
        """Run jobs up to and including the first ``what`` tick of ``position``."""
        for _ in range(200):
            tick = await self.step()
            if tick.what == what and tick.position == position:
                return
        raise AssertionError(f"no {what} tick for question {position}")

    async def moved_on(self, chat_id: int = GROUP) -> None:
        """After an early close: wait until the next step is scheduled or the game is over."""

        def over() -> bool:
            return "Game over" in str(self.fake.sent_to(chat_id)[-1].params["text"])

        async with asyncio.timeout(10):
            while not (self.jobs() or over()):
                await asyncio.sleep(0.005)

    async def settle(self) -> None:
        """Wait for what presses started (an early close) to finish."""
        while self.h.data.follow_ups:
            await asyncio.gather(*self.h.data.follow_ups, return_exceptions=True)

    async def question(self, chat_id: int, number: int) -> StoredMessage:
        """The (open) game message asking question ``number``."""

        def found() -> StoredMessage | None:
            for m in self.fake.messages_in(chat_id):
                if f"Question {number}/" in m.text and game_buttons(m):
                    return m  # type: ignore[no-any-return]
            return None

        await self.fake.wait_until(lambda: found() is not None)
        message = found()
        assert message is not None
        # The bot stamps the question open when the send returns: wait for that (its deadline
        # job), so the clock moves only after.
        async with asyncio.timeout(10):
            while not any(t.what == "close" and t.position == number - 1 for t in self.ticks()):
                await asyncio.sleep(0.005)
        return message

    async def press(self, user: FakeUser, message: StoredMessage, *, right: bool) -> str:
        """Press the right (or a wrong) choice; returns the alert or toast text."""
        return await self.press_data(
            user, message, await choice_data(self.h, message, right=right)
        )

    async def press_data(self, user: FakeUser, message: StoredMessage, data: str) -> str:
        query_id = self.fake.press(user, message, data)
        call = await self.fake.wait_for(
            "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
        )
        return str(call.params.get("text") or "")

    async def say(self, user: FakeUser, text: str, chat_id: int = GROUP) -> str:
        """``user`` sends ``text`` in the group; the bot's next message there."""
        chat = self.fake.group(chat_id)
        before = len(self.fake.sent_to(chat_id))
        self.fake.send_text(user, text, chat=chat)
        await self.fake.wait_until(lambda: len(self.fake.sent_to(chat_id)) > before)
        return str(self.fake.sent_to(chat_id)[before].params["text"])


def game_buttons(message: StoredMessage) -> list[dict[str, Any]]:
    return [b for b in message.buttons() if str(b.get("callback_data", "")).startswith("g1:")]


async def choice_data(h: Harness, message: StoredMessage, *, right: bool) -> str:
    buttons = game_buttons(message)
    asking_id = int(str(buttons[0]["callback_data"]).split(":")[1])
    asking = await h.data.store.quizzes.get_asking(asking_id)
    assert asking is not None
    q = h.data.bank.questions[asking.question_id]
    position = asking.order.index(q.correct)
    if not right:
        position = (position + 1) % len(buttons)
    return str(buttons[position]["callback_data"])


@pytest.fixture
async def play(harness: Harness) -> AsyncIterator[Play]:
    clock = Clock(T0)
    harness.clock = clock
    await harness.start()
    p = Play(harness, clock)
    p.pause()
    harness.fake.group(GROUP)
    harness.fake.group(OTHER_GROUP, "Mallory's group")
    yield p


def no_rejections(p: Play) -> None:
    bad = [c for c in p.fake.rejected if c.method != "setMyCommands"]
    assert not bad, [(c.method, c.error) for c in bad]


# ---------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, 10, 20)),
        (["5"], (None, 5, 20)),
        (["5", "10"], (None, 5, 10)),
        (["async", "io", "3", "120"], ("async io", 3, 120)),
        (["asyncio"], ("asyncio", 10, 20)),
    ],
)
def test_parse_args(args: list[str], expected: tuple[Any, ...]) -> None:
    parsed = rules_game.parse_args(args)
    assert (parsed.topic, parsed.count, parsed.seconds) == expected


@pytest.mark.parametrize(
    "args", [["0"], ["21"], ["5", "9"], ["5", "121"], ["1", "2", "3"], ["²"], ["٣"], ["5", "١٠"]]
)
def test_parse_args_refuses(args: list[str]) -> None:
    with pytest.raises(ValueError, match=r"."):
        rules_game.parse_args(args)


def test_points_formula() -> None:
    assert rules_game.points(True, 0, 20) == 1000
    assert rules_game.points(True, 10, 20) == 750
    assert rules_game.points(True, 20, 20) == 500
    assert rules_game.points(True, 25, 20) == 500  # bounded: a press is never worth less
    assert rules_game.points(False, 1, 20) == 0


def test_plan_keeps_every_minute_within_the_budget() -> None:
    """Simulated: back-to-back 10 s questions, each using what its plan allows."""
    sent: list[float] = []
    now = 0.0
    for _ in range(20):
        plan = rules_game.plan_question(sent, now, 10)
        start = plan.start
        sent += [start, *(start + r for r in plan.refreshes), start + 10]
        now = start + 10
    sent.sort()
    for t in sent:
        assert sum(1 for u in sent if t - 60 < u <= t) <= rules_game.GROUP_BUDGET
    assert rules_game.refreshes_for(10) < rules_game.refreshes_for(60)  # fewer when short


# ---------------------------------------------------------------- end to end


async def test_points_by_time_double_and_late_press_reveal_and_score(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 2 10")
    q1 = await p.question(GROUP, 1)
    assert "10 s left" in q1.text
    assert "Game on" in q1.text
    p.clock.advance(seconds=2.5)
    assert await p.press(ALICE, q1, right=True) == "✅ Right! +875 points"
    p.clock.advance(seconds=1)
    assert await p.press(BOB, q1, right=False) == "❌ Not quite: 0 points"
    assert await p.press(ALICE, q1, right=False) == ui.ALREADY  # counts once
    # The first question never closes early, even though everyone so far answered.
    await p.run_until("refresh", 0)
    assert "5 s left · 2 answered" in q1.text
    assert game_buttons(q1)
    # By the bot's clock the deadline has passed: a press is late, even before the close ran.
    p.clock.now_value = T0 + timedelta(seconds=10)
    stale = await choice_data(p.h, q1, right=True)  # a client still showing the buttons
    assert await p.press(CAROL, q1, right=True) == ui.TIMES_UP
    await p.run_until("close", 0)
    assert "closed" in q1.text and not game_buttons(q1)
    assert "\u2068Alice\u2069 +875" in q1.text
    assert "❌ \u2068Bob\u2069" in q1.text
    assert "Carol" not in q1.text
    assert await p.press_data(CAROL, q1, stale) == ui.TIMES_UP  # after the reveal too
    q2 = await p.question(GROUP, 2)
    p.clock.advance(seconds=4)
    assert await p.press(BOB, q2, right=True) == "✅ Right! +800 points"
    await p.run_until("close", 1)
    podium = p.fake.sent_to(GROUP)[-1].params["text"]
    assert "Game over" in podium
    assert "🥇 \u2068Alice\u2069: 875 points" in podium
    assert "🥈 \u2068Bob\u2069: 800 points" in podium
    no_rejections(p)
    # Game answers count once as quiz answers: /score and the group's leaderboard.
    p.fake.private_chat(ALICE)
    assert (await score_line(p.h, ALICE.id, ALICE))[1:3] == (1, 1)
    board = await p.say(ALICE, "/leaderboard")
    assert "Alice" in board and "Bob" in board


async def test_early_close_once_every_player_answered(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 3 30")
    q1 = await p.question(GROUP, 1)
    await p.press(ALICE, q1, right=True)
    await p.press(BOB, q1, right=False)
    await p.run_until("close", 0)
    q2 = await p.question(GROUP, 2)
    p.clock.advance(seconds=3)
    await p.press(ALICE, q2, right=True)
    await p.settle()
    assert game_buttons(q2)  # Bob, who played before, has not answered yet
    p.clock.advance(seconds=3)
    await p.press(BOB, q2, right=True)
    await p.settle()
    await p.question(GROUP, 3)  # closed early, no deadline job ran: the next came by itself
    assert "closed" in q2.text
    assert "\u2068Alice\u2069 +950 · \u2068Bob\u2069 +900" in q2.text  # fastest first
    # Its deadline job went with it: the jobs now belong to question 3.
    assert {t.position for t in p.ticks()} == {2}
    no_rejections(p)


async def test_podium_top_three_and_everyone_in_a_forum_topic(play: Play) -> None:
    p = play
    forum = p.fake.group(-100999, "Forum", forum=True)
    p.fake.send_text(ALICE, "/game 1 10", chat=forum, thread_id=77)
    q1 = await p.question(forum.id, 1)
    players = [ALICE, BOB, CAROL, FakeUser(2004, "<b>Dan</b>"), FakeUser(2005, "Eve")]
    for i, user in enumerate(players):
        p.clock.now_value = T0 + timedelta(seconds=1 + i)
        await p.press(user, q1, right=i != 4)
    await p.run_until("close", 0)
    await p.fake.wait_until(lambda: "Game over" in p.fake.sent_to(forum.id)[-1].params["text"])
    podium = p.fake.sent_to(forum.id)[-1].params["text"]
    lines = podium.splitlines()
    assert lines[2].startswith("🥇 \u2068Alice\u2069: 950 points")
    assert lines[3].startswith("🥈 \u2068Bob\u2069: 900 points")
    assert lines[4].startswith("🥉 \u2068Carol\u2069: 850 points")
    assert "&lt;b&gt;Dan&lt;/b&gt;" in podium  # escaped: a name is never markup
    assert "5. \u2068Eve\u2069: 0 · 0/1 right" in podium
    # Every message of the game went to the topic it was started in.
    assert all(c.params.get("message_thread_id") == 77 for c in p.fake.sent_to(forum.id))
    no_rejections(p)


async def test_stop_by_starter_admin_and_not_a_stranger(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 5 20")
    q1 = await p.question(GROUP, 1)
    p.clock.advance(seconds=2)
    await p.press(BOB, q1, right=True)
    assert await p.say(CAROL, "/stop") == ui.NOT_YOURS
    assert game_buttons(q1)  # still running
    assert await p.say(ALICE, "/game") == ui.RUNNING  # one game per group
    p.fake.chat_admins[GROUP].add(ADMIN.id)
    stale = await choice_data(p.h, q1, right=True)
    stopped = await p.say(ADMIN, "/stop")
    assert "Game stopped" in stopped and "after 1 of 5 questions" in stopped
    assert "🥇 \u2068Bob\u2069: 950 points" in stopped
    assert "closed" in q1.text and not game_buttons(q1)  # the open question is revealed
    assert not p.jobs()
    assert await p.press_data(ALICE, q1, stale) == ui.GAME_OVER
    # The starter may stop their own game.
    await p.say(CAROL, "/game 2 10")
    await p.question(GROUP, 1)
    assert "Game stopped" in await p.say(CAROL, "/stop")
    assert len(p.fake.calls_to("getChatMember")) == 2  # Carol, then the admin; never Carol twice
    no_rejections(p)


async def test_bad_arguments_and_private_chat(play: Play) -> None:
    p = play
    for text in ("/game 0", "/game 5 5", "/game 5 121", "/game 1 2 3", "/game ²"):
        assert await p.say(ALICE, text) == ui.USAGE
    assert "matches no topic" in await p.say(ALICE, "/game zzzz-nothing 3")
    p.fake.send_text(ALICE, "/game")
    await p.fake.wait_until(lambda: bool(p.fake.sent_to(ALICE.id)))
    assert p.fake.sent_to(ALICE.id)[-1].params["text"] == ui.GROUP_ONLY
    assert await p.h.data.store.games.active(GROUP) is None
    # A topic as /quiz takes it: the game asks that topic's questions only.
    await p.say(ALICE, "/game oop 2 10")
    q1 = await p.question(GROUP, 1)
    assert "Object-Oriented Python" in q1.text.split("\n")[2]
    no_rejections(p)


async def test_forged_press_from_another_group_counts_nothing(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 2 10")
    q1 = await p.question(GROUP, 1)
    data = await choice_data(p.h, q1, right=True)
    # Mallory replays the button on a bot message of her own group.
    await p.say(MALLORY, "/game 1 10", chat_id=OTHER_GROUP)
    hers = await p.question(OTHER_GROUP, 1)
    query_id = p.fake.press(MALLORY, hers, data)
    call = await p.fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    assert call.params.get("show_alert") is True
    assert call.params.get("text") == "This button is not valid here."
    # And a choice beyond the question's own.
    forged = data.rsplit(":", 1)[0] + ":5"
    query_id = p.fake.press(MALLORY, q1, forged)
    await p.fake.wait_for(
        "answerCallbackQuery", lambda c: str(c.params.get("callback_query_id")) == query_id
    )
    game_row = await p.h.data.store.games.active(GROUP)
    assert game_row is not None
    assert await p.h.data.store.games.answers(game_row.id) == []
    no_rejections(p)


async def test_restart_mid_question_keeps_its_deadline(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 2 20")
    q1 = await p.question(GROUP, 1)
    p.clock.advance(seconds=4)
    await p.press(ALICE, q1, right=True)
    p.clock.advance(seconds=2)
    await p.h.restart()
    p.pause()
    closes = [t for t in p.ticks() if t.what == "close"]
    assert [t.at for t in closes] == [T0 + timedelta(seconds=20)]  # the same deadline
    assert all(t.at > p.clock.now_value for t in p.ticks())  # refreshes still ahead only
    p.clock.advance(seconds=4)  # 10 s after the message
    assert await p.press(BOB, q1, right=True) == "✅ Right! +750 points"
    await p.run_until("close", 0)
    assert "\u2068Alice\u2069 +900 · \u2068Bob\u2069 +750" in q1.text
    await p.question(GROUP, 2)
    no_rejections(p)


async def test_restart_past_the_deadline_closes_and_goes_on(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 2 10")
    q1 = await p.question(GROUP, 1)
    await p.press(ALICE, q1, right=True)
    await p.h.stop()
    p.clock.advance(minutes=5)  # down past the deadline
    await p.h.start()
    p.pause()
    assert [(t.what, t.position, t.at) for t in p.ticks()] == [("close", 0, p.clock.now_value)]
    await p.step()
    assert "closed" in q1.text and "\u2068Alice\u2069 +1000" in q1.text
    await p.question(GROUP, 2)
    no_rejections(p)


async def test_a_group_that_removed_the_bot_ends_the_game_quietly(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 3 10")
    await p.question(GROUP, 1)
    p.fake.kicked_from.add(GROUP)
    await p.run_until("refresh", 0)  # 403 on the edit
    game_row = await p.h.data.store.games.get(1)
    assert game_row is not None and game_row.status == "blocked"
    assert not p.jobs()
    assert not [c for c in p.fake.calls if c.params.get("chat_id") == ADMIN.id]  # no page


async def test_ten_ten_second_questions_stay_within_twenty_a_minute(play: Play) -> None:
    """The flood test: every message the fake received in the group (sends and edits),
    stamped with the bot's clock, in every 60 s window: at most 20."""
    p = play
    stamps: list[datetime] = []

    def listen(method: str, subject: Any) -> None:
        if method in {"sendMessage", "editMessageText"} and subject.chat.id == GROUP:
            stamps.append(p.clock.now_value)

    p.fake.listeners.append(listen)
    await p.say(ALICE, "/game 10 10")
    await p.question(GROUP, 1)
    pressed: set[int] = set()
    waited: list[game.Tick] = []
    # Alice answers question 1 and every even one (those close early: she is the only
    # player); the others run to their deadline with their refresh.
    while "Game over" not in p.fake.sent_to(GROUP)[-1].params["text"]:
        await p.settle()
        shown = [m for m in p.fake.messages_in(GROUP) if game_buttons(m)]
        opened = {t.position + 1 for t in p.ticks() if t.what == "close"}
        number = int(re.findall(r"Question (\d+)/", shown[-1].text)[0]) if shown else 0
        if number in opened and number not in pressed:
            pressed.add(number)
            if number == 1 or number % 2 == 0:
                p.clock.advance(seconds=1)
                await p.press(ALICE, shown[-1], right=True)
            if number % 2 == 0:  # closes early: wait for its reveal before time moves on
                await p.fake.wait_until(lambda m=shown[-1]: not game_buttons(m))
                await p.moved_on()
            continue
        waited.append(await p.step())
    assert pressed == set(range(1, 11))
    times = sorted((s - T0).total_seconds() for s in stamps)
    worst = max(sum(1 for u in times if t - 60 < u <= t) for t in times)
    assert worst <= rules_game.GROUP_BUDGET, times
    assert any(t.what == "next" for t in waited)  # a question did wait for the budget
    assert worst >= 15  # it did use the budget: about one message every 3 s
    sends = [c for c in p.fake.sent_to(GROUP) if c.status == 200]
    assert len(sends) == 10 + 1  # the questions and the podium
    no_rejections(p)


async def test_a_game_ends_when_the_bot_is_removed_from_the_group(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 3 10")
    await p.question(GROUP, 1)
    before = len(p.fake.calls)
    p.fake.bot_membership(p.fake.group(GROUP), "left", by=ALICE)
    async with asyncio.timeout(10):
        while await p.h.data.store.games.active(GROUP) is not None:
            await asyncio.sleep(0.005)
    assert not p.jobs()
    assert not [c for c in p.fake.calls[before:] if c.method == "sendMessage"]


async def test_a_group_upgraded_to_a_supergroup_keeps_its_game(play: Play) -> None:
    p = play
    old = Chat(-4001, "group", title="Basic group")
    p.fake.chats[old.id] = old
    p.fake.send_text(ALICE, "/game 2 10", chat=old)
    q1 = await p.question(old.id, 1)
    await p.press(ALICE, q1, right=True)
    new = p.fake.migrate_group(old, -1004001)  # sends to the old id now get migrate_to_chat_id
    await p.run_until("close", 0)
    q2 = await p.question(new.id, 2)
    p.clock.advance(seconds=2)
    assert await p.press(BOB, q2, right=True) == "✅ Right! +900 points"
    await p.run_until("close", 1)
    podium = str(p.fake.sent_to(new.id)[-1].params["text"])
    assert "🥇 \u2068Alice\u2069: 1000 points" in podium
    assert "🥈 \u2068Bob\u2069: 900 points" in podium
    moved = await p.h.data.store.games.get(1)
    assert moved is not None and moved.chat_id == new.id
    refused = [c.error for c in p.fake.rejected if c.method != "setMyCommands"]
    assert len(refused) == 1 and "upgraded to a supergroup" in refused[0]  # once, then followed


async def test_presses_are_answered_while_the_group_sends_are_stuck(play: Play) -> None:
    """The door's promise: a press never waits on the group's send queue (a flood limiter)."""
    p = play
    await p.say(ALICE, "/game 2 10")
    q1 = await p.question(GROUP, 1)
    await p.press(ALICE, q1, right=True)
    await p.run_until("close", 0)
    q2 = await p.question(GROUP, 2)
    stuck = p.fake.hold("sendMessage", "editMessageText")
    p.clock.advance(seconds=1)
    # Alice was the only player: her answer closes the question early, and the reveal and
    # the podium hang; her press is answered all the same.
    assert await asyncio.wait_for(p.press(ALICE, q2, right=True), 5) == "✅ Right! +950 points"
    assert game_buttons(q2)
    stuck.set()
    await p.fake.wait_until(lambda: "Game over" in p.fake.sent_to(GROUP)[-1].params["text"])
    no_rejections(p)


async def test_a_deleted_question_or_a_lost_edit_does_not_stop_the_game(play: Play) -> None:
    p = play
    await p.say(ALICE, "/game 3 10")
    q1 = await p.question(GROUP, 1)
    await p.press(ALICE, q1, right=True)
    del p.fake.messages[(GROUP, q1.message_id)]  # a group admin deleted it
    await p.run_until("close", 0)
    q2 = await p.question(GROUP, 2)  # the game went on
    # The reveal's edit fails with an unknown outcome (502): the game resumes a moment later.
    p.fake.fail("editMessageText", 502, times=20)
    await p.run_until("close", 1)
    assert [t.what for t in p.ticks()] == ["resume"]
    p.fake.faults.clear()
    await p.step()  # resume: question 2 is closed, so the next one comes
    await p.step()
    await p.question(GROUP, 3)
    assert game_buttons(q2)  # its reveal was lost; the game did not wait for it
    row = await p.h.data.store.games.active(GROUP)
    assert row is not None


def test_reveal_and_podium_fit_telegram_with_hundreds_of_players(real_bank: Any) -> None:
    q = next(q for q in real_bank.questions.values() if q.quizzable and q.code)
    names = [f"<{i}> & {'W' * 60}" for i in range(300)]
    rendered = ui.reveal(
        q,
        index=0,
        total=10,
        right=[(n, 1000 - i) for i, n in enumerate(names[:200])],
        wrong=names[200:],
    )
    assert check_message_text(rendered.text, "HTML") == ""
    assert '<pre><code class="language-python">' in rendered.text  # code shown as everywhere
    standings = rules_game.podium(
        rules_game.Standing(i, n, 1000 - i, 1, 1, float(i)) for i, n in enumerate(names)
    )
    text = ui.podium(standings, asked=10, total=10, stopped=False)
    assert check_message_text(text, "HTML") == ""
    assert "more" in text and "&lt;0&gt; &amp;" in text


async def test_stop_without_a_game_still_stops_the_quiz(play: Play) -> None:
    p = play
    await p.say(ALICE, "/quiz 2")
    assert "Quiz over" in await p.say(BOB, "/stop")  # a group quiz: anyone, as before
    assert "no quiz running" in await p.say(BOB, "/stop")
    assert not p.fake.calls_to("getChatMember")


async def test_one_round_at_a_time_a_quiz_and_a_game_never_share_a_group(play: Play) -> None:
    p = play
    await p.say(ALICE, "/quiz 2")
    assert await p.say(BOB, "/game 2 10") == ui.QUIZ_RUNNING
    assert await p.h.data.store.games.active(GROUP) is None
    assert "Quiz over" in await p.say(BOB, "/stop")
    await p.say(ALICE, "/game 2 10")
    await p.question(GROUP, 1)
    qid = next(q.id for q in p.h.bank.questions.values() if q.quizzable)
    for command in ("/quiz 2", f"/start q_{qid}"):  # a deep link's practice is a quiz too
        assert await p.say(BOB, command) == ui.GAME_RUNNING
    assert await p.h.data.store.quizzes.active_session(GROUP, None) is None
    # A private quiz of a player is another chat: it still starts.
    p.fake.send_text(BOB, "/quiz 1")
    await p.fake.wait_until(lambda: bool(p.fake.sent_to(BOB.id)))
    assert p.fake.sent_to(BOB.id)[-1].params["text"] != ui.GAME_RUNNING
    assert await p.h.data.store.quizzes.active_session(BOB.id, BOB.id) is not None
    no_rejections(p)


async def test_a_quiz_and_a_game_sent_at_once_start_one_round(play: Play) -> None:
    """Two senders' updates run side by side (fair processing): the rule holds in the start
    transactions, not only in a read before them."""
    p = play
    chat = p.fake.group(GROUP)
    for _ in range(3):
        before = len(p.fake.sent_to(GROUP))
        p.fake.send_text(ALICE, "/game 2 10", chat=chat)
        p.fake.send_text(BOB, "/quiz 2", chat=chat)
        await p.fake.wait_until(lambda: len(p.fake.sent_to(GROUP)) >= before + 2)  # noqa: B023
        game_on = await p.h.data.store.games.active(GROUP) is not None
        quiz_on = await p.h.data.store.quizzes.active_session(GROUP, None) is not None
        assert game_on != quiz_on
        texts = [str(c.params["text"]) for c in p.fake.sent_to(GROUP)[before:]]
        assert (ui.QUIZ_RUNNING if quiz_on else ui.GAME_RUNNING) in texts
        await p.settle()
        assert re.search("over|stopped", await p.say(ALICE, "/stop"))
    no_rejections(p)


async def test_kill_9_mid_question_and_the_game_goes_on(
    fake_api: FakeBotApi, env_for_subprocess: dict[str, str], tmp_path: Path, real_bank: Any
) -> None:
    """A real ``python -m bot`` killed with SIGKILL while a question is open: the next start
    closes it at its stored deadline with the points given before the kill, and plays on."""
    env = {**env_for_subprocess, "PYTHONPATH": str(ROOT), "CHANNEL_ID": ""}
    group = fake_api.group(GROUP)

    def open_question(number: int) -> StoredMessage | None:
        return next(
            (m for m in fake_api.messages_in(GROUP) if f"Question {number}/" in m.text),
            None,
        )

    async def right_data(message: StoredMessage) -> str:
        data = [str(b["callback_data"]) for b in game_buttons(message)]
        asking_id = int(data[0].split(":")[1])  # digits only: the door's own pattern
        ((qid, order),) = await query(
            env["DATABASE_PATH"],
            f"SELECT question_id, choice_order FROM askings WHERE id = {asking_id}",  # noqa: S608
        )
        shown = [int(x) for x in order.split(",")]
        return data[shown.index(real_bank.questions[qid].correct)]

    proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
    try:
        fake_api.send_text(ALICE, "/game 2 10", chat=group)
        await fake_api.wait_until(lambda: open_question(1) is not None, timeout=30)
        q1 = open_question(1)
        assert q1 is not None
        pressed = fake_api.press(ALICE, q1, await right_data(q1))
        await fake_api.wait_for(
            "answerCallbackQuery", lambda c: c.params.get("callback_query_id") == pressed
        )
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert game_buttons(q1)  # still open when the bot died
        proc = await start_bot(env, tmp_path, output=asyncio.subprocess.DEVNULL)
        await fake_api.wait_until(lambda: "closed" in q1.text, timeout=40)
        assert re.search(r"\u2068Alice\u2069 \+(\d+)", q1.text)  # her press survived the kill
        await fake_api.wait_until(lambda: open_question(2) is not None, timeout=30)
        q2 = open_question(2)
        assert q2 is not None
        await fake_api.wait_until(lambda: bool(game_buttons(q2)), timeout=10)
        fake_api.press(ALICE, q2, await right_data(q2))  # the only player: closes it early
        await fake_api.wait_until(
            lambda: "Game over" in str(fake_api.sent_to(GROUP)[-1].params["text"]), timeout=40
        )
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
    podium = str(fake_api.sent_to(GROUP)[-1].params["text"])
    assert "🥇 \u2068Alice\u2069" in podium and "2/2 right" in podium
