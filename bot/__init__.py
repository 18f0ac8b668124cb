"""A Telegram bot for Python interview practice: a daily channel question and scored quizzes."""

import os

# PTB 22.2 deprecated integer ``RetryAfter.retry_after`` (it becomes a timedelta in v23). Opt
# in now, before anything reads it: PTB's own rate limiter and network loop read the
# timedelta either way, and the bot itself never reads it (see runtime/request.py).
os.environ.setdefault("PTB_TIMEDELTA", "1")

__version__ = "0.1.0"
