"""THE DOOR: every button press passes here before any feature code runs.

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

An admitted press goes to its feature's handler, which does the press's own work (records an
answer, deletes a user, ...) and returns a ``Reply``: what the presser is told, and what follows
(an edit, the next question). The door's caller answers the press first and only then starts
what follows, as its own task outside the press slots: so no press ever waits on a send or an
edit that may sit in a flood limiter (handlers never answer or send themselves).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, MaybeInaccessibleMessage, Message, Update
from telegram import User as TgUser
from telegram.constants import ChatType

from bot.core.models import Question
from bot.db import Asking, Session
from bot.runtime.context import BotContext
from bot.services.messages import answer_press
from bot.ui import callback_data as cd

log = logging.getLogger(__name__)

NOT_VALID = "This button is not valid here."
NOT_YOURS = "This is someone else's quiz: start your own with /quiz."


@dataclass(frozen=True, slots=True)
class Rule:
    """Where one kind of button may be pressed."""

    asking_kinds: frozenset[str] = frozenset()  # asking-bound: which askings it may name
    private_only: bool = False  # only in the presser's own private chat
    group_session: bool = False  # only on a group quiz's asking


RULES: dict[str, Rule] = {
    cd.ANSWER: Rule(asking_kinds=frozenset({"quiz", "channel", "preview"})),
    cd.NEXT: Rule(asking_kinds=frozenset({"quiz"}), group_session=True),
    cd.REPORT: Rule(asking_kinds=frozenset({"quiz"})),
    cd.DONE: Rule(asking_kinds=frozenset({"quiz"})),
    cd.FORGET: Rule(private_only=True),
    cd.HIDE: Rule(private_only=True),
    cd.MORE: Rule(private_only=True),
    cd.IMPORT: Rule(private_only=True),  # and bound to the admin it was sent to (keyboards)
    # A live game's choice: on that question's message in that group (the asking's chat and
    # message, below); once per member (answers' key); before its deadline (services.game).
    cd.GAME: Rule(asking_kinds=frozenset({"game"})),
    cd.PROGRESS: Rule(private_only=True),  # the learner's own picture, under their /score
}


@dataclass(frozen=True, slots=True)
class Press:
    """An admitted press: what it names, loaded and checked."""

    query: CallbackQuery
    data: cd.Callback
    user: TgUser
    chat_id: int
    message_id: int
    asking: Asking | None = None
    session: Session | None = None

    @property
    def kind(self) -> str:
        return self.data.kind

    def question(self, context: BotContext) -> Question | None:
        return context.bank.get(self.asking.question_id) if self.asking else None

    def gradable(self, context: BotContext) -> Question | None:
        """The asked question, if the bank still has it with the choices it was asked with
        (after an edit that reorders or rewrites them, an old button cannot be graded)."""
        q = self.question(context)
        if q is None or not q.quizzable or self.asking is None:
            return None
        return q if q.choices_sig == self.asking.choices_sig else None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a press handler decided: the answer the presser sees, and what follows it."""

    text: str | None = None  # plain text (an answer is not parsed): never escaped
    alert: bool = False  # a dialog the presser closes, rather than a toast
    then: Coroutine[Any, Any, None] | None = None  # runs after the answer, outside the slots

    @classmethod
    def refused(cls, text: str = NOT_VALID) -> Reply:
        return cls(text, alert=True)


async def refuse(query: CallbackQuery, text: str = NOT_VALID) -> None:
    """The only thing a refused press gets: one short alert."""
    await answer_press(query, text, show_alert=True)


async def admit(update: Update, context: BotContext) -> Press | None:
    """Decode, load and check a press; refuse it (one alert) and return None if it fails."""
    query = update.callback_query
    if query is None:
        return None
    why = await _check(query, context)
    if isinstance(why, Press):
        return why
    log.info("press refused: user=%s data=%.64r (%s)", query.from_user.id, query.data, why)
    await refuse(query, NOT_YOURS if why == "not the quiz's learner" else NOT_VALID)
    return None


async def _check(query: CallbackQuery, context: BotContext) -> Press | str:
    """The admitted press, or why it is refused (for the log)."""
    data = cd.decode(query.data)
    if data is None:
        return "data we never make"
    message = query.message  # None for a button on an inline message: we send none
    if message is None:
        return "no message"
    user = query.from_user
    chat_id, message_id = message.chat.id, message.message_id
    rule = RULES[data.kind]
    own_private = message.chat.type == ChatType.PRIVATE and chat_id == user.id
    if rule.private_only and not own_private:
        return "not in the presser's private chat"
    press = Press(query=query, data=data, user=user, chat_id=chat_id, message_id=message_id)
    if data.kind in cd.KEYBOARD_KINDS:
        keyboard = await context.store.keyboards.find(chat_id, message_id)
        if keyboard is None or keyboard.user_id != user.id:
            return "no such keyboard for this user"
        if query.data not in keyboard.data:
            return "data not on this message"
        return press
    asking, session = await context.store.quizzes.get_asking_and_session(data.int_arg(0))
    if asking is None or asking.kind not in rule.asking_kinds:
        return "no such asking"
    if asking.chat_id is None and asking.kind == "channel":
        # A channel post whose message is not known: being stored right now, or sent with an
        # unknown outcome (Telegram can answer 502 after delivering it). Its buttons stay live
        # (contract §4): a press on our channel, on a message that carries this very button,
        # shows which message it is (Telegram, not the client, sends ``query.message``).
        if not _on_our_channel(message, context.settings.channel_id):
            return "asking of another chat"
        if not _carries(message, query.data):
            return "data not on this message"
    elif asking.chat_id != chat_id:
        return "asking of another chat"
    # The message id is stored just after the send returns; until then (a press within
    # milliseconds, or a store that failed after the send) the asking's own chat suffices.
    if asking.message_id is not None and asking.message_id != message_id:
        return "asking of another message"
    if data.kind in {cd.ANSWER, cd.GAME} and data.int_arg(1) >= len(asking.order):
        return "no such choice"
    if asking.kind == "preview" and not (own_private and user.id in context.settings.admin_ids):
        return "preview pressed by a non-admin"
    if asking.kind == "quiz":
        if session is None:
            return "asking without session"
        if rule.group_session and session.user_id is not None:
            return "next on a personal quiz"
        if session.user_id is not None and session.user_id != user.id:
            return "not the quiz's learner"
    if asking.message_id is None:
        # Not recorded at the send (see above): this press shows where it is. Later presses
        # and the follow-up's edits use it; a press on another message is refused from now.
        quizzes = context.store.quizzes
        if await quizzes.bind_asking_message(asking.id, chat_id, message_id):
            asking = dataclasses.replace(asking, chat_id=chat_id, message_id=message_id)
        else:  # bound a moment ago, by the send or another press: this message, or no
            bound = await quizzes.get_asking(asking.id)
            if bound is None or (bound.chat_id, bound.message_id) != (chat_id, message_id):
                return "asking of another message"
            asking = bound
    return Press(
        query=query,
        data=data,
        user=user,
        chat_id=chat_id,
        message_id=message_id,
        asking=asking,
        session=session,
    )


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
