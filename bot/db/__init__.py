"""Every SQL statement of the bot, one module per thing it keeps; ``Store`` opens them all.

``store.users``, ``store.quizzes``, ``store.answers``, ``store.channel``, ``store.stats``,
``store.keyboards``, ``store.daily``, ``store.pending``, ``store.weekly`` and ``store.settings``
share one connection
(``connection.Database``) and its lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.db import answers, daily, games, keyboards, pending, quizzes
from bot.db.answers import AnswerRecord, Answers
from bot.db.channel import ChannelPost, ChannelPosts, ExtraPost
from bot.db.connection import Database, from_iso, iso
from bot.db.daily import Daily
from bot.db.games import Games
from bot.db.keyboards import Keyboard, Keyboards
from bot.db.pending import PendingUpdates
from bot.db.quizzes import Asking, Quizzes, Session
from bot.db.settings import KeyValues
from bot.db.stats import Stats
from bot.db.users import User, Users
from bot.db.weekly import WeeklyPosts
from bot.db.workers import Workers

__all__ = [
    "AnswerRecord",
    "Asking",
    "ChannelPost",
    "Database",
    "ExtraPost",
    "Keyboard",
    "Session",
    "Store",
    "User",
    "backup_database",
    "from_iso",
    "iso",
]


class Store:
    """All persistent state. Open with ``await Store.open(path)``; close with ``close()``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.settings = KeyValues(database)
        # /forget: each table's rows go through the module that owns its writes.
        forget_steps = (
            answers.forget_user,
            quizzes.forget_user,
            keyboards.forget_user,
            daily.forget_user,
            games.forget_user,
            pending.forget_user,
        )
        # Users rows known to hold a name: db.answers reads and fills it, /forget empties it.
        names: dict[int, str] = {}
        self.users = Users(database, forget_steps=forget_steps, names=names)
        # A group's new chat id: the rows of each table move through the module owning it.
        self.quizzes = Quizzes(
            database, move_chat_steps=(answers.move_chat, keyboards.move_chat, games.move_chat)
        )
        self.answers = Answers(database, names)
        self.channel = ChannelPosts(database, forget_asking=self.quizzes.forget_asking)
        self.stats = Stats(database)
        self.keyboards = Keyboards(database)
        self.daily = Daily(database)
        self.games = Games(database, self.answers)
        self.pending = PendingUpdates(database)
        self.weekly = WeeklyPosts(database)
        self.workers = Workers(database)

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout: float = 10.0) -> Store:
        """A SQLite file, or a ``postgresql://`` URL (CONTRACT §10)."""
        return cls(await Database.open(path, busy_timeout=busy_timeout))

    async def close(self) -> None:
        await self.answers.drain()
        await self.database.close()

    async def integrity_check(self) -> str:
        return await self.database.integrity_check()

    async def migrate(self) -> int:
        return await self.database.migrate()


async def backup_database(source: Path, target: Path) -> None:
    """A consistent copy of a live database through SQLite's online backup API."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy() -> None:
        src = sqlite3.connect(source)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()

    await asyncio.to_thread(copy)
