"""The floor: a bare python-telegram-bot app doing the least the workload needs.

``channel``: answer each press. ``quiz``: answer each press and edit its message (same text
size and keyboard as it was: bench/run.py hands it the bot's own rendered messages).
Run by bench/run.py as a subprocess with the same environment as the bot. Stock PTB (httpx)
unless ``BENCH_TRANSPORT=aiohttp``: then PTB with the bot's transport, to tell the transport's
share of the difference from the rest of the bot's.
"""

from __future__ import annotations

import itertools
import os

from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes

_counter = itertools.count(1)


async def on_press(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("ok")
    message = query.message
    if os.environ.get("BENCH_MODE") == "quiz" and message is not None:
        body = (getattr(message, "text", "") or "").split("\n", 1)[-1]
        await query.edit_message_text(
            f"answered {next(_counter)}\n{body}",
            reply_markup=getattr(message, "reply_markup", None),
        )


def main() -> None:
    pool = int(os.environ.get("BENCH_POOL", "16"))
    builder = (
        ApplicationBuilder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_URL"])
        .concurrent_updates(int(os.environ.get("BENCH_CONCURRENCY", "16")))
    )
    if os.environ.get("BENCH_TRANSPORT") == "aiohttp":  # the bot's transport, nothing else
        from bot.runtime.request import AiohttpRequest

        builder = builder.request(AiohttpRequest(connection_pool_size=pool))
        builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
    else:  # stock python-telegram-bot: HTTPXRequest
        builder = builder.connection_pool_size(pool)
    app = builder.build()
    app.add_handler(CallbackQueryHandler(on_press))
    app.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
