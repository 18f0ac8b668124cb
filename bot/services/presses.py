"""Presses as the door hands them on: typed, with what their data names loaded and checked
(``services.door`` admits or refuses each one), and ``Reply``, what a press handler returns.

A press handler never reads callback data: it gets, say, ``ChoicePress(asking, position, …)``
or ``ImportPress(pending_id, add)`` in ``context.press``.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram import CallbackQuery, MaybeInaccessibleMessage
from telegram import User as TgUser

from bot.core.models import Question
from bot.db import Asking, Session

NOT_VALID = "This button is not valid here."
NOT_YOURS = "This is someone else's quiz: start your own with /quiz."


@dataclass(frozen=True, slots=True, kw_only=True)
class Press:
    """An admitted press: who pressed, where, and the query to answer."""

    query: CallbackQuery
    user: TgUser
    chat_id: int
    message_id: int
    admitted_at: float = field(default_factory=time.monotonic)  # for the answer's latency


@dataclass(frozen=True, slots=True, kw_only=True)
class Chosen(Press):
    """A choice under a shown question: the asking, the position pressed, and the question
    itself if it can still be graded (the bank still has it with the choices it was asked
    with: after an edit that reorders or rewrites them, an old button cannot be graded)."""

    asking: Asking
    position: int  # as shown
    chosen: int  # the bank's index of the choice shown there (the asking's order)
    question: Question | None  # None: left the bank or changed since it was asked
    correct: bool  # graded here, once: the chosen choice is the question's key


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerPress(Chosen):
    """a1: one button on two features (posted buttons keep their data), told apart by the
    asking it names: a quiz's (``ChoicePress``) or a channel post's (``ChannelPress``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoicePress(AnswerPress):
    """a1 on a quiz's question (private or group), with its session."""

    session: Session


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelPress(AnswerPress):
    """a1 on a channel post, or on an admin's /preview of one (``preview``: record nothing)."""

    preview: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class GamePress(Chosen):
    """g1: a live game's choice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NextPress(Press):
    """n1: a group quiz's "Next"."""

    asking: Asking
    session: Session


@dataclass(frozen=True, slots=True, kw_only=True)
class DonePress(Press):
    """d1: a choice of an answered question, kept styled under its feedback."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportPress(Press):
    """r1: ⚑ report a mistake in the asked question."""

    asking: Asking


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetPress(Press):
    """f1: yes or no under /forget's question."""

    confirm: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class HidePress(Press):
    """h1: hide from (or show again on) leaderboards."""

    hidden: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MorePress(Press):
    """m1: "More on <topic>" under a practise summary."""

    question_id: str
    message: MaybeInaccessibleMessage  # the summary: its chat and forum topic


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressPress(Press):
    """p1: /score's "progress picture" button, under the learner's own /score."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportPress(Press):
    """i1: "Add" or "Skip" under a forwarded post shown to an admin."""

    pending_id: int
    add: bool


@dataclass(frozen=True, slots=True)
class Reply:
    """What a press handler decided: the answer the presser sees, and what follows it."""

    text: str | None = None  # plain text (an answer is not parsed): never escaped
    alert: bool = False  # a dialog the presser closes, rather than a toast
    then: Coroutine[Any, Any, None] | None = None  # runs after the answer, outside the slots

    @classmethod
    def refused(cls, text: str = NOT_VALID) -> Reply:
        return cls(text, alert=True)
