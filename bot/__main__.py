"""Command line: ``python -m bot [run|validate|preview|backup|import|copy-db]``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from telegram.error import InvalidToken

from bot.config import ConfigError, Settings
from bot.core.bank import BankError, check_bank, load_bank
from bot.db.connection import DatabaseUnavailable

log = logging.getLogger("bot")


def _settings(require_token: bool) -> Settings:
    return Settings.from_env(os.environ, require_token=require_token)


def cmd_validate(directory: str | None) -> int:
    if directory is None:
        try:
            directory = str(_settings(require_token=False).content_dir)
        except ConfigError:
            directory = "content"
    bank, problems = check_bank(Path(directory))
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found in {directory}", file=sys.stderr)
        return 1
    quizzable = sum(1 for q in bank.questions.values() if q.quizzable)
    print(
        f"{directory}: {len(bank)} questions in {len(bank.topics)} topics "
        f"({quizzable} with choices): valid"
    )
    return 0


def cmd_preview(question_id: str | None) -> int:
    from bot.services.preview import preview_text, preview_weekly

    settings = _settings(require_token=False)
    bank = load_bank(settings.content_dir)
    if question_id == "weekly":
        out = Path("weekly-preview.png").resolve()
        text, png = asyncio.run(preview_weekly(settings, bank, out))
        if png is not None:
            out.write_bytes(png)
        print(text)
        return 0
    text = asyncio.run(preview_text(settings, bank, question_id))
    print(text)
    return 0


def cmd_backup(target: str) -> int:
    from bot.db import backup_database

    settings = _settings(require_token=False)
    if settings.database_url:
        print(
            "backup copies a SQLite file; for PostgreSQL use pg_dump, or copy-db into a file: "
            "python -m bot copy-db sqlite:///backup.sqlite3",
            file=sys.stderr,
        )
        return 1
    if not settings.database_path.exists():
        print(f"There is no database at {settings.database_path} to back up.", file=sys.stderr)
        return 1
    asyncio.run(backup_database(settings.database_path, Path(target)))
    print(f"Backed up {settings.database_path} to {target}")
    return 0


def cmd_copy_db(target_url: str) -> int:
    from bot.db.copy import CopyRefused, copy_database, describe, target_location

    settings = _settings(require_token=False)
    source = settings.database_location
    try:
        counts = asyncio.run(copy_database(source, target_location(target_url)))
    except CopyRefused as exc:
        print(str(exc), file=sys.stderr)
        return 1
    width = max((len(c.table) for c in counts), default=0)
    for c in counts:
        mark = "" if c.source == c.target else f"  (source has {c.source}: MISMATCH)"
        print(f"{c.table:<{width}}  {c.target} rows{mark}")
    if any(c.source != c.target for c in counts):
        print("The counts differ: the copy is not complete.", file=sys.stderr)
        return 1
    print(f"Copied {describe(source)} to {describe(target_url)}: every count matches.")
    return 0


IMPORT_EPILOG = """\
SOURCE is the result.json of Telegram Desktop's "Export chat history" (format: JSON), or its
folder, or a text file of posts copied from the channel, one after another, like this one:

  ❔ Interview Question

  What does the nonlocal statement do?

  Answer: It lets a nested function rebind a name of the enclosing function.
  • Without it, assigning to the name makes a new local variable.

  tags: #Python #Interview #Closures
  ━━━━━━━━━━━━━━━
  By: @channel ✨

