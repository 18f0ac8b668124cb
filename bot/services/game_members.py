"""What a game's members do in it: answer a question (a press the door admitted, recorded once
with its speed points), and who may /stop it (its starter, or an admin of the group).

The game's life and timing are ``services.game``'s.
"""

from __future__ import annotations

import logging

from telegram import User
from telegram.error import BadRequest

from bot.core import game as rules_game
from bot.core import rules
from bot.core.limits import CACHE_BOUND
from bot.db import AnswerRecord
from bot.db.games import Game, QuestionClosed
from bot.services.game import close, lock, quietly
from bot.services.presses import GamePress, Reply
from bot.state.context import BotContext
from bot.ui import game as ui

log = logging.getLogger(__name__)

ADMIN_CACHE_SECONDS = 60.0
ADMIN_STATUSES = frozenset({"creator", "administrator"})


# ---------------------------------------------------------------- presses


async def on_choice(context: BotContext, press: GamePress) -> Reply:
    """A member's choice, admitted by the door (this group, this message): graded by the
    bot's clock on arrival, recorded once (quiz answer and speed points in one COMMIT)."""
    data, asking, user = context.bot_data, press.asking, press.user
    store, arrival = data.store, data.clock()
    found = await store.games.by_asking(asking.id)
    if found is None:
        return Reply.refused()
    game, gq = found
    if game.status != "active":
        return Reply(ui.GAME_OVER, alert=True)
    if gq.closed_at is not None or (gq.deadline is not None and arrival >= gq.deadline):
        return Reply(ui.TIMES_UP, alert=True)
    q = press.question
    if q is None:
        return Reply(ui.CHANGED, alert=True)
    chosen, correct = press.chosen, press.correct
    elapsed = (arrival - gq.opened_at).total_seconds() if gq.opened_at else 0.0
    points = rules_game.points(correct, elapsed, game.seconds)
    rec = AnswerRecord(
        asking_id=asking.id,
        user_id=user.id,
        first_name=user.first_name,
        chat_id=game.chat_id,
        question_id=q.id,
        source="quiz",
        choice=chosen,
        correct=correct,
        points=rules.points_for(q, correct),  # /score's points, as any quiz answer earns
        now=arrival,
        local_day=rules.local_day(arrival, data.zone_of(user.id)),
        review=True,  # its FSRS card, reviewed in the answer's transaction
    )
    try:
        inserted = await store.games.record(
            rec,
            game_id=game.id,
            position=gq.position,
            points=points,
            elapsed_ms=max(0, round(elapsed * 1000)),
        )
    except QuestionClosed:
        return Reply(ui.TIMES_UP, alert=True)
    if not inserted:
        return Reply(ui.ALREADY)
    log.info("game %s answer: user=%s correct=%s points=%d", game.id, user.id, correct, points)
    then = _maybe_close_early(context, game.id, gq.position) if gq.position > 0 else None
    return Reply(ui.answer_alert(correct, points), then=then)


async def _maybe_close_early(context: BotContext, game_id: int, position: int) -> None:
    """Everyone who played an earlier question has answered this one: close it now."""
    store = context.store
    players = await store.games.players_before(game_id, position)
    if not rules_game.closes_early(players, await store.games.answered(game_id, position)):
        return
    async with lock(context, game_id):
        await quietly(context, game_id, close(context, game_id, position))


# ---------------------------------------------------------------- /stop's permission


async def may_stop(
    context: BotContext, game: Game, user: User, sender_chat_id: int | None
) -> bool:
    """The starter, an anonymous admin of this group, or an admin (getChatMember, cached a
    minute: a burst of /stop asks Telegram once)."""
    if user.id == game.starter_id or sender_chat_id == game.chat_id:
        return True
    cache = context.bot_data.games.admins
    key = (game.chat_id, user.id)
    now = context.now().timestamp()
    hit = cache.get(key)
    if hit is not None and now - hit[1] < ADMIN_CACHE_SECONDS:
        return hit[0]
    try:
        member = await context.bot.get_chat_member(game.chat_id, user.id)
    except BadRequest as exc:  # "user not found", "chat not found": not an admin we can see
        log.info("getChatMember %s in %s: %s", user.id, game.chat_id, exc.message)
        return False
    is_admin = member.status in ADMIN_STATUSES
    if len(cache) > CACHE_BOUND:
        cache.clear()
    cache[key] = (is_admin, now)
    return is_admin
