"""The real bot for benchmarks: ``python -m bot``'s start-up, with a concurrency override."""

from __future__ import annotations

import dataclasses
import os

from bot.app import run_bot
from bot.config import Settings
from bot.core.bank import load_bank
from bot.runtime.logs import setup_logging


def main() -> None:
    settings = Settings.from_env(os.environ)
    settings = dataclasses.replace(
        settings,
        concurrent_updates=int(os.environ.get("BENCH_CONCURRENCY", settings.concurrent_updates)),
        connection_pool_size=int(os.environ.get("BENCH_POOL", settings.connection_pool_size)),
    )
    setup_logging(settings.log_level, settings.token)
    if os.environ.get("BENCH_LOOP") != "asyncio":  # as python -m bot runs; asyncio to compare
        from bot.__main__ import use_uvloop

        use_uvloop()
    bank = load_bank(settings.content_dir)
    gc_setting = os.environ.get("BENCH_GC", "")  # "default": Python's; "A,B,C": thresholds
    if gc_setting != "default":  # as python -m bot runs
        import gc

        from bot.__main__ import tune_gc

        tune_gc()
        if gc_setting:
            gc.set_threshold(*(int(x) for x in gc_setting.split(",")))
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # python -m bench.run ... with BENCH_PROFILE=/tmp/bot.prof: where the CPU goes
        import cProfile

        cProfile.runctx("run_bot(settings, bank)", globals(), locals(), profile)
    else:
        run_bot(settings, bank)


if __name__ == "__main__":
    main()
