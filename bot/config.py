"""Settings from the environment (and `.env`), validated once at start.

Every mistake is collected and reported together, one sentence each, so an operator fixes a
configuration in one round instead of one restart per typo.

Over 300 lines: every setting's reading and its one-sentence check sit together, so that
collecting all the problems at once stays one pass over one list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dotenv import dotenv_values

DEFAULT_API_URL = "https://api.telegram.org/bot"
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$", re.ASCII)
_CHANNEL_RE = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d{5,20})$")
# setWebhook's secret_token: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are
# allowed" (https://core.telegram.org/bots/api#setwebhook).
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}", re.ASCII)
# The webhook path, served as Telegram sends it: segments of URL characters that need no
# percent-encoding (RFC 3986 "unreserved"), with an optional trailing slash. Anything else is
# refused, not guessed at: aiohttp matches the decoded path, so /tg/a%20b would never match,
# and reads {x} in a route as a variable; "." and ".." segments and "//" may be rewritten on
# the way (clients and proxies normalise them).
_WEBHOOK_PATH_RE = re.compile(r"(/(?!\.\.?(/|$))[A-Za-z0-9._~-]+)+/?", re.ASCII)
_LISTEN_RE = re.compile(r"[A-Za-z0-9.:_-]{1,253}", re.ASCII)  # an IP (v4 or v6) or a host name
DEFAULT_PORT = 8443
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order

NO_TOKEN_MESSAGE = (
    "BOT_TOKEN is not set: ask @BotFather on Telegram for a token (/newbot) and put it in a .env "
    "file in this folder as BOT_TOKEN=123456:ABC... (see .env.example)."
)


class ConfigError(ValueError):
    """One or more configuration problems; ``problems`` holds one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def parse_time(value: str) -> time:
    """Parse ``HH:MM`` or ``HH:MM:SS`` (24-hour clock)."""
    match = _TIME_RE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of the form HH:MM or HH:MM:SS")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{value!r} is not a valid time of day")
    return time(hour, minute, second)


@dataclass(frozen=True, slots=True)
class WeeklyAt:
    """WEEKLY_POST: the weekday (0 = Monday) and time of the weekly recap, in TIMEZONE."""

    weekday: int
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {self.at.strftime('%H:%M')}"


def parse_weekly(value: str) -> WeeklyAt | None:
    """``off`` (None) or ``DAY HH:MM``, DAY one of mon…sun (or the full English name)."""
    text = value.strip().lower()
    if text == "off":
        return None
    parts = text.split()
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    if len(parts) != 2 or (parts[0] not in WEEKDAYS and parts[0] not in full):
        raise ValueError(f"{value!r} is not off or a weekday and time such as sun 18:00")
    return WeeklyAt(WEEKDAYS.index(parts[0][:3]), parse_time(parts[1]))


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "posixrules", "Factory"})


def parse_zone(value: str) -> ZoneInfo:
    """An IANA zone such as ``Europe/Berlin``; raises ValueError for anything else."""
    name = value.strip()
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"{value!r} is not an IANA time zone name")
    # ZoneInfo also opens files that are no zone a user means: localtime, posixrules, Factory.
    if name not in _iana_zones():
        raise ValueError(f"{value!r} is not an IANA time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone name such as Europe/Berlin") from exc


