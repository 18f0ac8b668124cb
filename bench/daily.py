"""``python -m bench.run daily``: /daily deliveries to many subscribers due at one minute.

The fake Bot API enforces Telegram's overall flood limit (429 above 30 messages a second),
the bot runs with RATE_LIMIT=on, and while the deliveries go out the channel post (due at the
same moment) and a learner's quiz must still be served promptly.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.run import Answers, base_env, learner_bot, pct, peak_rate, ready, start
from tests.fakes import FakeBotApi, FakeUser

TOKEN = "123456:BENCH"
FIRST_SUBSCRIBER = 30_000_000
FLOOD_METHODS = ("sendMessage", "editMessageText", "editMessageReplyMarkup")


async def _subscribe(db_path: Path, fake: FakeBotApi, n: int, since: datetime) -> None:
    from bot.db import Store

    store = await Store.open(db_path)  # the real schema, through the real migrations
    await store.close()
    ids = range(FIRST_SUBSCRIBER, FIRST_SUBSCRIBER + n)
    for uid in ids:
        fake.private_chat(FakeUser(uid, f"S{uid}"))
        fake.known_users.add(uid)

    def fill() -> None:
        con = sqlite3.connect(db_path)
        con.executemany(
            "INSERT INTO daily_subscriptions (user_id, at, since) VALUES (?, NULL, ?)",
            ((uid, since.isoformat(timespec="seconds")) for uid in ids),
        )
        con.commit()
        con.close()

    await asyncio.to_thread(fill)


async def daily_run(subscribers: int, concurrency: int) -> dict[str, Any]:
    fake = FakeBotApi(TOKEN)
    fake.flood_limit = 30  # Telegram: about 30 messages a second overall
    await fake.start()
    watch = Answers()
    fake.listeners.append(watch)
    workdir = Path(tempfile.mkdtemp(prefix="bench-daily-"))
    try:
        now = datetime.now(UTC)
        await _subscribe(workdir / "bot.sqlite3", fake, subscribers, now - timedelta(days=1))
        due = (now + timedelta(seconds=15)).replace(microsecond=0)
        env = base_env(fake, workdir, rate_limit=True, concurrency=concurrency)
        env["POST_TIME"] = due.strftime("%H:%M:%S")
        proc = await start("bench.bot_process", env, workdir)
        await ready(fake)
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        due_mono = time.monotonic()
        cpu0 = proc.cpu_seconds()
        # A learner starts a quiz while the deliveries go out, answering after 1 s each.
        await asyncio.sleep(5)
        latencies: list[float] = []
        quiz_started = time.monotonic()
        await learner_bot(
            fake, watch, FakeUser(9_000_001, "Learner"), rounds=5, pause=1.0, latencies=latencies
        )
        quiz_seconds = time.monotonic() - quiz_started - 5 * 1.0

        def delivered() -> list[float]:
            return [
                c.at
                for c in fake.calls_to("sendMessage")
                if c.status == 200
                and isinstance(c.params.get("chat_id"), int)
                and c.params["chat_id"] >= FIRST_SUBSCRIBER
            ]

        await fake.wait_until(lambda: len(delivered()) >= subscribers, timeout=subscribers)
        cpu1 = proc.cpu_seconds()
        times = delivered()
        posts = [
            c.at
            for c in fake.calls_to("sendMessage")
            if c.params.get("chat_id") == (f"@{fake.channel.username}") and c.status == 200
        ]
        sends = [c.at for c in fake.calls if c.method in FLOOD_METHODS and c.status == 200]
        result: dict[str, Any] = {
            "subscribers": subscribers,
            "delivered": len(times),
            "distinct": len(
                {
                    c.params["chat_id"]
                    for c in fake.calls_to("sendMessage")
                    if c.status == 200
                    and isinstance(c.params.get("chat_id"), int)
                    and c.params["chat_id"] >= FIRST_SUBSCRIBER
                }
            ),
            "delivery_s": round(max(times) - due_mono, 1),
            "per_s": round(len(times) / (max(times) - min(times)), 1),
            "peak_msgs_per_s": peak_rate(sends, 1.0),
            "responses_429": sum(1 for c in fake.calls if c.status == 429),
            "channel_post_s": round(posts[0] - due_mono, 2) if posts else None,
            "quiz_press_p50_ms": round(pct(latencies, 50) * 1000, 1),
            "quiz_press_max_ms": round(max(latencies) * 1000, 1),
            "quiz_step_s": round(quiz_seconds / 5, 2),
            "cpu_s": round(cpu1 - cpu0, 1),
            "peak_rss_mb": round(proc.peak_rss_mb(), 1),
        }
        await proc.stop()
        return result
    finally:
        await fake.stop()
