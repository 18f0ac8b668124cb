"""A reader's press on a channel post's choice (and on an admin's /preview of one)."""

from __future__ import annotations

from bot.services import channel_press
from bot.services.presses import ChannelPress, Reply
from bot.state.context import BotContext
from bot.ui import post_view

CHANGED = (
    "This question has changed or left the bank since it was posted, so this press cannot be "
    "graded."
)


async def on_choice(context: BotContext, press: ChannelPress) -> Reply:
    """Answered with an alert; recorded once per reader per post; feeds the post's tally."""
    q = press.question
    if q is None:
        return Reply(CHANGED, alert=True)
    if press.preview:  # an admin trying the buttons: nothing is recorded
        return Reply(post_view.channel_alert(q, press.chosen, True), alert=True)
    first_time = await channel_press.record(context.bot_data, press, q)
    # Recorded, and its tally marked, above: a lost or late answer changes none of that.
    return Reply(post_view.channel_alert(q, press.chosen, first_time), alert=True)
