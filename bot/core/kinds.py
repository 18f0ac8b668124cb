"""What a stored asking or quiz session is, as enums.

``StrEnum``: a member *is* its text, so the rows keep the very text they always had (the
database is unchanged) and a kind read back from a row compares equal to its member.
"""

from __future__ import annotations

from enum import StrEnum


class AskingKind(StrEnum):
    """Where an asking (a question shown with its choice order) was sent."""

    QUIZ = "quiz"  # a question of a quiz session, private or group (/quiz, /review, /daily)
    CHANNEL = "channel"  # a channel post
    PREVIEW = "preview"  # an admin's /preview of a post: its presses record nothing
    GAME = "game"  # a live game's question (contract §11)


class SessionKind(StrEnum):
    """Why a quiz session was started."""

    QUIZ = "quiz"  # /quiz, or "More on <topic>"
    REVIEW = "review"  # /review: the questions that are due
    PRACTISE = "practise"  # /start q_<id> from a channel post: one question, then its topic
    DAILY = "daily"  # a /daily subscriber's question: never expires, stops no other quiz
