"""The application's state, typed: ``BotData`` (settings, bank, store, clock, every in-memory
cache) and ``BotContext``, what every handler and job receives. Casts live here only."""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.core.limits import CACHE_BOUND
from bot.core.models import Question, QuestionBank
from bot.db import Store
from bot.state.drawing import Drawer
from bot.state.replies import InReplyAnswers

if TYPE_CHECKING:  # a type only: the door (services.presses) sets it, the press routes read it
    from bot.services.presses import Press


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class GroupRefresh:
    """An "Answered: …" edit under way for a group question (see handlers.quiz)."""

    again: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class GameRuntime:
    """Live games' in-memory state (services.game); the database holds everything that must
    survive a restart, this only what is cheap to lose."""

    # Per group: when (bot clock, seconds) each game message of the last minute went out,
    # to plan the next within 20 a minute (core.game).
    sent: dict[int, list[float]] = field(default_factory=dict)
    # Per game: one step at a time (a refresh edit must never land over the reveal).
    locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    # (chat, user) -> (is an admin, when Telegram said so): /stop asks getChatMember once
    # a minute at most per member.
    admins: dict[tuple[int, int], tuple[bool, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PendingImport:
    """A forwarded channel post waiting for the admin's "Add" or "Skip" (handlers.imports)."""

    entry: Question
    chat_id: int
    message_id: int


class ZoneCache(OrderedDict[int, str]):
    """Users' /timezone, most recently set last, bounded by CACHE_BOUND (the oldest go)."""

    def __setitem__(self, user_id: int, zone: str) -> None:
        super().__setitem__(user_id, zone)
        self.move_to_end(user_id)
        while len(self) > CACHE_BOUND:
            self.popitem(last=False)


@dataclass
class BotData:
    """State shared by every handler and job (``application.bot_data``)."""

    settings: Settings
    bank: QuestionBank
    # The store: set at start (``bot.app``'s post_init), gone at stop (``store_`` is None
    # then). A plain attribute rather than a checking property: every press reads it.
    store: Store = field(init=False, repr=False, compare=False)
    # Choosing a day's question reads the queue, then records the choice: two dates planned
    # at once would otherwise both read it first and pick the same question.
    day_choice: asyncio.Lock = field(default_factory=asyncio.Lock)
    clock: Callable[[], datetime] = utc_now
    rng: random.Random = field(default_factory=random.Random)
    channel_username: str | None = None  # "@name", or the title of a channel without one
    channel_failing: str | None = None  # the last reason posting failed, until a post works
    dirty_tallies: set[int] = field(default_factory=set)  # channel post ids to re-render
    # Read-mostly lookups on the press path, kept in memory (bounded; cleared when they change).
    user_zones: ZoneCache = field(default_factory=ZoneCache)  # who set /timezone
    asking_posts: dict[int, int | None] = field(default_factory=dict)
    group_edits: dict[int, GroupRefresh] = field(default_factory=dict)  # by asking id
    follow_ups: set[asyncio.Task[Any]] = field(default_factory=set)  # awaited at shutdown
    last_cycle_warning: str | None = None
    # Forwarded posts shown to an admin, by the id on their buttons (bounded; lost on restart,
    # where a press says the import expired). The lock keeps two appends from racing on FILE.
    pending_imports: dict[int, PendingImport] = field(default_factory=dict)
    import_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    games: GameRuntime = field(default_factory=GameRuntime)
    drawer: Drawer = field(default_factory=Drawer)  # pictures: one worker, a per-day cache
    # Webhook mode: presses whose answer may ride in the webhook's response (state.replies).
    in_reply: InReplyAnswers = field(default_factory=InReplyAnswers)
    # The error handler's throttle: when (monotonic) the admins were last paged, by error
    # kind (handlers.errors). Keys are exception class names: a handful, bounded anyway.
    error_notices: dict[str, float] = field(default_factory=dict)
    # The bot's TIMEZONE, read once: a press asks for a day, not for the settings again.
    zone: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.zone = self.settings.zone

    metrics_port: int | None = None  # where /healthz and /metrics listen (METRICS_PORT; §10)

    def zone_of(self, user_id: int) -> ZoneInfo:
        """The user's /timezone, or the bot's TIMEZONE: what decides when their day starts."""
        name = self.user_zones.get(user_id)
        return ZoneInfo(name) if name else self.zone

    @property
    def store_(self) -> Store | None:
        """The store, or None before start and after stop (reading ``store`` then raises
        AttributeError)."""
        store: Store | None = self.__dict__.get("store")
        return store

    @store_.setter
    def store_(self, store: Store | None) -> None:
        if store is None:
            self.__dict__.pop("store", None)
        else:
            self.store = store


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler and job receives."""

    # The press the door admitted for this update, typed (``services.presses.guard`` sets it
    # in handler group -1; PTB hands the same context to the press's route in group 0).
    press: Press | None = None

    @property
    def data(self) -> BotData:
        return self.bot_data

    @property
    def settings(self) -> Settings:
        return self.bot_data.settings

    @property
    def bank(self) -> QuestionBank:
        return self.bot_data.bank

    @property
    def store(self) -> Store:
        return self.bot_data.store

    def now(self) -> datetime:
        return self.bot_data.clock()


BotApp = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, Any]


def context_types(
    bot_data: BotData,
) -> ContextTypes[BotContext, dict[Any, Any], dict[Any, Any], BotData]:
    """PTB builds bot_data by calling the type it is given: we give it our one instance."""

    def make_bot_data() -> BotData:
        return bot_data

    factory: Any = make_bot_data
    return ContextTypes(context=BotContext, bot_data=factory)
