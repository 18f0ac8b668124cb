"""One feature, one path: a press walked at run time (``bench.walk``) enters only its own
feature's modules. Counts are the README's business (they move with transport and db/);
these are the structural facts a change must not undo."""

from __future__ import annotations

from bench import walk


async def test_a_channel_press_and_a_quiz_answer_each_take_their_own_path() -> None:
    channel, quiz = await walk.record()
    # The channel press: door, its route, its own service, straight into db/.
    assert "bot.services.channel_press" in channel.timeline
    assert "bot.services.quiz" not in channel.timeline
    assert "bot.services.quiz_answers" not in channel.timeline
    assert "bot.handlers.quiz" not in channel.timeline
    # The quiz answer does not wander into the channel's code either.
    assert "bot.services.channel_press" not in quiz.timeline
    assert "bot.services.channel" not in quiz.timeline
    for w in (channel, quiz):
        # The door runs first, before any route (PTB's group -1), and decodes once.
        assert w.timeline.index("bot.services.door") < w.timeline.index("bot.handlers")
        assert w.timeline.count("bot.ui.callback_data") == 1
        # The settings are not consulted per press (the time zone is read once, at start).
        assert "bot.config" not in w.timeline
