"""The files an import touches: its SOURCEs read as posts, and FILE locked and replaced whole.

FILE is only ever replaced whole, by a temporary file in its folder renamed over it, so a crash
or a bad source leaves it as it was. Every extension holds a lock on FILE shared by all
processes (two CLI runs, the CLI and the bot's "Add") and reads FILE again under it, so no
import overwrites another's entries. A FILE that is a symbolic link stays one: its target is
what is extended. What goes into FILE is ``question_yaml``'s; when, ``importing``'s.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.core import importer
from bot.core.importer import Post


class ImportInputError(Exception):
    """Bad input: the message is one sentence for the user, and nothing was written."""


# ---------------------------------------------------------------- reading sources


def decode(data: bytes, name: str) -> str:
    """A file's bytes as text: UTF-8 (with or without a BOM) or UTF-16 with its BOM."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")  # Windows editors save "Unicode" text like this
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportInputError(
            f"Cannot import {name}: it is not UTF-8 text (save it as UTF-8 and try again)."
        ) from None


def read_source(path: Path) -> list[Post]:
    """The posts of one SOURCE: an export's result.json (or its folder), or a text file."""
    name = str(path)
    if path.is_dir() and (path / "result.json").is_file():
        path = path / "result.json"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportInputError(f"Cannot import {name}: there is no such file.") from None
    except IsADirectoryError:
        raise ImportInputError(
            f"Cannot import {name}: it is a folder without a result.json export in it."
        ) from None
    except OSError as exc:
        raise ImportInputError(f"Cannot import {name}: {exc.strerror or exc}.") from None
    text = decode(data, name)
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportInputError(
                f"Cannot import {name}: it is not valid JSON "
                f"(line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from None
        except RecursionError:
            raise ImportInputError(f"Cannot import {name}: it is not valid JSON.") from None
        try:
            return importer.posts_from_export(parsed)
        except importer.NotAnExport:
            raise ImportInputError(
                f"Cannot import {name}: it is JSON but not a Telegram Desktop export "
                '(no "messages" list); export the channel with "Export chat history" '
                "in JSON format."
            ) from None
    return importer.posts_from_text(text)


def read_sources(paths: Sequence[Path]) -> list[Post]:
    """All posts, in order; with several sources each post is named with its file."""
    posts: list[Post] = []
    for path in paths:
        for post in read_source(path):
            if len(paths) > 1:
                where = f"{path}, {post.where}"
                posts.append(Post(where, post.text, post.spans, post.kind, post.note))
            else:
                posts.append(post)
    return posts


# ---------------------------------------------------------------- FILE: lock, read, replace


def _lock_path(path: Path) -> Path:
    target = path.resolve()
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def file_lock(path: Path, wait: float) -> Iterator[None]:
    """Hold FILE against every other import of it, in this process or another.

    An advisory lock on a sidecar file (``.imported.yaml.lock`` beside FILE's target): FILE
    itself cannot carry it, as it is replaced by a rename. The sidecar is removed on release;
    a waiter that then gets the lock of a removed sidecar sees it is no longer the one at
    the path and tries again, so two can never both hold it. POSIX ``flock``; on Windows
    ``msvcrt.locking`` on the sidecar's first byte (there the sidecar stays: an open file
    cannot be removed). ImportInputError after ``wait`` seconds, with nothing written.
    """
    lock = _lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        handle = lock.open("a+b")
        try:
            _acquire(handle.fileno(), path, deadline)
            try:
                current = os.path.samestat(os.fstat(handle.fileno()), lock.stat())
            except FileNotFoundError:
                current = False
            if current:
                break
            _unlock(handle.fileno())
        except BaseException:
            handle.close()
            raise
        handle.close()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()
        _unlock(handle.fileno())
        handle.close()


def _acquire(fd: int, path: Path, deadline: float) -> None:
    while not _try_lock(fd):
        if time.monotonic() >= deadline:
            raise ImportInputError(
                f"Cannot extend {path}: another import is writing it; try again."
            )
        time.sleep(0.05)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: a temporary file in the same folder, fsync, rename.

    A symbolic link is followed: its target is replaced (in the target's folder, so the
    rename stays on one file system) and the link stays a link.
    """
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            tmp.chmod(path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def read_target(path: Path) -> str | None:
    """FILE's text (None when it does not exist yet), read under its lock before extending."""
    try:
        return decode(path.read_bytes(), str(path)).replace("\r\n", "\n")
    except FileNotFoundError:
        return None
    except ImportInputError:
        raise ImportInputError(f"Cannot extend {path}: it is not UTF-8 text.") from None
    except OSError as exc:
        raise ImportInputError(f"Cannot read {path}: {exc.strerror or exc}.") from None
