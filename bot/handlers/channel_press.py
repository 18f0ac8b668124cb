"""A reader's press on a channel post's choice (and on an admin's /preview of one)."""

from __future__ import annotations

from bot.runtime.context import BotContext
from bot.services import channel
from bot.services.presses import Press, Reply
from bot.ui import render

CHANGED = (
    "This question has changed or left the bank since it was posted, so this press cannot be "
    "graded."
)


async def on_choice(context: BotContext, press: Press) -> Reply:
    """Answered with an alert; recorded once per reader per post; feeds the post's tally."""
    asking = press.asking
    assert asking is not None
    q = press.gradable(context)
    if q is None:
        return Reply(CHANGED, alert=True)
    chosen = asking.order[press.data.int_arg(1)]
    if asking.kind == "preview":  # an admin trying the buttons: nothing is recorded
        return Reply(render.channel_alert(q, chosen, True), alert=True)
    first_time = await channel.record_press(context, asking, q, press.user, chosen)
    # Recorded, and its tally marked, above: a lost or late answer changes none of that.
    return Reply(render.channel_alert(q, chosen, first_time), alert=True)
