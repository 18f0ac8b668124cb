"""``python -m bot import``: channel posts (a Telegram Desktop export or a text file) -> entries.

Every sample here is written for these tests. Exports are built the way Telegram Desktop
writes them (export/output/export_output_json.cpp): ``text`` mixes strings and entity
objects, ``text_entities`` lists every part as an object, and nested entities are dropped.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core import importer
from bot.core.bank import (
    ID_RE,
    MAX_CODE,
    MAX_CODE_LINES,
    MAX_ID,
    MAX_QUESTION,
    check_bank,
    load_bank,
)
from bot.core.models import Question
from bot.services import import_files, question_yaml
from bot.services.import_files import write_atomic
from bot.services.importing import (
    ImportInputError,
    append_entry,
    entry_from_message,
    run_import,
)
from bot.ui import markup, post_view
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
HEADER = "❔ Interview Question"
SEPARATOR = "━━━━━━━━━━━━━━━"
SUMMARY = re.compile(r"^(\d+) posts read · (\d+) imported · (\d+) skipped$")

Part = str | dict[str, Any]


# ---------------------------------------------------------------- building exports


def b(text: str) -> dict[str, Any]:
    return {"type": "bold", "text": text}


def code(text: str) -> dict[str, Any]:
    return {"type": "code", "text": text}


def pre(text: str, language: str = "") -> dict[str, Any]:
    return {"type": "pre", "text": text, "language": language}


def tag(name: str) -> dict[str, Any]:
    return {"type": "hashtag", "text": f"#{name}"}


def message(mid: int, parts: Sequence[Part], **extra: Any) -> dict[str, Any]:
    """A message as Desktop writes it: ``text`` (string or mixed list) and ``text_entities``."""
    objects = [{"type": "plain", "text": p} if isinstance(p, str) else p for p in parts]
    text: Any = list(parts)
    if len(parts) == 1 and isinstance(parts[0], str):
        text = parts[0]
    elif not parts:
        text = ""
    return {
        "id": mid,
        "type": "message",
        "date": "2025-03-01T09:00:00",
        "date_unixtime": "1740819600",
        "from": "Test Channel",
        "from_id": "channel1234567",
        **extra,
        "text": text,
        "text_entities": objects,
    }


def post(question: Sequence[Part], answer: Sequence[Part], tags: Sequence[str]) -> list[Part]:
    """Our own post layout (contract §4) as export parts."""
    parts: list[Part] = [b(HEADER), "\n\n", *question, "\n\nAnswer: ", *answer, "\n\ntags: "]
    for i, name in enumerate(tags):
        parts += [" "] if i else []
        parts.append(tag(name))
    parts += [f"\n{SEPARATOR}\nBy: ", {"type": "mention", "text": "@testchan"}, " ✨"]
    return parts


def export(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "Test Channel", "type": "public_channel", "id": 1234567, "messages": messages}


LONG_QUESTION = (
    "Imagine a service that reads a large CSV file of orders, groups them by customer and "
    "writes one summary line per customer to another file. The first version loads the whole "
    "file into a list and runs out of memory on the biggest days. It is also slow to start. "
    "How would you restructure it with generators so that memory stays flat?"
)
RICH_ANSWER: list[Part] = [
    "A closure is a function that keeps the variables of the scope it was defined in. Use ",
    code("nonlocal"),
    " to rebind them.\n• Each call of the outer function makes a new cell.\n• ",
    {"type": "italic", "text": "Late binding"},
    " surprises people in loops:\n",
    pre("fs = [lambda: i for i in range(3)]\nprint([f() for f in fs])", "python"),
    "\nIt prints ",
    {"type": "spoiler", "text": "[2, 2, 2]"},
    "; see ",
    {"type": "text_link", "text": "the FAQ", "href": "https://docs.python.org/3/faq/"},
    ".\n",
    {"type": "blockquote", "text": "Bind early with a default argument.", "collapsed": False},
    " ",
    {"type": "underline", "text": "Really"},
    " ",
    {"type": "strikethrough", "text": "never"},
    " late ",
    {"type": "custom_emoji", "text": "🔥", "document_id": "5368324170671202286"},
]
RICH_MARKUP = (
    "A closure is a function that keeps the variables of the scope it was defined in. Use "
    "`nonlocal` to rebind them.\n"
    "• Each call of the outer function makes a new cell.\n"
    "• Late binding surprises people in loops:\n"
    "```python\nfs = [lambda: i for i in range(3)]\nprint([f() for f in fs])\n```\n"
    "It prints [2, 2, 2]; see the FAQ.\n"
    "Bind early with a default argument. Really never late 🔥"
)


def sample_export() -> dict[str, Any]:
    return export(
        [
            {
                "id": 1,
                "type": "service",
                "date": "2025-03-01T08:00:00",
                "actor": "Test Channel",
                "action": "create_channel",
                "title": "Test Channel",
                "text": "",
                "text_entities": [],
            },
            message(
                2, post([b("What is a closure in Python?")], RICH_ANSWER, ["Python", "Closures"])
            ),
            message(
                3,
                [],
                poll={
                    "question": "Which is faster?",
                    "closed": False,
                    "total_voters": 5,
                    "answers": [
                        {"text": "list", "voters": 2, "chosen": False},
                        {"text": "tuple", "voters": 3, "chosen": False},
                    ],
                },
            ),
            message(
                4,
                post(
                    [b("Why can a tuple be a dictionary key but a list cannot?")],
                    ["Keys must be hashable; ", code("hash(obj)"), " must not change."],
                    ["Python", "Dicts", "C++", "2025"],
                ),
                photo="photos/photo_1@01-03-2025_09-00-00.jpg",
                width=1280,
                height=720,
            ),
            message(
                5,
                [],
                photo="(File not included. Change data exporting settings to download.)",
                width=800,
                height=600,
            ),
            message(
                6,
                post(
                    [b("What does the walrus operator do?")], ["It assigns and returns."], ["Py"]
                ),
                forwarded_from="Another Channel",
            ),
            message(7, [b(HEADER), "\n\n", b("How does garbage collection work?"), "\n\n#Python"]),
            message(
                8,
                post(
                    [b("  WHAT is a   closure in python? ")], ["Same question again."], ["Python"]
                ),
            ),
            message(9, post([b(LONG_QUESTION)], ["Read lazily, one row at a time."], ["IO"])),
            message(10, ["Our channel turns two today! Thanks for reading, everyone."]),
            message(
                11,
                post([b("Which built-in runs a coroutine?")], ["asyncio.run()"], ["Asyncio"]),
                edited="2025-03-02T10:00:00",
                edited_unixtime="1740909600",
            ),
            message(
                12,
                [
                    b(HEADER),
                    "\n\n",
                    b("What does this print?"),
                    "\n\n",
                    pre("print(0.1 + 0.2 == 0.3)", "python"),
                    "\n\nAnswer: False: binary floats cannot hold 0.1 exactly. Run:",
                    pre("math.isclose(0.1 + 0.2, 0.3)"),
                    "instead.\n\ntags: ",
                    tag("Floats"),
                ],
            ),
            message(13, post([b("What is a generator?")], ["Answered elsewhere."], ["Gen"])),
            message(
                14, [b(HEADER), "\n\n", b("What is a metaclass?"), "\n\nAnswer: \n\ntags: #Py"]
            ),
        ]
    )


def known_bank(content: Path) -> Path:
    content.mkdir(parents=True, exist_ok=True)
    (content / "existing.yaml").write_text(
        "topic: Existing\nquestions:\n"
        "  - id: generators\n"
        '    question: "what is a   GENERATOR?"\n'
        "    answer: A function with yield.\n",
        encoding="utf-8",
    )
    return content


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the export


def test_export_posts_become_entries(tmp_path: Path) -> None:
    content = known_bank(tmp_path / "content")
    source = write_json(tmp_path / "result.json", sample_export())
    out = content / "imported.yaml"
    result = run_import([source], out, content)

    by_where = {q.source: q for q in result.plan.entries}
    assert list(by_where) == ["message 2", "message 4", "message 9", "message 11", "message 12"]

    closure = by_where["message 2"]
    assert closure.question == "What is a closure in Python?"
    assert closure.answer == RICH_MARKUP
    assert closure.tags == ("Python", "Closures")
    assert closure.code is None and not closure.choices
    blocks = markup.parse(closure.answer)
    assert [(bl.kind, bl.lang) for bl in blocks] == [
        ("text", ""),
        ("code", "python"),
        ("text", ""),
    ]

    photo = by_where["message 4"]
    assert photo.answer == "Keys must be hashable; `hash(obj)` must not change."
    assert photo.tags == ("Python", "Dicts", "C")  # a tag needs a letter: #2025 is dropped

    long = by_where["message 9"]
    assert len(LONG_QUESTION) > MAX_QUESTION >= len(long.question)
    assert long.question.endswith("memory stays flat?")  # the question sentence is kept
    assert long.question in LONG_QUESTION and long.question[0].isupper()

    assert by_where["message 11"].answer == "asyncio.run()"
    floats = by_where["message 12"]
    assert floats.question == "What does this print?"
    assert floats.code == "print(0.1 + 0.2 == 0.3)"
    assert floats.answer == (
        "False: binary floats cannot hold 0.1 exactly. Run:\n"
        "```\nmath.isclose(0.1 + 0.2, 0.3)\n```\ninstead."
    )

    for q in result.plan.entries:
        assert ID_RE.match(q.id) and len(q.id) <= MAX_ID

    lines = result.lines()
    assert lines[-1] == "13 posts read · 5 imported · 8 skipped"
    named = "\n".join(lines)
    assert "message 6: skipped: a repost from Another Channel." in named
    assert 'message 7: skipped: it has no "Answer:".' in named
    assert "message 8: skipped: the same question as message 2." in named
    assert 'message 14: skipped: the answer after "Answer:" is empty.' in named
    assert "message 9: the question had" in named and "sentence boundary" in named
    for quiet in ("message 3:", "message 5:", "message 10:", "message 13:", "message 1:"):
        assert quiet not in named  # poll, photo without text, announcement, known, service
    assert "1 already in the bank" in named

    bank, problems = check_bank(content)
    assert problems == []
    imported = [q for q in bank.questions.values() if q.topic == "Imported"]
    assert [(q.id, q.question, q.answer, q.tags, q.code) for q in imported] == [
        (q.id, q.question, q.answer, q.tags, q.code) for q in result.plan.entries
    ]


def test_same_import_twice_adds_nothing(tmp_path: Path) -> None:
    content = known_bank(tmp_path / "content")
    source = write_json(tmp_path / "result.json", sample_export())
    out = content / "imported.yaml"
    first = run_import([source], out, content)
    before = out.read_bytes()
    second = run_import([source], out, content)
    assert out.read_bytes() == before
    assert not second.written and second.plan.entries == []
    assert second.lines()[-1] == "13 posts read · 0 imported · 13 skipped"
    assert len(first.plan.entries) == 5


def test_older_exports_without_text_entities_read_the_same() -> None:
    data = sample_export()
    older = {
        **data,
        "messages": [
            {k: v for k, v in m.items() if k != "text_entities"} for m in data["messages"]
        ],
    }

    def entries(d: object) -> list[tuple[str, str, str, tuple[str, ...]]]:
        plan = importer.plan_import(importer.posts_from_export(d))
        return [(q.id, q.question, q.answer, q.tags) for q in plan.entries]

    assert entries(older) == entries(data) and len(entries(data)) == 6


def test_ids_are_stable_and_unique() -> None:
    assert importer.derive_id("What is a deep copy?") == "deep-copy"
    assert importer.derive_id("What is a deep copy?") == importer.derive_id("What is a deep copy?")
    taken = {"deep-copy"}
    other = importer.derive_id("What is a DEEP copy, really?", taken | {"deep-copy-really"})
    assert other != "deep-copy" and ID_RE.match(other) and len(other) <= MAX_ID
    long = importer.derive_id("Explain " + "very " * 30 + "long question")
    assert len(long) <= MAX_ID and ID_RE.match(long) and not long.endswith("-")
    cyrillic = importer.derive_id("Что такое замыкание?")
    assert ID_RE.match(cyrillic) and len(cyrillic) <= MAX_ID
    assert cyrillic == importer.derive_id("Что   такое замыкание?")  # whitespace aside
    many: set[str] = set()
    for _ in range(5):
        many.add(importer.derive_id("What is a deep copy?", many))
    assert len(many) == 5 and all(ID_RE.match(i) and len(i) <= MAX_ID for i in many)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short?", "Short?"),
        ("A" * 200 + ". " + "B" * 90 + ". " + "C" * 40, "A" * 200 + ". " + "B" * 90 + "."),
        ("A" * 290 + ". Then what? " + "B" * 40, "Then what?"),  # the question is kept
        ("Context. " * 40 + "What now?", ("Context. " * 32 + "What now?").strip()),
    ],
)
def test_shorten_at_sentence_boundary(text: str, expected: str) -> None:
    short = importer.shorten(text)
    assert len(short) <= MAX_QUESTION
    assert short == expected


def test_one_long_sentence_is_cut_at_a_word() -> None:
    short = importer.shorten("word " * 100)
    assert len(short) <= MAX_QUESTION and short.endswith("word…")


# ---------------------------------------------------------------- a text file of posts

TEXT_POSTS = f"""\
{HEADER}

