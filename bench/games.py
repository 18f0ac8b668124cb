"""``python -m bench.run games``: live games in many groups at once (contract §11).

50 groups of 8 members each start ``/game COUNT SECONDS`` together; every member answers
every question after a human pause (0.3-3 s). The bot runs as ``python -m bot`` does, with
RATE_LIMIT=on; the fake Bot API refuses more than 30 messages a second overall (429), as
Telegram does. Measured: every press answered, press -> answer latency, the most messages
(sends and edits) one group got in any 60 s, and the most the bot sent in any second.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.run import Answers, base_env, pct, peak_rate, ready, start
from tests.fakes import Chat, FakeBotApi, FakeUser, StoredMessage

TOKEN = "123456:BENCH"
FLOOD_METHODS = ("sendMessage", "editMessageText", "editMessageReplyMarkup")
FIRST_GROUP = -1_009_000_000
FIRST_MEMBER = 50_000_000
QUESTION_RE = re.compile(r"Question (\d+)/(\d+)")


def _open_question(fake: FakeBotApi, chat_id: int, number: int) -> StoredMessage | None:
    for m in reversed(fake.messages_in(chat_id)):
        match = QUESTION_RE.search(m.text)
        if match and int(match.group(1)) == number and _choices(m):
            return m
    return None


def _choices(message: StoredMessage) -> list[str]:
    return [
        str(b["callback_data"])
        for b in message.buttons()
        if str(b.get("callback_data", "")).startswith("g1:")
    ]


async def _group(  # noqa: PLR0917 - one group's part of the run
    fake: FakeBotApi,
    watch: Answers,
    chat: Chat,
    members: list[FakeUser],
    count: int,
    seconds: int,
    latencies: list[float],
    rng: random.Random,
) -> None:
    fake.send_text(members[0], f"/game {count} {seconds}", chat=chat)

    async def member(user: FakeUser, question: StoredMessage) -> None:
        await asyncio.sleep(rng.uniform(0.3, 3.0))
        pressed = time.monotonic()
        query = fake.press(user, question, rng.choice(_choices(question)))
        latencies.append(await asyncio.wait_for(watch.wait(query), 120) - pressed)

    for number in range(1, count + 1):
        await watch.until(chat.id, lambda: _open_question(fake, chat.id, number))  # noqa: B023
        question = _open_question(fake, chat.id, number)
        assert question is not None
        await asyncio.gather(*(member(u, question) for u in members))
    await watch.until(
        chat.id, lambda: any("Game over" in m.text for m in fake.messages_in(chat.id))
    )


async def games_run(
    groups: int, members: int, count: int, seconds: int, concurrency: int
) -> dict[str, Any]:
    fake = FakeBotApi(TOKEN)
    fake.flood_limit = 30  # Telegram: about 30 messages a second overall
    await fake.start()
    watch = Answers()
    fake.listeners.append(watch)
    workdir = Path(tempfile.mkdtemp(prefix="bench-games-"))
    try:
        env = base_env(fake, workdir, rate_limit=True, concurrency=concurrency)
        proc = await start("bench.bot_process", env, workdir)
        await ready(fake)
        await asyncio.sleep(0.5)
        chats = [fake.group(FIRST_GROUP - g, f"Group {g}") for g in range(groups)]
        rng = random.Random(22)
        latencies: list[float] = []
        cpu0, t0 = proc.cpu_seconds(), time.monotonic()
        outcomes = await asyncio.gather(
            *(
                _group(
                    fake,
                    watch,
                    chat,
                    [FakeUser(FIRST_MEMBER + g * 100 + m, f"M{g}.{m}") for m in range(members)],
                    count,
                    seconds,
                    latencies,
                    rng,
                )
                for g, chat in enumerate(chats)
            ),
            return_exceptions=True,
        )
        elapsed, cpu1 = time.monotonic() - t0, proc.cpu_seconds()
        group_ids = {c.id for c in chats}
        sends = [
            c for c in fake.calls if c.method in FLOOD_METHODS and c.status == 200 and c.at >= t0
        ]
        per_group: dict[int, list[float]] = defaultdict(list)
        for c in sends:
            chat_id = c.params.get("chat_id")
            if chat_id in group_ids:
                per_group[chat_id].append(c.at)
        presses = groups * members * count
        errors = [repr(o) for o in outcomes if o is not None][:3]
        result: dict[str, Any] = {
            "groups": groups,
            "members": members,
            "questions": count,
            "seconds": seconds,
            "games_finished": sum(1 for o in outcomes if o is None),
            "presses": presses,
            "answered": len(latencies),
            "p50_ms": round(pct(latencies, 50) * 1000, 1),
            "p90_ms": round(pct(latencies, 90) * 1000, 1),
            "p99_ms": round(pct(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies, default=0) * 1000, 1),
            "peak_msgs_per_group_per_min": max(
                (peak_rate(t, 60.0) for t in per_group.values()), default=0
            ),
            "msgs_per_group_per_min": round(
                sum(len(t) for t in per_group.values()) / max(len(per_group), 1) / elapsed * 60,
                1,
            ),
            "peak_msgs_per_s": peak_rate((c.at for c in sends), 1.0),
            "msgs_per_s": round(len(sends) / elapsed, 1),
            "responses_429": sum(1 for c in fake.calls if c.status == 429),
            "elapsed_s": round(elapsed, 1),
            "cpu_ms_per_press": round((cpu1 - cpu0) / presses * 1000, 3),
            "peak_rss_mb": round(proc.peak_rss_mb(), 1),
            "rejected": len([c for c in fake.rejected if c.method != "setMyCommands"]),
        }
        if errors:
            result["errors"] = errors
        await proc.stop()
        return result
    finally:
        await fake.stop()
