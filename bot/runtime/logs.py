"""Logging for operators: one line per event, and never the token.

PTB logs the API URL (which carries the token) at DEBUG and httpx logs every request URL at
INFO, so besides quieting httpx, every formatted line, tracebacks included, is redacted.
"""

from __future__ import annotations

import logging

from telegram.error import InvalidToken

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


def setup_logging(level: str, token: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(QuietInvalidToken())
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
