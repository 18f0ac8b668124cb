"""THE DOOR: every button press passes here before any feature code runs.

A new kind of button means a rule here (``RULES``), its checks in ``_admit``, and its typed
press in ``services.presses`` (with ``Reply``, what a press handler returns).

Telegram does not check ``callback_data``: a modified client can send any data on any message
it can see. So a press is honoured only where the bot put that very button (contract §6):

- the data must decode (versioned, bounded, ASCII digits only: ``ui.callback_data``);
- it must come from a message (not an inline message) and name what is stored for it:
  an asking (quiz choice, next, report, an answered choice) must have been sent on *this*
  chat and *this* message; any other button must be in the ``keyboards`` row of this
  message, with the exact data the bot put there;
- each kind may be pressed only where it makes sense (``RULES``): a personal quiz by its
  learner, "next" only in a group session, forget/hide/more/import only in the presser's
  own private chat and by the user they were sent to, a preview's choices only by an admin.

Anything else gets one short alert and nothing else: no points, no edit, no message.

The door is ``guard``, a handler of its own in an earlier group than the press routes
(``handlers.register``): a refused press is answered there and ``ApplicationHandlerStop`` ends
its update, so no route ever sees it. An admitted press is handed on *typed* (``ChoicePress``,
``ImportPress``, ...: what its data names, loaded and checked) in ``BotContext.press``, and PTB
routes it by its data's pattern to its feature's handler. That handler does the press's own
work (records an answer, deletes a user, ...) and returns a ``Reply``: what the presser is
told, and what follows (an edit, the next question). ``handlers.answered`` answers the press
first and only then starts what follows, as its own task outside the press slots: so no press
ever waits on a send or an edit that may sit in a flood limiter (handlers never answer or send
themselves).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TypedDict

from telegram import CallbackQuery, MaybeInaccessibleMessage, Message, Update
from telegram import User as TgUser
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.core.kinds import AskingKind
from bot.core.models import Question
from bot.db import Asking
from bot.services.messages import answer_press
from bot.services.presses import (
    NOT_VALID,
    NOT_YOURS,
    ChannelPress,
    ChoicePress,
    DonePress,
    ForgetPress,
    GamePress,
    HidePress,
    ImportPress,
    MorePress,
    NextPress,
    Press,
    ProgressPress,
    ReportPress,
)
from bot.state.context import BotContext, BotData
from bot.ui import callback_data as cd

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rule:
    """Where one kind of button may be pressed."""

    asking_kinds: frozenset[AskingKind] = frozenset()  # asking-bound: which askings it may name
    private_only: bool = False  # only in the presser's own private chat
    group_session: bool = False  # only on a group quiz's asking


RULES: dict[str, Rule] = {
    cd.ANSWER: Rule(
        asking_kinds=frozenset({AskingKind.QUIZ, AskingKind.CHANNEL, AskingKind.PREVIEW})
    ),
    cd.NEXT: Rule(asking_kinds=frozenset({AskingKind.QUIZ}), group_session=True),
    cd.REPORT: Rule(asking_kinds=frozenset({AskingKind.QUIZ})),
    cd.DONE: Rule(asking_kinds=frozenset({AskingKind.QUIZ})),
    cd.FORGET: Rule(private_only=True),
    cd.HIDE: Rule(private_only=True),
    cd.MORE: Rule(private_only=True),
    cd.IMPORT: Rule(private_only=True),  # and bound to the admin it was sent to (keyboards)
    # A live game's choice: on that question's message in that group (the asking's chat and
    # message, below); once per member (answers' key); before its deadline (services.game_members).
    cd.GAME: Rule(asking_kinds=frozenset({AskingKind.GAME})),
    cd.PROGRESS: Rule(private_only=True),  # the learner's own picture, under their /score
}


class _At(TypedDict):
    """Where and by whom a press was made: every typed press starts with these."""

    query: CallbackQuery
    user: TgUser
    chat_id: int
    message_id: int


class _Graded(_At):
    """A choice's press, graded: every ``Chosen`` press starts with these."""

    asking: Asking
    position: int
    chosen: int
    question: Question | None
    correct: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a press is refused (for the log), and the one alert its presser gets."""

    why: str
    text: str = NOT_VALID


# ---------------------------------------------------------------- the guard


async def guard(update: Update, context: BotContext) -> None:
    """Every press, before any route (``handlers.register``, group -1): admit it, typed, into
    ``context.press``; or answer it with one alert and stop its update here."""
    query = update.callback_query
    assert query is not None  # a CallbackQueryHandler's update
    admitted = await _admit(query, context.bot_data)
    if isinstance(admitted, Press):
        context.press = admitted
        return
    log.info(
        "press refused: user=%s data=%.64r (%s)", query.from_user.id, query.data, admitted.why
    )
    await answer_press(context.bot_data, query, admitted.text, show_alert=True)
    raise ApplicationHandlerStop


async def _admit(query: CallbackQuery, data: BotData) -> Press | Refusal:
    """The admitted press, typed, or why it is refused.

    Each kind's data is read here, once (its encoder is in ``ui.callback_data``): handlers
    get what it names, loaded and checked, never the data's text."""
    decoded = cd.decode(query.data)
    if decoded is None:
        return Refusal("data we never make")
    message = query.message  # None for a button on an inline message: we send none
    if message is None:
        return Refusal("no message")
    kind, args = decoded.kind, decoded.args
    user = query.from_user
    chat_id, message_id = message.chat.id, message.message_id
    rule = RULES[kind]
    own_private = message.chat.type == ChatType.PRIVATE and chat_id == user.id
    if rule.private_only and not own_private:
        return Refusal("not in the presser's private chat")
    store = data.store
    at: _At = {"query": query, "user": user, "chat_id": chat_id, "message_id": message_id}
    if kind in cd.KEYBOARD_KINDS:
        keyboard = await store.keyboards.find(chat_id, message_id)
        if keyboard is None or keyboard.user_id != user.id:
            return Refusal("no such keyboard for this user")
        if query.data not in keyboard.data:
            return Refusal("data not on this message")
        if kind == cd.FORGET:
            return ForgetPress(**at, confirm=args[0] == "yes")
        if kind == cd.HIDE:
            return HidePress(**at, hidden=args[0] == "1")
        if kind == cd.MORE:
            return MorePress(**at, question_id=args[0], message=message)
        if kind == cd.PROGRESS:
            return ProgressPress(**at)
        return ImportPress(**at, pending_id=int(args[0]), add=args[1] == "add")
    asking, session = await store.quizzes.get_asking_and_session(int(args[0]))
    if asking is None or asking.kind not in rule.asking_kinds:
        return Refusal("no such asking")
    if asking.chat_id is None and asking.kind == AskingKind.CHANNEL:
        # A channel post whose message is not known: being stored right now, or sent with an
        # unknown outcome (Telegram can answer 502 after delivering it). Its buttons stay live
        # (contract §4): a press on our channel, on a message that carries this very button,
        # shows which message it is (Telegram, not the client, sends ``query.message``).
        if not _on_our_channel(message, data.settings.channel_id):
            return Refusal("asking of another chat")
        if not _carries(message, query.data):
            return Refusal("data not on this message")
    elif asking.chat_id != chat_id:
        return Refusal("asking of another chat")
    # The message id is stored just after the send returns; until then (a press within
    # milliseconds, or a store that failed after the send) the asking's own chat suffices.
    if asking.message_id is not None and asking.message_id != message_id:
        return Refusal("asking of another message")
    choice = kind in {cd.ANSWER, cd.GAME}
    position = int(args[1]) if choice else 0
    if choice and position >= len(asking.order):
        return Refusal("no such choice")
    if asking.kind == AskingKind.PREVIEW and not (
        own_private and user.id in data.settings.admin_ids
    ):
        return Refusal("preview pressed by a non-admin")
    if asking.kind == AskingKind.QUIZ:
        if session is None:
            return Refusal("asking without session")
        if rule.group_session and session.user_id is not None:
            return Refusal("next on a personal quiz")
        if session.user_id is not None and session.user_id != user.id:
            return Refusal("not the quiz's learner", NOT_YOURS)
    if asking.message_id is None:
        # Not recorded at the send (see above): this press shows where it is. Later presses
        # and the follow-up's edits use it; a press on another message is refused from now.
        if await store.quizzes.bind_asking_message(asking.id, chat_id, message_id):
            asking = dataclasses.replace(asking, chat_id=chat_id, message_id=message_id)
        else:  # bound a moment ago, by the send or another press: this message, or no
            bound = await store.quizzes.get_asking(asking.id)
            if bound is None or (bound.chat_id, bound.message_id) != (chat_id, message_id):
                return Refusal("asking of another message")
            asking = bound
    if kind in {cd.NEXT, cd.REPORT, cd.DONE}:
        if kind == cd.REPORT:
            return ReportPress(**at, asking=asking)
        if kind == cd.DONE:
            return DonePress(**at)
        assert session is not None  # a quiz's asking (RULES, above)
        return NextPress(**at, asking=asking, session=session)
    # A choice: graded here, once, against the question as it was asked.
    q = data.bank.questions.get(asking.question_id)
    if q is not None and not (q.quizzable and q.choices_sig == asking.choices_sig):
        q = None
    chosen = asking.order[position]
    graded: _Graded = {
        **at,
        "asking": asking,
        "position": position,
        "chosen": chosen,
        "question": q,
        "correct": q is not None and chosen == q.correct,
    }
    if kind == cd.GAME:
        return GamePress(**graded)
    if asking.kind == AskingKind.QUIZ:
        assert session is not None  # checked above
        return ChoicePress(**graded, session=session)
    return ChannelPress(**graded, preview=asking.kind == AskingKind.PREVIEW)


def _on_our_channel(message: MaybeInaccessibleMessage, channel_id: str | None) -> bool:
    """Whether a message is in the channel CHANNEL_ID names (``@name`` or a numeric id)."""
    chat = message.chat
    if chat.type != ChatType.CHANNEL or not channel_id:
        return False
    if channel_id.startswith("@"):
        return (chat.username or "").lower() == channel_id[1:].lower()
    return str(chat.id) == channel_id


def _carries(message: MaybeInaccessibleMessage, data: str | None) -> bool:
    """Whether the message, as Telegram shows it, has a button with exactly this data.

    The Bot API warns that the message a press came from "can contain no callback buttons
    with this data" (CallbackQuery.data): the data is the client's, the message Telegram's.
    A message too old to be shown (``InaccessibleMessage``) carries nothing: refused."""
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None or data is None:
        return False
    return any(b.callback_data == data for row in markup.inline_keyboard for b in row)
