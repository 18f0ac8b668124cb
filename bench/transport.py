"""CPU per Bot API request: PTB's default client (httpx) against the bot's (aiohttp).

    python -m bench.transport [--requests 4000] [--in-flight 16]

One PTB ``Bot`` calls ``getMe`` in a loop, ``--in-flight`` at a time, against the local fake
Bot API; the client runs as a subprocess pinned to its own core and reports its CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from bench.run import CORES, ROOT, TOKEN, _app_core, _driver_core
from tests.fakes import FakeBotApi


async def client(kind: str, base_url: str, requests: int, in_flight: int) -> None:
    from telegram import Bot
    from telegram.request import BaseRequest, HTTPXRequest

    from bot.runtime.request import AiohttpRequest

    request: BaseRequest = (
        HTTPXRequest(connection_pool_size=in_flight)
        if kind == "httpx"
        else AiohttpRequest(connection_pool_size=in_flight)
    )
    gate = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with gate:
            await bot.get_me()

    async with Bot(TOKEN, base_url=base_url, request=request) as bot:
        await one()
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        cpu1, t1 = time.process_time(), time.perf_counter()
    print(json.dumps({"cpu_ms": (cpu1 - cpu0) * 1000 / requests, "per_s": requests / (t1 - t0)}))


async def measure(kind: str, requests: int, in_flight: int) -> dict[str, object]:
    fake = FakeBotApi(TOKEN)
    await fake.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.transport",
            "--client",
            kind,
            fake.base_url,
            "--requests",
            str(requests),
            "--in-flight",
            str(in_flight),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=_app_core,
        )
        out, _ = await proc.communicate()
        row = json.loads(out.decode().strip().splitlines()[-1])
        return {
            "client": kind,
            "cpu_ms_per_request": round(row["cpu_ms"], 3),
            "requests_per_s": round(row["per_s"]),
        }
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--client", nargs=2, metavar=("KIND", "BASE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client(args.client[0], args.client[1], args.requests, args.in_flight))
        return
    _driver_core()
    print(f"cores: {CORES}; {args.requests} getMe calls, {args.in_flight} in flight")
    for kind in ("httpx", "aiohttp"):
        print(asyncio.run(measure(kind, args.requests, args.in_flight)))


if __name__ == "__main__":
    main()
