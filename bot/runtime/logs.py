"""Logging for operators: one line per event, and never the token.

PTB logs the API URL (which carries the token) at DEBUG, httpx (PTB's default client, not ours)
logs every request URL at INFO, and a client error may quote the URL; so besides quieting httpx,
every formatted line, tracebacks included, is redacted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram.error import InvalidToken

from bot.core.limits import LOG_LINES_BOUND

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__(FORMAT)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "<token>")
        return text


class QuietInvalidToken(logging.Filter):
    """A rejected token is an operator's typo, said in one sentence by the CLI: PTB's retry
    loop logs it with a traceback, which we drop (the log line itself stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InvalidToken):
            record.exc_info = None
            record.exc_text = None
        return True


class ThrottleRepeats(logging.Filter):
    """The same line again within ``window`` seconds is dropped and counted; the next one let
    through says how many were dropped. A fault that repeats every few milliseconds (a retry
    loop) then costs a line a minute, not gigabytes."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [first, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        key = (record.name, record.levelno, text)
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            seen[1] += 1
            return False
        if len(self._seen) >= LOG_LINES_BOUND:  # beyond that, start afresh
            self._seen.clear()
        self._seen[key] = [now, 0]
        if seen is not None and seen[1]:
            record.msg = f"{text} (and {int(seen[1])} more like it in the last minute)"
            record.args = None
        return True


def setup_logging(level: str, token: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(QuietInvalidToken())
    handler.addFilter(ThrottleRepeats())
    # The whole token, and its secret half on its own (it may appear URL-split).
    handler.setFormatter(RedactingFormatter([token, token.partition(":")[2]]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if level != "DEBUG":
        logging.getLogger("aiosqlite").setLevel(logging.WARNING)
