"""The peer: a bare aiogram 3.x bot doing the least the workload needs (bench/bare_app.py's twin).

``channel``: answer each press. ``quiz``: answer each press and edit its message (same text
size and keyboard as it was: bench/run.py hands it the bot's own rendered messages).
With ``WEBHOOK_URL`` set it serves aiogram's own aiohttp webhook handler instead of polling;
``WEBHOOK_ANSWER_IN_REPLY=on`` returns the answer in the webhook response, as the bot can.

Runs in its own virtual environment (bench/.peer-venv, made by bench/peer.py), never with the
bot's: it imports nothing from bot/ or tests/. Concurrency: ``BENCH_CONCURRENCY`` is aiogram's
``tasks_concurrency_limit`` (0: none, aiogram's default); ``BENCH_POOL`` its aiohttp
connection limit. The event loop is uvloop when installed, as ``run_polling`` itself picks it
(aiogram's ``fast`` extra); ``BENCH_LOOP=asyncio`` forces the standard loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import AnswerCallbackQuery
from aiogram.types import CallbackQuery, Message

QUIZ = os.environ.get("BENCH_MODE") == "quiz"
IN_REPLY = os.environ.get("WEBHOOK_ANSWER_IN_REPLY") == "on"
_counter = itertools.count(1)


async def on_press(query: CallbackQuery) -> AnswerCallbackQuery | None:
    if IN_REPLY:  # aiogram puts a returned method into the webhook response
        return query.answer("ok")
    await query.answer("ok")
    message = query.message
    if QUIZ and isinstance(message, Message):
        body = (message.text or "").split("\n", 1)[-1]
        await message.edit_text(
            f"answered {next(_counter)}\n{body}", reply_markup=message.reply_markup
        )
    return None


def make_bot() -> Bot:
    base = os.environ["TELEGRAM_API_URL"]  # the contract's form: token appended or {token}
    if "{token}" not in base:
        base += "{token}"
    api = TelegramAPIServer(base=base + "/{method}", file=base + "/{path}")
    session = AiohttpSession(api=api, limit=int(os.environ.get("BENCH_POOL", "100")))
    return Bot(os.environ["BOT_TOKEN"], session=session)


def make_dispatcher() -> Dispatcher:
    dp = Dispatcher()
    dp.callback_query.register(on_press)
    return dp


async def polling(bot: Bot, dp: Dispatcher, limit: int | None) -> None:
    await bot.delete_webhook()  # as PTB's run_polling does at start
    await dp.start_polling(bot, tasks_concurrency_limit=limit, allowed_updates=["callback_query"])


def webhook(bot: Bot, dp: Dispatcher) -> None:
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    url = os.environ["WEBHOOK_URL"]
    secret = os.environ["WEBHOOK_SECRET"]

    async def on_startup(**_: Any) -> None:
        await bot.set_webhook(url, secret_token=secret, allowed_updates=["callback_query"])

    dp.startup.register(on_startup)
    app = web.Application()
    # In the background (aiogram's default) unless the answer goes in the response.
    SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token=secret, handle_in_background=not IN_REPLY
    ).register(app, path=urlsplit(url).path)
    setup_application(app, dp, bot=bot)
    web.run_app(
        app,
        host=os.environ.get("WEBHOOK_LISTEN", "127.0.0.1"),
        port=int(os.environ["PORT"]),
        print=None,
        access_log=None,
        loop=_new_loop(),
    )


def _new_loop() -> asyncio.AbstractEventLoop:
    if os.environ.get("BENCH_LOOP") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def main() -> None:
    bot, dp = make_bot(), make_dispatcher()
    if os.environ.get("WEBHOOK_URL"):
        webhook(bot, dp)
        return
    limit = int(os.environ.get("BENCH_CONCURRENCY", "0")) or None
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        runner.run(polling(bot, dp, limit))


if __name__ == "__main__":
    main()
