"""``python -m bot import``: read sources, de-duplicate against the bank, extend FILE atomically.

Over ~300 lines on purpose: reading sources, writing YAML and the atomic extend belong together.

Parsing lives in ``bot.core.importer``; this module owns the files. FILE is only ever
replaced whole, by a temporary file in its folder renamed over it, so a crash or a bad source
leaves it as it was. Existing entries stay byte for byte: new entries are inserted as text
after the last one, and the result is read back and compared before it replaces FILE.
Every extension holds a lock on FILE shared by all processes (two CLI runs, the CLI and the
bot's "Add") and reads FILE again under it, so no import overwrites another's entries. A FILE
that is a symbolic link stays one: its target is what is extended.

Over ~300 lines because reading sources, rendering YAML and extending FILE share one promise
(FILE is valid, extended, never truncated, untouched on bad input) and are checked together.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core import importer
from bot.core.bank import ID_RE, bank_files
from bot.core.importer import DEFAULT_TOPIC, ImportPlan, Known, Post
from bot.core.models import Question

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
DEFAULT_FILE = "imported.yaml"

NEW_FILE_HEAD = (
    "# Questions imported from channel posts by `python -m bot import`.\n"
    "# Add choices: and correct: to an entry to ask it in quizzes too.\n"
)


class ImportInputError(Exception):
    """Bad input: the message is one sentence for the user, and nothing was written."""


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    out: Path
    written: bool

    def lines(self) -> list[str]:
        """What the command prints; the last line is the contract's summary."""
        lines = self.plan.report()
        n = len(self.plan.entries)
        if self.written:
            lines.append(f"Added {n} {'entry' if n == 1 else 'entries'} to {self.out}.")
        else:
            lines.append(f"Nothing new to add: {self.out} is unchanged.")
        if self.plan.skipped:
            lines.append(f"Skipped: {self.plan.breakdown()}.")
        lines.append(self.plan.summary())
        return lines


# ---------------------------------------------------------------- reading sources


def _decode(data: bytes, name: str) -> str:
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
    text = _decode(data, name)
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


# ---------------------------------------------------------------- what the bank has


def _entries_of(root: object) -> list[Mapping[object, object]]:
    if not isinstance(root, dict):
        return []
    questions = root.get("questions")
    return [q for q in questions if isinstance(q, dict)] if isinstance(questions, list) else []


def known_questions(content_dir: Path | None, *extra: Path) -> Known:
    """Ids and question texts of every YAML file under ``content_dir`` and of ``extra``.

    Read loosely: a file the bank would reject still reserves its ids and questions, and a
    file that is not YAML at all is left to ``validate`` to report.
    """
    known = Known()
    files: list[Path] = []
    if content_dir is not None and content_dir.is_dir():
        files = bank_files(content_dir)
    seen = {p.resolve() for p in files}
    files += [p for p in extra if p.is_file() and p.resolve() not in seen]
    for path in files:
        try:
            root = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe loader
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for item in _entries_of(root):
            qid, question = item.get("id"), item.get("question")
            if isinstance(qid, str):
                known.ids.add(qid)
            if isinstance(question, str):
                name = qid if isinstance(qid, str) else f"an entry of {path.name}"
                known.questions.setdefault(importer.question_key(question), name)
    return known


# ---------------------------------------------------------------- rendering YAML


def _printable(ch: str) -> bool:
    """Characters YAML reads back as themselves inside a quoted or block scalar."""
    o = ord(ch)
    return (
        0x20 <= o <= 0x7E
        or (0xA0 <= o <= 0xD7FF and ch not in "\u2028\u2029")
        or (0xE000 <= o <= 0xFFFD and o != 0xFEFF)
        or o >= 0x10000
    )