What is the difference between a list and a tuple?

Answer: A list is mutable, a tuple is not.
• Tuples can be dictionary keys when their items are hashable.
- Lists have methods such as append and sort.

tags: #Python #Interview #Lists
{SEPARATOR}
By: @testchan ✨
❤12
Please open Telegram to view this post
VIEW IN TELEGRAM
Why is a mutable default argument
a trap?
Answer:
The default is evaluated once, when def runs.
Every call that mutates it changes the same object.


Use None as the default and create the list inside.
tags: #interview
Please open Telegram to view this post
VIEW IN TELEGRAM
👍3❤1
Our channel turns two today! Thanks for reading.
🔥5
What can be a key in a dictionary?
Answer:
tags: #interview
VIEW IN TELEGRAM
Which keyword makes a function a generator?Answer: yield. Calling it returns a generator.
tags: #generators
{SEPARATOR}
By: @testchan ✨
{HEADER}

What is a decorator?
"""


def test_text_file_posts(tmp_path: Path) -> None:
    source = tmp_path / "posts.txt"
    source.write_text(TEXT_POSTS, encoding="utf-8")
    result = run_import([source], tmp_path / "out.yaml", None)
    entries = [(q.question, q.answer, q.tags) for q in result.plan.entries]
    assert entries == [
        (
            "What is the difference between a list and a tuple?",
            "A list is mutable, a tuple is not.\n"
            "• Tuples can be dictionary keys when their items are hashable.\n"
            "- Lists have methods such as append and sort.",
            ("Python", "Interview", "Lists"),
        ),
        (
            "Why is a mutable default argument a trap?",
            "The default is evaluated once, when def runs.\n"
            "Every call that mutates it changes the same object.\n\n"
            "Use None as the default and create the list inside.",
            ("interview",),
        ),
        (
            "Which keyword makes a function a generator?",
            "yield. Calling it returns a generator.",
            ("generators",),
        ),
    ]
    lines = result.lines()
    assert lines[-1] == "6 posts read · 3 imported · 3 skipped"
    assert 'line 29: skipped: the answer after "Answer:" is empty.' in lines
    assert 'line 37: skipped: it has no "Answer:".' in lines
    assert not any(line.startswith("line 27") for line in lines)  # the announcement
    assert lines[-2] == "Skipped: 1 not an interview question, 2 unreadable."

    bank, problems = check_bank(_only(tmp_path / "out.yaml", tmp_path / "bank"))
    assert problems == [] and len(bank) == 3


def _only(path: Path, folder: Path) -> Path:
    folder.mkdir()
    (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_posts_without_separators_are_split() -> None:
    text = "What is X?\nAnswer: X is a letter.\n\nWhat is Y?\nAnswer: Y is another.\n"
    plan = importer.plan_import(importer.posts_from_text(text))
    assert [(q.question, q.answer) for q in plan.entries] == [
        ("What is X?", "X is a letter."),
        ("What is Y?", "Y is another."),
    ]


def test_what_comes_before_a_question_is_left_out() -> None:
    text = (
        "Good morning! Today a classic.\n\n3. What is a context manager?\n\n"
        "Answer: An object with __enter__ and __exit__.\n\n"
        "### 4. Why use __slots__?\n\n**Answer:**\n\nIt saves memory per instance.\n"
    )
    plan = importer.plan_import(importer.posts_from_text(text))
    assert [(q.question, q.answer) for q in plan.entries] == [
        ("What is a context manager?", "An object with __enter__ and __exit__."),
        ("Why use __slots__?", "It saves memory per instance."),
    ]


def test_inline_code_in_a_question_is_plain_text() -> None:
    data = export(
        [
            message(
                1,
                ["Quick one: what does ", code("nonlocal"), " do?\n", "Answer: ", code("x")],
            )
        ]
    )
    plan = importer.plan_import(importer.posts_from_export(data))
    assert [(q.question, q.answer) for q in plan.entries] == [
        ("Quick one: what does nonlocal do?", "`x`")
    ]


# ---------------------------------------------------------------- FILE: extended, atomic


EXISTING = """\
# Hand-written entries: the importer must keep these bytes.
topic: Imported
questions:
  - id: kept-one   # a comment after the id
    question: "What is kept?"
    answer: |
      Everything that was here.
    choices: ["yes", "no"]
    correct: 0

  - id: kept-two
    question: 'Single-quoted, still kept?'
    answer: >
      Folded text
      stays folded.
