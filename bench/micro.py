"""Per-press costs of single steps, in microseconds: what a cut there could save at most.

    python -m bench.micro

- FSRS: ``srs.review`` for a new and a reviewed card, and the bare ``Scheduler.review_card``.
- PTB: ``Update.de_json`` of a channel press and of a quiz press (the bot's own messages),
  against the bot's ``parse_update`` (runtime/parse.py: the message built when first read).
- JSON: ``json`` against ``orjson`` (if installed: it is not a dependency) on a getUpdates
  answer, a quiz edit's keyboard and an ``answerCallbackQuery`` answer.
- ``InlineKeyboardMarkup.to_dict``: what PTB does to the keyboard of every edit.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, Update

from bench.run import BANK, QUESTION, TOKEN, _markup
from bot.core import srs
from bot.runtime.parse import parse_update
from bot.ui import post_view, quiz_view
from tests.fakes import FakeBotApi, FakeUser, StoredMessage


def us(fn: Callable[[], object], number: int = 2000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


def main() -> None:
    now = datetime.now(UTC)
    card = srs.review(srs.review(None, True, now).card_json, False, now + timedelta(days=3))
    loaded = srs.load(card.card_json, now)
    later = now + timedelta(days=10)
    print(f"FSRS review, new card:        {us(lambda: srs.review(None, True, now)):7.1f} us")
    print(
        f"FSRS review, reviewed card:   {us(lambda: srs.review(card.card_json, True, later)):7.1f}"
    )
    print(
        "Scheduler.review_card alone:  "
        f"{us(lambda: srs.SCHEDULER.review_card(loaded, srs.Rating.Good, later)):7.1f}"
    )

    fake = FakeBotApi(TOKEN)
    question = BANK.questions[QUESTION]
    post = post_view.render_post(question, signature="By: @x ✨", bot_username="b", asking_id=1)
    order = list(range(len(question.choices)))
    quiz = quiz_view.stack(
        quiz_view.quiz_feedback(
            question,
            order=order,
            chosen_position=0,
            points=2,
            asking_id=1,
            bot_username="b",
            choices=False,
        ),
        quiz_view.quiz_question(question, index=1, total=10, order=order, asking_id=1),
    )
    chat = fake.private_chat(FakeUser(5, "L"))
    bot = Bot(TOKEN)
    try:
        import orjson
    except ImportError:
        orjson = None
    for label, message in (
        ("channel press", StoredMessage(fake.channel, 1, post.text, "HTML", _markup(post), 0)),
        ("quiz press", StoredMessage(chat, 1, quiz.text, "HTML", _markup(quiz), 0)),
    ):
        _, update = fake.press_update(FakeUser(7, "R"), message, "a1:1:0")
        batch = json.dumps({"ok": True, "result": [update] * 100}).encode()
        line = (
            f"{label}: Update.de_json {us(lambda: Update.de_json(update, bot)):.1f} us, "  # noqa: B023
            f"parse_update {us(lambda: parse_update(update, bot)):.1f} us; "  # noqa: B023
            f"json.loads {us(lambda: json.loads(batch), 50) / 100:.1f} us an update"  # noqa: B023
        )
        if orjson is not None:
            line += f", orjson {us(lambda: orjson.loads(batch), 50) / 100:.1f}"  # noqa: B023
        print(line)
    markup: dict[str, Any] | None = _markup(quiz)
    keyboard = InlineKeyboardMarkup.de_json(markup, bot)
    assert keyboard is not None
    answer = b'{"ok":true,"result":true}'
    line = (
        f"quiz edit keyboard: to_dict {us(keyboard.to_dict):.1f} us, "
        f"json.dumps {us(lambda: json.dumps(markup)):.1f}"
    )
    if orjson is not None:
        line += f", orjson.dumps {us(lambda: orjson.dumps(markup)):.1f}"
    print(line)
    line = f"answerCallbackQuery's answer: json.loads {us(lambda: json.loads(answer)):.1f} us"
    if orjson is not None:
        line += f", orjson {us(lambda: orjson.loads(answer)):.2f}"
    print(line)


if __name__ == "__main__":
    main()
