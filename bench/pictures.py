"""Drawing one picture: time and memory.

    python -m bench.pictures [--draws 20]

In a fresh process: what importing matplotlib costs (time, RSS), the first picture (fonts
loaded then), and then ``--draws`` more of each kind with different data (no cache): time per
picture (p50, max), its size, the Python heap's peak during one drawing (tracemalloc) and the
process's peak RSS. Not part of the tests.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bot.ui import captions, pictures


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def progress_data(seed: int) -> tuple[list[pictures.Day], list[pictures.Share], str]:
    rnd = random.Random(seed)
    start = date(2026, 11, 1)
    days = []
    for i in range(30):
        n = rnd.choice([0, 0, 2, 5, 9, 14])
        days.append(
            pictures.Day(captions.day_label(start + timedelta(days=i)), n, rnd.randint(0, n))
        )
    topics = []
    for t in range(8):
        n = rnd.randint(3, 60)
        topics.append(pictures.Share(f"Topic {t}", n, rnd.randint(0, n)))
    topics.sort(key=lambda s: s.pct)
    return days, topics, f"Learner {seed} · Nov 1 – Nov 30"


def posts_data(seed: int) -> tuple[list[pictures.Share], str, int]:
    rnd = random.Random(seed)
    start = date(2026, 11, 1)
    posts = []
    for i in range(30):
        n = rnd.randint(20, 900)
        posts.append(
            pictures.Share(captions.day_label(start + timedelta(days=i)), n, rnd.randint(0, n))
        )
    return posts, "Last 30 channel posts", rnd.randrange(30)


def measure(name: str, draw: Callable[[int], bytes], draws: int) -> dict[str, object]:
    times, sizes = [], []
    for seed in range(1, draws + 1):
        t0 = time.perf_counter()
        sizes.append(len(draw(seed)))
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    draw(draws + 1)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    return {
        "picture": name,
        "p50_ms": round(times[len(times) // 2] * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1),
        "size_kb": round(max(sizes) / 1024, 1),
        "heap_peak_mb": round(heap_peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pictures", description=__doc__)
    parser.add_argument("--draws", type=int, default=20)
    args = parser.parse_args()
    assert "matplotlib" not in sys.modules
    rss0 = rss_mb()
    t0 = time.perf_counter()
    from matplotlib import figure  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401 - what the first picture imports

    import_s = time.perf_counter() - t0
    rss1 = rss_mb()
    t0 = time.perf_counter()
    pictures.progress_png(*progress_data(0))
    first_s = time.perf_counter() - t0

    def progress(seed: int) -> bytes:
        return pictures.progress_png(*progress_data(seed))

    def posts(seed: int) -> bytes:
        return pictures.posts_png(*posts_data(seed))

    rows = [
        measure("/progress", progress, args.draws),
        measure("/stats, weekly", posts, args.draws),
    ]
    print(f"python {sys.version.split()[0]}, matplotlib {sys.modules['matplotlib'].__version__}")
    print(
        f"RSS before matplotlib: {rss0:.1f} MB; after importing it: {rss1:.1f} MB "
        f"(+{rss1 - rss0:.1f} MB, {import_s * 1000:.0f} ms)"
    )
    print(f"first picture (fonts loaded): {first_s * 1000:.0f} ms")
    keys = list(rows[0])
    print(" | ".join(keys))
    print(" | ".join("---" for _ in keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))
    print(f"peak RSS of the process: {peak_rss_mb():.1f} MB")


if __name__ == "__main__":
    main()