Each post with a question and an answer becomes an entry (question, answer with its code
kept as `code` and ``` blocks, tags from the hashtags; no choices). Posts that are not
interview questions, and questions the bank already has, are skipped; running the same
import again adds nothing. The last line is: N posts read · M imported · K skipped.

examples:
  python -m bot import ~/Downloads/ChatExport_2025-01-31/result.json
  python -m bot import posts.txt --out content/channel.yaml
"""


def _content_dir() -> Path:
    try:
        return _settings(require_token=False).content_dir
    except ConfigError:
        return Path(os.environ.get("CONTENT_DIR") or "content")


def cmd_import(sources: Sequence[str], out: str | None) -> int:
    from bot.services.importing import DEFAULT_FILE, ImportInputError, run_import

    content_dir = _content_dir()
    target = Path(out) if out else content_dir / DEFAULT_FILE
    try:
        result = run_import([Path(s) for s in sources], target, content_dir)
    except ImportInputError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    for line in result.lines():
        print(line)
    return 0


def use_uvloop() -> bool:
    """uvloop as the event loop where it is installed (not on Windows, see pyproject). On the
    standard loop, the loop itself, its socket transports and aiosqlite's cross-thread wake-ups
    took about a third of a quiz answer's CPU (bench/profile.py); uvloop cut the answer's CPU
    by about 12%. Only for ``run``: the tests and the other commands keep the standard loop."""
    try:
        import uvloop
    except ImportError:
        return False
    with warnings.catch_warnings():  # event loop policies are deprecated from Python 3.14
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


# The collector's young generation is collected every 700 net container allocations by
# default; a press's parsed Update alone holds 54, with its tasks, futures and HTTP objects
# besides, so a busy bot ran a collection every few answers. 50,000 makes that ~70 times rarer;
# reference counting frees almost all of those objects anyway, so memory does not grow (bench:
# peak RSS unchanged). The older generations keep collecting every 10 younger ones.
GC_THRESHOLDS = (50_000, 10, 10)


def tune_gc() -> None:
    """Fewer garbage collections, and none that walk the start-up's objects again: the bank,
    the modules and the application live as long as the process (gc.freeze() moves them to the
    permanent generation). In bench/ (BENCH_GC=default compares): a fifth less CPU per channel
    answer (0.58-0.63 -> 0.50 ms, a database of 100,000 answers); a quiz answer within noise."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def cmd_run() -> int:
    from bot.app import run_bot
    from bot.runtime.logs import setup_logging

    settings = _settings(require_token=True)
    setup_logging(settings.log_level, settings.token)
    if use_uvloop():
        log.info("event loop: uvloop")
    bank = load_bank(settings.content_dir)  # refuse to start on an invalid bank
    log.info("bank loaded: %d questions in %d topics", len(bank), len(bank.topics))
    held = None
    if settings.database_url:  # an unusable server: one sentence now, before Telegram
        from bot.db.postgres import check_server

        asyncio.run(check_server(settings.database_url))
    else:  # held while the bot runs: a second bot on the file refuses (CONTRACT §10)
        from bot.db.connection import single_process_lock

        held = single_process_lock(settings.database_path)
    tune_gc()
    try:
        run_bot(settings, bank)
    finally:
        if held is not None:
            held.close()  # and with it the lock
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (long polling); the default")
    p_validate = sub.add_parser("validate", help="check a question bank folder")
    p_validate.add_argument("dir", nargs="?", help="folder of YAML files (default: CONTENT_DIR)")
    p_preview = sub.add_parser("preview", help="print a channel post without Telegram")
    p_preview.add_argument(
        "question_id",
        nargs="?",
        help="question id (default: the next post), or weekly: the weekly recap as of now",
    )
    p_backup = sub.add_parser("backup", help="copy the live database consistently")
    p_backup.add_argument("path", help="where to write the copy")
    p_copy = sub.add_parser(
        "copy-db",
        help="copy the whole database to another (SQLite <-> PostgreSQL)",
        description="Copy the database the bot is configured with (DATABASE_URL or "
        "DATABASE_PATH) into an empty one. The bot must not be running.",
    )
    p_copy.add_argument(
        "target", metavar="TARGET_URL", help="postgresql://user:pw@host/db or sqlite:///path"
    )
    p_import = sub.add_parser(
        "import",
        help="turn channel posts (a Telegram export or a text file) into bank entries",
        description="Add the interview questions of channel posts to a question file.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_import.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="a Telegram Desktop export (result.json) or a text file of posts",
    )
    p_import.add_argument(
        "--out",
        metavar="FILE",
        help="YAML file to extend (default: CONTENT_DIR/imported.yaml, topic Imported)",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args.dir)
        if args.command == "preview":
            return cmd_preview(args.question_id)
        if args.command == "backup":
            return cmd_backup(args.path)
        if args.command == "import":
            return cmd_import(args.sources, args.out)
        if args.command == "copy-db":
            return cmd_copy_db(args.target)
        return cmd_run()
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except BankError as exc:
        for bank_problem in exc.problems:
            print(bank_problem, file=sys.stderr)
        print(
            f"The question bank has {len(exc.problems)} problem(s); fix them and start again.",
            file=sys.stderr,
        )
        return 1
    except InvalidToken:
        print(
            "Telegram rejected BOT_TOKEN: copy the token again from @BotFather into .env.",
            file=sys.stderr,
        )
        return 2
    except DatabaseUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
