"""Question files as YAML text: what the bank has (read loosely), and FILE extended as text.

Existing entries stay byte for byte: new entries are inserted as text after the last one, and
the result is read back and compared before anything is written (``extend_text`` returns the
new text; ``import_files`` writes it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from bot.core import importer
from bot.core.bank import ID_RE, bank_files
from bot.core.importer import DEFAULT_TOPIC, Known
from bot.core.models import Question
from bot.services.import_files import ImportInputError

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NEW_FILE_HEAD = (
    "# Questions imported from channel posts by `python -m bot import`.\n"
    "# Add choices: and correct: to an entry to ask it in quizzes too.\n"
)


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