"""


def test_existing_entries_are_kept_byte_for_byte(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    out = content / "imported.yaml"
    out.write_text(EXISTING, encoding="utf-8")
    source = write_json(tmp_path / "result.json", sample_export())
    result = run_import([source], out, content)
    text = out.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    assert len(result.plan.entries) == 6  # "What is a generator?" is new here
    bank, problems = check_bank(content)
    assert problems == []
    assert {"kept-one", "kept-two"} <= set(bank.questions)
    assert bank.questions["kept-one"].choices == ("yes", "no")


def test_extending_other_layouts_keeps_every_entry(tmp_path: Path) -> None:
    entry = Question(id="new-one", topic="T", question="New?", answer="Yes.\nTwo lines.")
    layouts = [
        "topic: T\nquestions:\n- id: a\n  question: A?\n  answer: a\ntags: [Py]\n",
        "topic: T\nquestions: [{id: a, question: 'A?', answer: a}]\n",
        "topic: T\nquestions:\n",
        "# only a comment\n",
        "",
        "topic: T\nquestions:\n  - id: a\n    question: A?\n    answer: |+\n      kept\n\n",
    ]
    for i, layout in enumerate(layouts):
        folder = tmp_path / f"c{i}"
        folder.mkdir()
        path = folder / "x.yaml"
        path.write_text(layout, encoding="utf-8")
        before = yaml.safe_load(layout) or {}
        assert append_entry(path, entry) is True
        after = yaml.safe_load(path.read_text(encoding="utf-8"))
        olds = before.get("questions") or []
        assert after["questions"][: len(olds)] == olds, layout
        assert after["questions"][-1]["id"] == "new-one"
        assert check_bank(folder)[1] == [], layout
        assert append_entry(path, entry) is False  # already there


def test_append_entry_and_entry_from_message(tmp_path: Path) -> None:
    content = known_bank(tmp_path / "content")
    out = content / "imported.yaml"
    # "🐍" is two UTF-16 code units: Bot API offsets count them so.
    text = (
        f"{HEADER}\n\nWhat does 🐍 zip() return?\n\n"
        "Answer: 🐍🐍 An iterator of tuples: zip(a, b).\nfor x, y in zip(a, b):\n    print(x, y)\n"
        "Stops at the shortest. hidden\n\ntags: #Python #Iterators\n"
        f"{SEPARATOR}\nBy: @testchan ✨"
    )

    def utf16(s: str) -> int:
        return len(s.encode("utf-16-le")) // 2

    def at(sub: str, length: str | None = None) -> tuple[int, int]:
        i = text.index(sub)
        return utf16(text[:i]), utf16(length if length is not None else sub)

    entities: list[dict[str, object]] = []
    for etype, sub in [("bold", HEADER), ("bold", "What does 🐍 zip() return?")]:
        off, n = at(sub)
        entities.append({"type": etype, "offset": off, "length": n})
    off, n = at("zip(a, b).", "zip(a, b)")
    entities.append({"type": "code", "offset": off, "length": n})
    off, n = at("for x, y", "for x, y in zip(a, b):\n    print(x, y)")
    entities.append({"type": "pre", "offset": off, "length": n, "language": "python"})
    off, n = at("hidden")
    entities.append({"type": "spoiler", "offset": off, "length": n})
    for name in ("#Python", "#Iterators"):
        off, n = at(name)
        entities.append({"type": "hashtag", "offset": off, "length": n})

    entry = entry_from_message(text, entities)
    assert entry is not None
    assert entry.question == "What does 🐍 zip() return?"
    assert entry.answer == (
        "🐍🐍 An iterator of tuples: `zip(a, b)`.\n"
        "```python\nfor x, y in zip(a, b):\n    print(x, y)\n```\n"
        "Stops at the shortest. hidden"
    )
    assert entry.tags == ("Python", "Iterators")
    assert ID_RE.match(entry.id)
    assert entry_from_message("Good morning, channel!", []) is None

    assert append_entry(out, entry, content_dir=content) is True
    before = out.read_bytes()
    assert append_entry(out, entry, content_dir=content) is False
    assert out.read_bytes() == before
    known = entry_from_message("What is a generator?\nAnswer: yield.", [])
    assert known is not None and append_entry(out, known, content_dir=content) is False
    bank = load_bank(content)
    assert bank.questions[entry.id].answer == entry.answer


def test_failed_write_leaves_file_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    out = content / "imported.yaml"
    out.write_text(EXISTING, encoding="utf-8")
    before = out.read_bytes()
    source = write_json(tmp_path / "result.json", sample_export())

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ImportInputError, match="Cannot write"):
        run_import([source], out, content)
    assert out.read_bytes() == before
    assert sorted(p.name for p in content.iterdir()) == ["imported.yaml"]  # no temp file left


BAD_INPUTS: list[tuple[str, bytes | None, str]] = [
    ("missing.json", None, "no such file"),
    ("broken.json", b'{"messages": [{"id": 1, "type": ', "not valid JSON"),
    ("other.json", b'{"hello": "world"}', "not a Telegram Desktop export"),
    ("list.json", b"[1, 2, 3]", "not a Telegram Desktop export"),
    ("latin1.txt", "Qu'est-ce qu'un générateur ?\nAnswer: yield".encode("latin-1"), "UTF-8"),
]


@pytest.mark.parametrize(("name", "data", "says"), BAD_INPUTS)
def test_bad_input_changes_nothing(
    tmp_path: Path, name: str, data: bytes | None, says: str
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    out = content / "imported.yaml"
    out.write_text(EXISTING, encoding="utf-8")
    before = out.read_bytes()
    good = write_json(tmp_path / "good.json", sample_export())
    source = tmp_path / name
    if data is not None:
        source.write_bytes(data)
    with pytest.raises(ImportInputError) as caught:
        run_import([good, source], out, content)  # a good source first: still nothing written
    message = str(caught.value)
    assert says in message and str(source) in message
    assert "\n" not in message and message.endswith(".")
    assert out.read_bytes() == before


def test_an_unreadable_file_is_not_extended(tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    out.write_text("topic: [unclosed\n", encoding="utf-8")
    before = out.read_bytes()
    source = write_json(tmp_path / "result.json", sample_export())
    with pytest.raises(ImportInputError, match="not valid YAML"):
        run_import([source], out, None)
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "value",
    [
        "yes",
        "no",
        "null",
        "~",
        "123",
        "1e3",
        "- dash",
        "# hash",
        "key: value",
        "a 'b' \"c\"",
        "back\\slash",
        "tab\there",
        "@at",
        "`tick`",
        "line\u2028sep",
        "bell\x07",
        "%percent",
        "* star",
        "&anchor",
        "!tag",
        "{brace}",
        "[list]",
        "|pipe",
        ">gt",
        "?",
        "...",
        "---",
    ],
)
def test_rendered_yaml_reads_back_exactly(tmp_path: Path, value: str) -> None:
    q = Question(
        id="no" if value == "no" else "q-1",
        topic="Imported",
        question=value,
        answer=f"{value}\n  indented {value}\n\n• {value}",
        tags=(value if any(c.isalpha() for c in value) else "T",),
        code=f"  x = {value!r}\nprint(x)",
    )
    folder = tmp_path / "bank"
    folder.mkdir()
    (folder / "x.yaml").write_text(question_yaml.extend_text(None, [q]), encoding="utf-8")
    bank, problems = check_bank(folder)
    assert problems == []
    got = bank.questions[q.id]
    assert (got.question, got.answer, got.tags) == (q.question.strip(), q.answer, q.tags)
    assert got.code == (q.code or "").strip("\n").rstrip()


def test_full_account_export_is_read(tmp_path: Path) -> None:
    chat = sample_export()
    data = {"about": "...", "chats": {"about": "...", "list": [chat, {**chat, "name": "Copy"}]}}
    source = write_json(tmp_path / "result.json", data)
    result = run_import([source], tmp_path / "out.yaml", None)
    assert result.lines()[-1] == "26 posts read · 6 imported · 20 skipped"
    assert any(
        line.startswith("Copy, message 2: skipped: the same question") for line in result.lines()
    )


# ---------------------------------------------------------------- the command line


def test_cli_imports_and_reports(tmp_path: Path) -> None:
    content = known_bank(tmp_path / "bank")
    write_json(tmp_path / "result.json", sample_export())
    (tmp_path / "posts.txt").write_text(TEXT_POSTS, encoding="utf-8")
    env = {"CONTENT_DIR": str(content)}
    first = run_cli("import", "result.json", "posts.txt", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    last = first.stdout.strip().splitlines()[-1]
    assert last == "19 posts read · 8 imported · 11 skipped"
    assert "posts.txt, line 29: skipped:" in first.stdout
    out = content / "imported.yaml"
    assert check_bank(content)[1] == []
    before = out.read_bytes()

    again = run_cli("import", "result.json", "posts.txt", cwd=tmp_path, env=env)
    assert again.returncode == 0
    assert again.stdout.strip().splitlines()[-1] == "19 posts read · 0 imported · 19 skipped"
    assert out.read_bytes() == before

    other = tmp_path / "elsewhere" / "channel.yaml"
    third = run_cli("import", "result.json", "--out", str(other), cwd=tmp_path, env=env)
    assert third.returncode == 0 and SUMMARY.match(third.stdout.strip().splitlines()[-1])
    assert "0 imported" in third.stdout  # the bank under CONTENT_DIR has them all already
    assert not other.exists()


def test_cli_bad_input_is_one_sentence(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    out = content / "imported.yaml"
    out.write_text(EXISTING, encoding="utf-8")
    before = out.read_bytes()
    (tmp_path / "broken.json").write_text('{"messages": [', encoding="utf-8")
    for source in ("missing.json", "broken.json"):
        result = run_cli("import", source, cwd=tmp_path, env={"CONTENT_DIR": str(content)})
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert source in result.stderr
        assert out.read_bytes() == before


def test_cli_help_has_a_sample(tmp_path: Path) -> None:
    result = run_cli("import", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--out FILE" in result.stdout and "result.json" in result.stdout
    assert HEADER in result.stdout and "Answer:" in result.stdout and "tags: #" in result.stdout


# ---------------------------------------------------------------- round trip of our own posts

_TAG = re.compile(r"<(/?)([a-z-]+)((?:\s+[a-z-]+=\"[^\"]*\")*)\s*>")
_KINDS = {
    "b": "bold",
    "i": "italic",
    "u": "underline",
    "s": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "blockquote": "blockquote",
}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def html_to_message(source: str) -> tuple[str, list[dict[str, Any]]]:
    """What Telegram shows for the bot's HTML: plain text and Bot API entities (UTF-16)."""
    text = ""
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, dict[str, str]]] = []
    pos = 0
    for m in _TAG.finditer(source):
        text += html.unescape(source[pos : m.start()])
        pos = m.end()
        closing, name, raw = m.group(1), m.group(2), m.group(3)
        attrs = dict(re.findall(r'([a-z-]+)="([^"]*)"', raw))
        if not closing:
            stack.append((name, utf16_len(text), attrs))
            continue
        opened, start, attrs = stack.pop()
        assert opened == name
        if name == "code" and attrs.get("class", "").startswith("language-"):
            stack[-1][2]["language"] = attrs["class"].removeprefix("language-")
            continue
        entity: dict[str, Any] = {
            "type": _KINDS[name],
            "offset": start,
            "length": utf16_len(text) - start,
        }
        if name == "pre":
            entity["language"] = attrs.get("language", "")
        if name == "a":
            entity["url"] = html.unescape(attrs["href"])
        if entity["length"]:
            entities.append(entity)
    text += html.unescape(source[pos:])
    assert not stack
    # The server detects hashtags and mentions itself, as it does for any message.
    for m in re.finditer(r"(?<!\w)([#@])\w+", text):
        entities.append(
            {
                "type": "hashtag" if m.group(1) == "#" else "mention",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return text, entities


def export_parts(text: str, entities: list[dict[str, Any]]) -> list[Part]:
    """Telegram Desktop's ParseText: parts in order; an entity inside another is dropped."""
    units = text.encode("utf-16-le")

    def mid(start: int, end: int) -> str:
        return units[2 * start : 2 * end].decode("utf-16-le")

    parts: list[Part] = []
    offset = 0
    for e in entities:
        start, length = e["offset"], e["length"]
        if start < offset or length <= 0:
            continue
        if start > offset:
            parts.append(mid(offset, start))
        part: dict[str, Any] = {"type": e["type"], "text": mid(start, start + length)}
        if e["type"] == "pre":
            part["language"] = e.get("language", "")
        if e["type"] == "text_link":
            part["href"] = e["url"]
        parts.append(part)
        offset = start + length
    if offset < utf16_len(text):
        parts.append(mid(offset, utf16_len(text)))
    return parts


def _words(text: str) -> str:
    return " ".join(text.split())


def test_round_trip_of_the_real_bank(tmp_path: Path) -> None:
    bank = load_bank(ROOT / "content")
    messages: list[dict[str, Any]] = []
    wanted: dict[str, Question] = {}
    from_bot_api: dict[str, Question | None] = {}
    for i, q in enumerate(q for q in bank.questions.values() if q.code is None):
        rendered = post_view.render_post(
            q,
            signature="By: @chan ✨",
            bot_username="TestBot",
            asking_id=None if i % 2 else 1000 + i,
            tally=None,
        )
        if rendered.cut:
            continue
        text, entities = html_to_message(rendered.text)
        messages.append(message(100 + i, export_parts(text, entities)))
        wanted[f"message {100 + i}"] = q
        from_bot_api[f"message {100 + i}"] = entry_from_message(text, entities)
    assert len(wanted) > 100

    content = tmp_path / "content"
    result = run_import(
        [write_json(tmp_path / "result.json", export(messages))], content / "rt.yaml", content
    )
    assert result.plan.skipped == []
    got = {q.source: q for q in result.plan.entries}
    assert set(got) == set(wanted)
    for where, q in wanted.items():
        for entry in (got[where], from_bot_api[where]):
            assert entry is not None, q.id
            assert entry.question == _words(q.question), q.id
            assert _words(entry.answer) == _words(markup.to_plain(q.answer)), q.id
            assert entry.hashtags == q.hashtags, q.id
            assert not entry.choices and entry.code is None
    reread, problems = check_bank(content)
    assert problems == []
    assert {q.id: q.answer for q in reread.questions.values()} == {
        q.id: q.answer for q in result.plan.entries
    }


# ---------------------------------------------------------------- one FILE, several imports


def many_posts(word: str, n: int) -> str:
    """``n`` posts in the source format, questions distinct by ``word`` and number."""
    return "".join(
        f"{HEADER}\n\nWhat does the {word} widget number {i} return?\n\n"
        f"Answer: The {word} widget number {i} returns {i}.\n\n"
        f"tags: #Widgets\n{SEPARATOR}\nBy: @testchan ✨\n"
        for i in range(n)
    )


def cli_import(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """``python -m bot import ARGS`` started (not waited for), as a user runs it."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_", "CONTENT_"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "import", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def open_files(pid: int | str) -> list[str]:
    """What process ``pid`` holds open (Linux: its /proc fd links)."""
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(str(fd.readlink()))
        except OSError:  # closed meanwhile (the listing's own fd, for one)
            continue
    return links


def has_open(pid: int, path: Path) -> bool:
    try:
        return str(path) in open_files(pid)
    except OSError:
        return False


def wait_until_waiting(procs: Sequence[subprocess.Popen[str]], lock: Path) -> None:
    """Until every process has the lock file open: each is waiting for the lock we hold."""
    deadline = time.monotonic() + 60
    while not all(has_open(p.pid, lock) for p in procs):
        assert all(p.poll() is None for p in procs), "an import finished without the lock"
        assert time.monotonic() < deadline, "an import never waited for the lock"
        time.sleep(0.02)


def questions_in(path: Path) -> list[str]:
    root = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [q["question"] for q in root["questions"]]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_two_cli_imports_into_one_file_keep_both(tmp_path: Path) -> None:
    """Both start while FILE is locked (as if a third import were writing it); each then
    re-reads FILE under the lock, so nobody's entries are lost."""
    content = known_bank(tmp_path / "content")
    (tmp_path / "a.txt").write_text(many_posts("alpha", 150), encoding="utf-8")
    (tmp_path / "b.txt").write_text(many_posts("beta", 150), encoding="utf-8")
    out = content / "imported.yaml"
    env = {"CONTENT_DIR": str(content)}
    with import_files.file_lock(out, 1):
        procs = [cli_import(tmp_path, env, name) for name in ("a.txt", "b.txt")]
        wait_until_waiting(procs, content / ".imported.yaml.lock")
        # Meanwhile the lock's holder adds an entry of its own.
        entry = entry_from_message(
            "What is a lock file?\nAnswer: A file that says who writes.", []
        )
        assert entry is not None
        write_atomic(out, question_yaml.extend_text(None, [entry]))
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    for stdout, _ in results:
        assert stdout.strip().splitlines()[-1] == "150 posts read · 150 imported · 0 skipped"
    questions = questions_in(out)
    assert len(questions) == len(set(questions)) == 301
    assert check_bank(content)[1] == []


def test_two_cli_imports_at_once_race_freely_and_keep_both(tmp_path: Path) -> None:
    """The race as users meet it: two runs started together, nothing held by the test."""
    content = known_bank(tmp_path / "content")
    (tmp_path / "a.txt").write_text(many_posts("gamma", 200), encoding="utf-8")
    (tmp_path / "b.txt").write_text(many_posts("delta", 200), encoding="utf-8")
    env = {"CONTENT_DIR": str(content)}
    procs = [cli_import(tmp_path, env, name) for name in ("a.txt", "b.txt")]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert len(set(questions_in(content / "imported.yaml"))) == 400
    assert check_bank(content)[1] == []


def test_a_symlinked_file_stays_a_link_and_its_target_is_extended(tmp_path: Path) -> None:
    content = known_bank(tmp_path / "content")
    shared = tmp_path / "shared" / "channel.yaml"
    shared.parent.mkdir()
    (tmp_path / "a.txt").write_text(many_posts("epsilon", 2), encoding="utf-8")
    (tmp_path / "b.txt").write_text(many_posts("zeta", 3), encoding="utf-8")
    link = content / "imported.yaml"
    link.symlink_to(Path("..") / "shared" / "channel.yaml")  # relative, and dangling at first
    first = run_cli("import", "a.txt", cwd=tmp_path, env={"CONTENT_DIR": str(content)})
    assert first.returncode == 0, first.stderr
    second = run_cli("import", "b.txt", cwd=tmp_path, env={"CONTENT_DIR": str(content)})
    assert second.returncode == 0, second.stderr
    assert link.is_symlink() and link.resolve() == shared.resolve()
    assert len(questions_in(shared)) == 5
    entry = entry_from_message("What is a symlink?\nAnswer: A name for another path.", [])
    assert entry is not None and append_entry(link, entry, content_dir=content)
    assert link.is_symlink() and len(questions_in(shared)) == 6
    assert not list(content.glob(".imported.yaml.*.tmp")) and not list(shared.parent.glob("*.tmp"))
    assert check_bank(content)[1] == []


# ---------------------------------------------------------------- over §3's limits


def one_post(question: str, answer: str, code: str | None = None) -> str:
    """A post in the source's text format; ``code`` goes under the question."""
    below = f"\n\n{code}" if code is not None else ""
    return (
        f"{HEADER}\n\n{question}{below}\n\nAnswer: {answer}\n\n"
        f"tags: #Limits\n{SEPARATOR}\nBy: @testchan ✨\n"
    )


def code_post(question: str, code: str) -> importer.Post:
    """A post whose ``code`` under the question is a ``pre`` entity, as in an export."""
    text = f"{HEADER}\n\n{question}\n{code}\n\nAnswer: It prints the numbers.\n"
    start = text.index(code)
    return importer.Post("message 1", text, (importer.Span(start, start + len(code), "pre"),))


def drafted(post: importer.Post) -> importer.Draft:
    draft = importer.parse_post(post)
    assert isinstance(draft, importer.Draft), draft
    return draft


def test_code_over_the_limits_is_shortened_at_a_line_and_reported() -> None:
    many = "\n".join(f"print({i})" for i in range(45))
    draft = drafted(code_post("What does this print?", many))
    assert draft.code == "\n".join(f"print({i})" for i in range(MAX_CODE_LINES))
    (note,) = draft.notes
    assert "had 45 lines" in note and f"kept its first {MAX_CODE_LINES} lines" in note
    wide = "\n".join("x = " + "1" * 120 for _ in range(20))  # 20 lines, 2,479 characters
    draft = drafted(code_post("What is x?", wide))
    assert draft.code is not None and len(draft.code) <= MAX_CODE
    assert draft.code == "\n".join(wide.split("\n")[:12])
    (note,) = draft.notes
    assert "kept its first 12 lines" in note
    one_line = "s = '" + "y" * 2000 + "'"
    draft = drafted(code_post("How long is s?", one_line))
    assert draft.code == one_line[:MAX_CODE]
    assert "cut mid-line" in draft.notes[0]


def test_a_long_answer_is_cut_at_a_sentence_and_reported() -> None:
    answer = "A sentence that explains a part of it. " * 30_000  # over 1 MB
    draft = drafted(importer.posts_from_text(one_post("Why so long?", answer))[0])
    assert len(draft.answer) <= importer.MAX_ANSWER
    assert draft.answer.endswith("explains a part of it.")
    assert len(draft.answer) > importer.MAX_ANSWER - 50  # as much as fits
    (note,) = draft.notes
    assert f"the answer had {len(answer.strip())} characters" in note
    assert note.endswith("at a sentence boundary")


def test_an_answer_without_a_boundary_says_it_was_cut_mid_sentence() -> None:
    answer = "word " * 2_000  # no sentence end and no line break
    draft = drafted(importer.posts_from_text(one_post("Why no end?", answer))[0])
    assert len(draft.answer) <= importer.MAX_ANSWER and draft.answer.endswith("word…")
    (note,) = draft.notes
    assert "mid-sentence" in note and "sentence boundary" not in note


def test_an_answer_cut_inside_a_code_block_keeps_the_block_closed(tmp_path: Path) -> None:
    code = "\n".join(f"    total += {i}" for i in range(900))
    answer = f"Add them up:\n```python\ntotal = 0\n{code}\n```\nThat is all."
    draft = drafted(importer.posts_from_text(one_post("How to add?", answer))[0])
    assert len(draft.answer) <= importer.MAX_ANSWER
    assert draft.answer.endswith("\n```")
    assert [b.kind for b in markup.parse(draft.answer)] == ["text", "code"]
    assert "inside a code block" in draft.notes[0]
    assert "sentence boundary" not in draft.notes[0]


CONTEXT = (
    "Our service calls a payment API that allows 100 requests per minute per merchant, "
    "and a merchant's requests arrive in bursts after each sale. "
)
ASK = (
    "The limiter must survive restarts and run across three workers, without a shared "
    "clock and without dropping any request. How would you design it, and where would "
    "the counters live?"
)


def test_a_question_shortened_from_the_front_keeps_its_context_in_the_answer() -> None:
    question = CONTEXT + ASK
    assert len(question) > MAX_QUESTION >= len(ASK)
    draft = drafted(importer.posts_from_text(one_post(question, "Use a token bucket."))[0])
    assert draft.question == ASK
    assert draft.answer == f"{CONTEXT.strip()}\n\nUse a token bucket."
    (note,) = draft.notes
    assert "shortened to" in note and "at a sentence boundary" in note
    assert f"its first {len(CONTEXT.strip())} characters moved to the top of the answer" in note


def test_a_question_cut_mid_sentence_says_so_and_keeps_the_rest() -> None:
    question = "Why does " + "this very long clause go on " * 15 + "and never stop?"
    draft = drafted(importer.posts_from_text(one_post(question, "It is a test."))[0])
    assert len(draft.question) <= MAX_QUESTION and draft.question.endswith("…")
    (note,) = draft.notes
    assert "mid-sentence" in note and "sentence boundary" not in note
    rest = draft.answer.split("\n\n")[0]
    assert rest.startswith("…") and rest.endswith("and never stop?")
    assert f"{draft.question[:-1]} {rest[1:]}" == question


def test_cli_shortens_and_reports_and_the_file_is_valid(tmp_path: Path) -> None:
    content = known_bank(tmp_path / "content")
    posts = [
        one_post(CONTEXT + ASK, "Use a token bucket."),
        one_post("Why so long?", "One more sentence for the pile. " * 40_000),
        one_post("Why no end?", "word " * 2_000),
    ]
    (tmp_path / "posts.txt").write_text("".join(posts), encoding="utf-8")
    run = run_cli("import", "posts.txt", cwd=tmp_path, env={"CONTENT_DIR": str(content)})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[-1] == "3 posts read · 3 imported · 0 skipped"
    context = next(line for line in lines if "moved to the top of the answer" in line)
    assert context.startswith("line ") and "at a sentence boundary" in context
    long = next(line for line in lines if "the answer had 1279999 characters" in line)
    assert long.endswith("at a sentence boundary.")
    cut = next(line for line in lines if "the answer had 9999 characters" in line)
    assert "mid-sentence" in cut and "sentence boundary" not in cut
    bank, problems = check_bank(content)
    assert problems == []
    entries = {q.question: q for q in bank.questions.values()}
    assert entries[ASK].answer.startswith(CONTEXT.strip())
    assert all(len(q.answer) <= importer.MAX_ANSWER for q in entries.values())
