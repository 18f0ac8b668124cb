"""A reader's press on a channel post's choice (and on an admin's /preview of one)."""

from __future__ import annotations

from telegram import Update

from bot.runtime.context import BotContext
from bot.services import channel
from bot.services.messages import answer_press
from bot.services.presses import Press
from bot.ui import render

CHANGED = (
    "This question has changed or left the bank since it was posted, so this press cannot be "
    "graded."
)


async def on_choice(_: Update, context: BotContext, press: Press) -> None:
    """Answered with an alert; recorded once per reader per post; feeds the post's tally."""
    asking, query = press.asking, press.query
    assert asking is not None
    q = press.gradable(context)
    if q is None:
        await answer_press(query, CHANGED, show_alert=True)
        return
    chosen = asking.order[press.data.int_arg(1)]
    if asking.kind == "preview":  # an admin trying the buttons: nothing is recorded
        await answer_press(query, render.channel_alert(q, chosen, True), show_alert=True)
        return
    first_time = await channel.record_press(context, asking, q, press.user, chosen)
    # Recorded, and its tally marked, above: a lost or late answer changes none of that.
    await answer_press(query, render.channel_alert(q, chosen, first_time), show_alert=True)
