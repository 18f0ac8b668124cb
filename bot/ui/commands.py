"""The command table: one list feeds /help and the menu set with ``setMyCommands``."""

from __future__ import annotations

from telegram import BotCommand

PUBLIC_COMMANDS: list[tuple[str, str]] = [
    ("quiz", "a round of questions: /quiz [topic] [count]"),
    ("game", "in a group: a timed game, /game [topic] [count] [seconds]"),
    ("review", "the questions due for review"),
    ("topics", "topics, question counts and your progress"),
    ("score", "your points, accuracy and streak"),
    ("progress", "your last 30 days and topics as a picture"),
    ("leaderboard", "top 10 today, this week and all time"),
    ("timezone", "your time zone for streaks: /timezone Europe/Berlin"),
    ("daily", "a question every day: /daily [HH:MM|off]"),
    ("stop", "end the current quiz or game"),
    ("forget", "delete everything I keep about you"),
    ("help", "what I can do"),
    ("start", "welcome"),
]

ADMIN_COMMANDS: list[tuple[str, str]] = [
    ("post_now", "post now: /post_now [question_id]"),
    ("schedule", "show or change: HH:MM | reset | YYYY-MM-DD HH:MM [id]"),
    ("unschedule", "remove extra post N: /unschedule N"),
    ("queue", "the next questions: /queue [n]"),
    ("skip", "skip the next question in the queue"),
    ("pause", "pause daily posting"),
    ("resume", "resume daily posting"),
    ("preview", "see a post: /preview <question_id> | weekly"),
    ("reload", "re-read the question bank"),
    ("repost", "re-render a posted question: /repost <question_id>"),
    ("stats", "answers and accuracy per post"),
]


def bot_commands(*, admin: bool) -> list[BotCommand]:
    table = PUBLIC_COMMANDS + (ADMIN_COMMANDS if admin else [])
    return [BotCommand(name, desc) for name, desc in table]
