"""Bounds defined once: in-memory caches and other sizes the bot keeps to.

Every cache is a shortcut the database can always answer again, so a full cache is cleared
rather than evicted entry by entry: memory stays flat whatever the traffic.
"""

from __future__ import annotations

CACHE_BOUND = 50_000  # entries in any one in-memory cache
# Pictures drawn for /progress, /stats and the weekly recap, kept per owner per day (each about
# 50-120 KB, so at most ~25 MB): a second /progress the same day with the same data is not
# drawn again.
PICTURE_CACHE_BOUND = 200