def parse_database_url(value: str) -> str | Path | None:
    """A ``postgresql://`` URL as given, a ``sqlite:///path`` as its Path; None if neither.

    Only the shape is checked here (scheme, a host or a socket, a port that is a number);
    whether the server answers is found out at start (``postgres._connect``)."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError when not a number in range
    except ValueError:
        return None
    if parts.scheme == "sqlite":
        path = parts.path
        if parts.netloc or not path or path == "/":
            return None
        # sqlite:///relative and sqlite:////absolute, as SQLAlchemy reads them.
        return Path(path[1:])
    if parts.scheme in ("postgresql", "postgres"):
        has_socket = "host=" in parts.query
        if not (parts.hostname or has_socket) or (port is not None and port == 0):
            return None
        return value
    return None


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment."""

    token: str = field(repr=False)
    base_url: str = DEFAULT_API_URL
    channel_id: str | None = None
    admin_ids: frozenset[int] = frozenset()
    post_time: time = time(9, 0)
    timezone: str = "UTC"
    database_path: Path = Path("data/bot.sqlite3")
    content_dir: Path = Path("content")
    post_signature: str | None = None
    log_level: str = "INFO"
    rate_limit: bool = True
    webhook_url: str | None = None  # set: a webhook server instead of long polling (CONTRACT §9)
    webhook_secret: str | None = field(default=None, repr=False)  # None: generated at start
    webhook_listen: str = "0.0.0.0"  # noqa: S104 - the operator's proxy forwards to us (§2)
    port: int = DEFAULT_PORT
    webhook_answer_in_reply: bool = False  # answer presses in the webhook's HTTP response
    weekly_post: WeeklyAt | None = None  # WEEKLY_POST: the weekly recap (contract §12)
    database_url: str | None = field(default=None, repr=False)  # postgresql://: wins (§10)
    metrics_port: int | None = None  # GET /healthz and /metrics (§10); None: off
    metrics_listen: str = "127.0.0.1"
    # Not from the environment: knobs tests and benchmarks turn.
    tally_interval: float = 15.0  # seconds between two edits of a post's tally
    quiz_expiry_minutes: int = 60
    concurrent_updates: int = 16  # measured with bench/: 8-16 beat 32-256 on 2 cores
    db_busy_timeout: float = 10.0
    connection_pool_size: int = 16  # keep-alive connections to the Bot API
    # A pause before the next getUpdates after one that brought updates, so that under load
    # updates arrive in batches rather than a request each (about 8% less CPU per quiz
    # answer in bench/). A quiet bot's waiting long poll still returns the moment one comes.
    poll_pause: float = 0.01

    @property
    def database_location(self) -> Path | str:
        """What ``Store.open`` takes: the PostgreSQL URL, else the SQLite file."""
        return self.database_url or self.database_path

    @property
    def webhook_path(self) -> str:
        """The path Telegram posts to: ``https://example.com/tg/x7q`` -> ``/tg/x7q``."""
        return urlsplit(self.webhook_url or "").path

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, require_token: bool = True, dotenv: Path | None = None
    ) -> Settings:
        """Build settings from ``environ`` over ``.env``; ConfigError lists every problem."""
        env: dict[str, str] = {}
        dotenv_path = dotenv if dotenv is not None else Path.cwd() / ".env"
        if dotenv_path.is_file():
            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        env.update(environ)  # the real environment wins over .env
        problems: list[str] = []

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        token = get("BOT_TOKEN") or ""
        if require_token and not token:
            problems.append(NO_TOKEN_MESSAGE)
        elif token and not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            problems.append(
                "BOT_TOKEN does not look like a bot token (digits, a colon, then letters): "
                "copy it again from @BotFather."
            )

        base_url = get("TELEGRAM_API_URL") or DEFAULT_API_URL
        if not base_url.startswith(("http://", "https://")):
            problems.append(
                f"TELEGRAM_API_URL must start with http:// or https://, not {base_url!r}."
            )

        channel_id = get("CHANNEL_ID")
        if channel_id is not None and not _CHANNEL_RE.match(channel_id):
            problems.append(
                f"CHANNEL_ID must be @username or a numeric id such as -1001234567890, "
                f"not {channel_id!r}."
            )

        admin_ids: set[int] = set()
        for raw_id in (get("ADMIN_IDS") or "").split(","):
            part = raw_id.strip()
            if not part:
                continue
            if re.fullmatch(r"\d{1,20}", part):
                admin_ids.add(int(part))
            else:
                problems.append(
                    "ADMIN_IDS must be comma-separated numeric Telegram user ids; "
                    f"{part!r} is not one."
                )

        post_time = time(9, 0)
        if (raw := get("POST_TIME")) is not None:
            try:
                post_time = parse_time(raw)
            except ValueError as exc:
                problems.append(f"POST_TIME: {exc}.")

        timezone = get("TIMEZONE") or "UTC"
        try:
            parse_zone(timezone)
        except ValueError as exc:
            problems.append(f"TIMEZONE: {exc}.")

        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            problems.append(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {log_level!r}."
            )

        rate_raw = (get("RATE_LIMIT") or "on").lower()
        if rate_raw not in ("on", "off"):
            problems.append(f"RATE_LIMIT must be on or off, not {rate_raw!r}.")

        webhook_url = get("WEBHOOK_URL")
        if webhook_url is not None:
            try:
                parts = urlsplit(webhook_url)
                valid = parts.scheme == "https" and bool(parts.hostname) and len(parts.path) > 1
                valid = valid and not parts.fragment and (parts.port or 443) > 0
            except ValueError:  # a bad [IPv6] host or port
                valid = False
            if not valid:
                problems.append(
                    "WEBHOOK_URL must be an https:// URL with a path, such as "
                    f"https://example.com/tg/x7q, not {webhook_url!r}."
                )
            elif not _WEBHOOK_PATH_RE.fullmatch(parts.path):
                problems.append(
                    "WEBHOOK_URL's path must be made of A-Z, a-z, 0-9, '-', '.', '_' and '~' "
                    "between slashes (it is served exactly as Telegram sends it), "
                    f"not {parts.path!r}."
                )
        webhook_secret = get("WEBHOOK_SECRET")
        if webhook_secret is not None and not SECRET_TOKEN_RE.fullmatch(webhook_secret):
            problems.append(
                "WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                "(Telegram's rule for setWebhook's secret_token)."
            )
        webhook_listen = get("WEBHOOK_LISTEN") or "0.0.0.0"  # noqa: S104 - see the field
        if not _LISTEN_RE.fullmatch(webhook_listen):
            problems.append(
                "WEBHOOK_LISTEN must be an address to bind such as 0.0.0.0, "
                f"not {webhook_listen!r}."
            )
        in_reply_raw = (get("WEBHOOK_ANSWER_IN_REPLY") or "off").lower()
        if in_reply_raw not in ("on", "off"):
            problems.append(f"WEBHOOK_ANSWER_IN_REPLY must be on or off, not {in_reply_raw!r}.")
        weekly_post = None
        if (raw_weekly := get("WEEKLY_POST")) is not None:
            try:
                weekly_post = parse_weekly(raw_weekly)
            except ValueError:
                problems.append(
                    "WEEKLY_POST must be off, or a weekday and time in TIMEZONE such as "
                    f"sun 18:00, not {raw_weekly!r}."
                )
        port = DEFAULT_PORT
        if (raw_port := get("PORT")) is not None:
            if re.fullmatch(r"\d{1,5}", raw_port) and 1 <= int(raw_port) <= 65535:
                port = int(raw_port)
            else:
                problems.append(f"PORT must be a number from 1 to 65535, not {raw_port!r}.")

        database_path = Path(get("DATABASE_PATH") or "data/bot.sqlite3")
        database_url = None
        if (raw_url := get("DATABASE_URL")) is not None:
            parsed = parse_database_url(raw_url)
            if parsed is None:
                problems.append(
                    "DATABASE_URL must be postgresql://user:password@host:port/dbname or "
                    "sqlite:///path/to/file, not that value (check its scheme, host and port)."
                )
            elif isinstance(parsed, Path):
                database_path = parsed
            else:
                database_url = parsed
        if database_url is not None and webhook_url is not None and webhook_secret is None:
            # Several workers share one PostgreSQL (CONTRACT §10): a secret generated at start
            # would differ per process, and Telegram knows only the last setWebhook's.
            problems.append(
                "WEBHOOK_SECRET must be set in webhook mode on PostgreSQL (DATABASE_URL), "
                "the same for every worker: a generated one would differ per process."
            )
        metrics_port = None
        if (raw_metrics := get("METRICS_PORT")) is not None:
            if re.fullmatch(r"\d{1,5}", raw_metrics) and 1 <= int(raw_metrics) <= 65535:
                metrics_port = int(raw_metrics)
            else:
                problems.append(
                    f"METRICS_PORT must be a number from 1 to 65535, not {raw_metrics!r}."
                )
        metrics_listen = get("METRICS_LISTEN") or "127.0.0.1"
        if not _LISTEN_RE.fullmatch(metrics_listen):
            problems.append(
                f"METRICS_LISTEN must be an address to bind such as 127.0.0.1, "
                f"not {metrics_listen!r}."
            )

        if problems:
            raise ConfigError(problems)
        return cls(
            token=token,
            base_url=base_url,
            channel_id=channel_id,
            admin_ids=frozenset(admin_ids),
            post_time=post_time,
            timezone=timezone,
            database_path=database_path,
            database_url=database_url,
            metrics_port=metrics_port,
            metrics_listen=metrics_listen,
            content_dir=Path(get("CONTENT_DIR") or "content"),
            post_signature=get("POST_SIGNATURE"),
            log_level=log_level,
            rate_limit=rate_raw == "on",
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_listen=webhook_listen,
            port=port,
            webhook_answer_in_reply=in_reply_raw == "on",
            weekly_post=weekly_post,
        )

    def signature(self, channel_username: str | None) -> str:
        """The last line of a post: POST_SIGNATURE, else ``By: @<channel> ✨``."""
        if self.post_signature:
            return self.post_signature
        if channel_username:
            return f"By: @{channel_username.lstrip('@')} ✨"
        if self.channel_id and self.channel_id.startswith("@"):
            return f"By: {self.channel_id} ✨"
        return "By: @<channel> ✨"