def quote(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly ``text``."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _scalar(text: str) -> str:
    """Plain when YAML reads it back unchanged and it is simple words; quoted otherwise."""
    simple = re.fullmatch(r"[A-Za-z][A-Za-z0-9 _-]*[A-Za-z0-9]", text) is not None
    try:
        same = simple and yaml.load(text, Loader=_Loader) == text  # noqa: S506 - safe loader
    except yaml.YAMLError:
        same = False
    return text if same else quote(text)


def _plain_ok(text: str) -> bool:
    """An id YAML reads as that string without quotes (not ``no``, ``1e3``, ``0x1f`` ...)."""
    if not ID_RE.match(text):
        return False
    try:
        return bool(yaml.load(text, Loader=_Loader) == text)  # noqa: S506 - safe loader
    except yaml.YAMLError:
        return False


def _block(key: str, text: str, indent: str) -> str:
    """``key: |`` with ``text`` below it, or a quoted scalar when a block cannot hold it."""
    if "\n" not in text or not all(_printable(ch) or ch in "\n\t" for ch in text):
        return f"{indent}{key}: {quote(text)}"
    lines = text.split("\n")
    if any(line != line.rstrip() for line in lines) or not lines[-1]:
        return f"{indent}{key}: {quote(text)}"
    # A first line that starts with a space would set the block's indentation: say it.
    indicator = "2" if lines[0][:1] in (" ", "\t") or not lines[0] else ""
    body = "\n".join(f"{indent}  {line}" if line else "" for line in lines)
    return f"{indent}{key}: |{indicator}\n{body}"


def render_entry(q: Question, dash_indent: int = 2) -> str:
    """One entry of a ``questions:`` list, as YAML text ending with a newline."""
    pad = " " * dash_indent
    key = pad + "  "
    qid = q.id if _plain_ok(q.id) else quote(q.id)
    lines = [f"{pad}- id: {qid}", f"{key}question: {quote(q.question)}"]
    lines.append(_block("answer", q.answer, key))
    if q.tags:
        lines.append(f"{key}tags: [{', '.join(quote(t) for t in q.tags)}]")
    if q.code:
        lines.append(_block("code", q.code, key))
    return "\n".join(lines) + "\n"


def _same(q: Question, item: Mapping[object, object]) -> bool:
    """Does a read-back YAML entry say what ``q`` says (as the bank will read it)?"""
    answer, code, tags = item.get("answer"), item.get("code"), item.get("tags", [])
    return (
        item.get("id") == q.id
        and item.get("question") == q.question
        and isinstance(answer, str)
        and answer.strip("\n").rstrip() == q.answer
        and tags == list(q.tags)
        and (code.strip("\n").rstrip() if isinstance(code, str) else code) == q.code
    )


def _check(text: str, old_root: object, entries: Sequence[Question]) -> bool:
    """The new file keeps every old key and entry and ends with exactly ``entries``."""
    try:
        root = yaml.load(text, Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError:
        return False
    if not isinstance(root, dict):
        return False
    old = old_root if isinstance(old_root, dict) else {}
    for k, v in old.items():
        if k != "questions" and root.get(k) != v:
            return False
    questions = root.get("questions")
    if not isinstance(questions, list):
        return False
    old_questions = old.get("questions") or []
    n = len(old_questions)
    return (
        questions[:n] == old_questions
        and len(questions) == n + len(entries)
        and all(
            isinstance(i, dict) and _same(q, i)
            for q, i in zip(entries, questions[n:], strict=True)
        )
    )


def _fresh(entries: Sequence[Question], topic: str) -> str:
    body = "\n".join(render_entry(q) for q in entries)
    return f"{NEW_FILE_HEAD}topic: {_scalar(topic)}\nquestions:\n{body}"


def _candidates(
    text: str, root_node: yaml.Node | None, old_root: object, entries: Sequence[Question]
) -> Iterable[str]:
    """Ways to extend ``text``, most faithful first: insert after the last entry as text."""
    if root_node is None:  # empty, or comments only: keep them, add a file below
        yield (text + "\n" if text and not text.endswith("\n") else text) + _fresh(
            entries, DEFAULT_TOPIC
        )
        return
    assert isinstance(root_node, yaml.MappingNode)
    node = next((v for k, v in root_node.value if k.value == "questions"), None)
    if isinstance(node, yaml.SequenceNode) and node.value and node.flow_style is not True:
        pos = node.end_mark.index
        line_start = text.rfind("\n", 0, pos) + 1
        if not text[line_start:pos].strip():
            head, tail = text[:line_start], text[line_start:]
            if pos >= len(text):
                head, tail = text, ""
            if head and not head.endswith("\n"):
                head += "\n"
            items = [render_entry(q, node.start_mark.column) for q in entries]  # at the "-"
            yield head + "".join("\n" + item for item in items) + tail
            yield head + "".join(items) + tail
    # Re-render from the parsed file: every entry kept, comments and layout not.
    assert isinstance(old_root, dict)
    rest = {k: v for k, v in old_root.items() if k != "questions"}
    old_questions = old_root.get("questions") or []
    out = yaml.safe_dump(rest, allow_unicode=True, sort_keys=False, width=1000) if rest else ""
    out += "questions:\n"
    if old_questions:
        out += yaml.safe_dump(old_questions, allow_unicode=True, sort_keys=False, width=1000)
    yield out + "".join(render_entry(q, 0) for q in entries)


def extend_text(text: str | None, entries: Sequence[Question], name: str = "FILE") -> str:
    """FILE's new text: ``text`` (None for a new file) with ``entries`` added at its end."""
    if text is None:
        return _fresh(entries, DEFAULT_TOPIC)
    try:
        root_node = yaml.compose(text, Loader=_Loader)
        old_root = yaml.load(text, Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        raise ImportInputError(
            f"Cannot extend {name}: it is not valid YAML ({str(exc).splitlines()[0]})."
        ) from None
    if root_node is not None and (
        not isinstance(root_node, yaml.MappingNode)
        or not isinstance(old_root, dict)
        or not isinstance(old_root.get("topic"), str)
        or not isinstance(old_root.get("questions") or [], list)
    ):
        raise ImportInputError(
            f"Cannot extend {name}: it is not a question file with topic: and questions:."
        )
    for candidate in _candidates(text, root_node, old_root, entries):
        if _check(candidate, old_root, entries):
            return candidate
    raise ImportInputError(f"Cannot extend {name}: its layout could not be kept; use --out.")


def file_topic(text: str | None) -> str:
    try:
        root = yaml.load(text or "", Loader=_Loader)  # noqa: S506 - safe loader
    except yaml.YAMLError:
        return DEFAULT_TOPIC
    topic = root.get("topic") if isinstance(root, dict) else None
    return topic if isinstance(topic, str) and topic.strip() else DEFAULT_TOPIC


# ---------------------------------------------------------------- writing

CLI_WAIT = 120.0  # seconds the CLI waits for another import of FILE to finish
ADD_WAIT = 5.0  # the bot's "Add" waits less: its press is answered after it


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


def _read_out(path: Path) -> str | None:
    try:
        return _decode(path.read_bytes(), str(path)).replace("\r\n", "\n")
    except FileNotFoundError:
        return None
    except ImportInputError:
        raise ImportInputError(f"Cannot extend {path}: it is not UTF-8 text.") from None
    except OSError as exc:
        raise ImportInputError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def run_import(sources: Sequence[Path], out: Path, content_dir: Path | None) -> ImportResult:
    """Read every source, then add the new entries to ``out``; ImportInputError on bad input.

    Nothing is written until every source has been read, and nothing at all when there is
    nothing new: running the same import twice leaves FILE as the first run wrote it.
    """
    posts = read_sources(sources)
    try:
        with file_lock(out, CLI_WAIT):
            old_text = _read_out(out)  # under the lock: another import may have just added
            known = known_questions(content_dir, out)
            plan = importer.plan_import(posts, known, file_topic(old_text))
            if not plan.entries:
                return ImportResult(plan, out, written=False)
            write_atomic(out, extend_text(old_text, plan.entries, str(out)))
    except OSError as exc:
        raise ImportInputError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    return ImportResult(plan, out, written=True)


# ---------------------------------------------------------------- one post at a time


def entry_from_message(text: str, entities: Sequence[Mapping[str, object]]) -> Question | None:
    """A Bot API message (a forwarded channel post) as an entry, or None if it is not one."""
    post = importer.post_from_entities(text, entities)
    draft = importer.parse_post(post)
    if isinstance(draft, importer.Skip):
        return None
    return importer.entry(draft, importer.derive_id(draft.question))


def append_entry(path: Path, entry: Question, *, content_dir: Path | None = None) -> bool:
    """Add one entry to FILE atomically; False when its question is already there.

    With ``content_dir`` the whole bank is checked too. The id is re-derived when another
    question holds it. Raises ImportInputError when FILE cannot be extended (or another
    import holds it for longer than ``ADD_WAIT``).
    """
    with file_lock(path, ADD_WAIT):
        return _append_locked(path, entry, content_dir)


def _append_locked(path: Path, entry: Question, content_dir: Path | None) -> bool:
    old_text = _read_out(path)
    known = known_questions(content_dir, path)
    key = importer.question_key(entry.question)
    if key in known.questions:
        return False
    qid = entry.id
    if qid in known.ids or not ID_RE.match(qid):
        qid = importer.derive_id(entry.question, known.ids)
    fixed = Question(
        id=qid,
        topic=file_topic(old_text),
        question=entry.question,
        answer=entry.answer,
        tags=entry.tags,
        code=entry.code,
        source=entry.source,
    )
    write_atomic(path, extend_text(old_text, [fixed], str(path)))
    return True


__all__ = [
    "DEFAULT_FILE",
    "ImportInputError",
    "ImportResult",
    "append_entry",
    "entry_from_message",
    "extend_text",
    "file_lock",
    "known_questions",
    "quote",
    "read_source",
    "render_entry",
    "run_import",
    "write_atomic",
]
