"""A reader's press on a channel post's choice: recorded once, its post's tally marked.

The channel's own path: the door admitted and graded the press (``ChannelPress``), and this
records it straight into ``db/``: no quiz session, no points, no review schedule. Presses of
a burst are committed in groups (``db.answers``); the tally edit follows in batches
(``services.jobs``), never per press.
"""

from __future__ import annotations

from bot.core import rules
from bot.core.limits import CACHE_BOUND
from bot.core.models import Question
from bot.db import AnswerRecord
from bot.services.presses import ChannelPress
from bot.state.context import BotData


async def record(data: BotData, press: ChannelPress, q: Question) -> bool:
    """Record a reader's choice once (group-committed); True the first time. A new answer
    marks the post's tally for the next batch of edits."""
    store, user, asking, now = data.store, press.user, press.asking, data.clock()
    inserted = await store.answers.record_channel_answer(
        AnswerRecord(
            asking_id=asking.id,
            user_id=user.id,
            first_name=user.first_name,
            chat_id=asking.chat_id or 0,
            question_id=q.id,
            source="channel",
            choice=press.chosen,
            correct=press.correct,
            points=0,  # the answer is one tap away in the post: no leaderboard points
            now=now,
            local_day=rules.local_day(now, data.zone_of(user.id)),
        )
    )
    if not inserted:
        return False
    posts = data.asking_posts
    if asking.id not in posts:
        post = await store.channel.post_by_asking(asking.id)
        if len(posts) > CACHE_BOUND:
            posts.clear()
        posts[asking.id] = post.id if post is not None else None
    post_id = posts[asking.id]
    if post_id is not None:
        data.dirty_tallies.add(post_id)
    return True
