"""Bounds defined once: in-memory caches and other sizes the bot keeps to.

Every cache is a shortcut the database can always answer again, so a full cache is cleared
rather than evicted entry by entry: memory stays flat whatever the traffic.
"""

from __future__ import annotations

CACHE_BOUND = 50_000  # entries in any one in-memory cache
LOG_LINES_BOUND = 1_000  # distinct log lines a repeat throttle remembers (runtime/logs.py)
CHAT_LIMITERS_BOUND = 10_000  # per-chat flood limiters kept, least recently used dropped first
