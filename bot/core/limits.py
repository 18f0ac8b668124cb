"""Bounds defined once: in-memory caches and other sizes the bot keeps to.

Every cache is a shortcut the database can always answer again, so a full cache is cleared
rather than evicted entry by entry: memory stays flat whatever the traffic.
"""

from __future__ import annotations

CACHE_BOUND = 50_000  # entries in any one in-memory cache
LOG_LINES_BOUND = 1_000  # distinct log lines a repeat throttle remembers (runtime/logs.py)
CHAT_LIMITERS_BOUND = 10_000  # per-chat flood limiters kept, least recently used dropped first
SQL_CACHE_BOUND = 2048  # PostgreSQL: statement texts translated (db/postgres.py; multi-row
# VALUES vary in length)
METRIC_METHODS_BOUND = 200  # Bot API method names kept as metric labels (runtime/metrics.py):
# a fixed set, but a label value must never grow without bound

# The update backlog (runtime/updates.py): what one key, one group and everyone together may
# have admitted and not finished; past these a new update is dropped (and a press answered).
MAX_PENDING_PER_USER = 16  # far above a human's taps in flight at once; a flood keeps only these
# A group gets 20 messages a minute: past three minutes' worth of replies, a command's answer
# would come too late to be of use, and the group would crowd out everyone's backlog.
MAX_PENDING_PER_GROUP = 60
MAX_BACKLOG = 10_000  # about a few KB each: tens of MB at most, whatever the traffic
MAX_NOTICES = 32  # "too many presses" answers in flight at once; past that a spinner times out
# Pictures drawn for /progress, /stats and the weekly recap, kept per owner per day (each about
# 50-120 KB, so at most ~25 MB): a second /progress the same day with the same data is not
# drawn again.
PICTURE_CACHE_BOUND = 200
