"""The bank loader and validator (contract §3), and the shipped bank's own stricter rules.

Over ~300 lines on purpose: every rule the shipped bank keeps (fact-check findings, cues,
near-twins, rendering) is tested against the one loaded bank here, next to its fixtures.
"""

from __future__ import annotations

import dataclasses
import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import schedule
from bot.core.bank import check_bank, load_bank
from bot.core.models import Question, QuestionBank
from bot.core.related import near_twins
from bot.ui import callback_data as cd
from bot.ui import post_view, quiz_view, render
from tests import bank_rules
from tests.fakes import check_markup
from tests.telegram_html import check_message_text

GOOD = """\
topic: Testing
tags: [Python, Interview]
questions:
  - id: t-one
    question: What is 1 + 1?
    answer: |
      Two. `1 + 1 == 2`
    choices: ["2", "3"]
    correct: 0
    explanation: Arithmetic.
    tags: [Math]
    difficulty: easy
  - id: t-two
    question: A post without choices
    answer: Just text.
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path) -> list[str]:
    _, problems = check_bank(tmp_path)
    return [str(p) for p in problems]


def test_valid_bank_loads(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    bank = load_bank(tmp_path)
    assert list(bank.questions) == ["t-one", "t-two"]
    one = bank.questions["t-one"]
    assert one.choices == ("2", "3") and one.correct == 0 and one.difficulty == "easy"
    assert one.tags == ("Python", "Interview", "Math")
    two = bank.questions["t-two"]
    assert not two.quizzable and two.difficulty == "medium"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "    choices: [yes, b]\n    correct: 0\n",
            "a choice must be text, but YAML read a boolean",
        ),
        ("    choices: [a, b]\n    correct: 2\n", "correct: 2 is out of range"),
        ("    choices: [a, b]\n", "correct: is missing"),
        ("    choices: [a]\n    correct: 0\n", "choices: has 1 items"),
        ("    choices: [a, b, c, d, e, f, g]\n    correct: 0\n", "choices: has 7 items"),
        ("    choices: [a, b]\n    correct: '1'\n", "correct: must be a whole number"),
        ("    correct: 0\n", "correct: is given but there are no choices"),
        ("    difficulty: insane\n", "difficulty 'insane' must be one of"),
        ("    tags: ['++']\n", "has no letter"),
        ("    tags: [a, b, c, d, e, f, g, h, i]\n", "9 tags; at most 8"),
        ("    tags: [" + "x" * 33 + "]\n", "at most 32 allowed"),
        ("    explanation: " + "x" * 151 + "\n", "explanation is 151 characters"),
        ("    choices: [a, " + "y" * 101 + "]\n    correct: 0\n", "a choice is 101 characters"),
        ("    tagz: [a]\n", "unknown key 'tagz'"),
        ("    explanation: 12\n", "explanation must be text"),
    ],
)
def test_each_rule_is_reported_with_file_and_line(
    tmp_path: Path, snippet: str, expected: str
) -> None:
    write(
        tmp_path,
        "q.yaml",
        "topic: T\nquestions:\n  - id: q-1\n    question: Q?\n    answer: A\n" + snippet,
    )
    problems = problems_of(tmp_path)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(f"{tmp_path / 'q.yaml'}:") for p in problems)
    line = int(problems[0].split(":")[1])
    assert 3 <= line <= 8


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(
        tmp_path,
        "b.yml",
        "topic: Broken\nquestions:\n"
        "  - id: Bad_Id\n    question: Q\n    answer: A\n"
        "  - id: t-one\n    question: dup\n    answer: A\n"
        "  - id: no-question\n    answer: A\n"
        "  - id: " + "a" * 41 + "\n    question: Q\n    answer: A\n",
    )
    write(tmp_path, "c.yaml", "topic: [unclosed\n")
    write(tmp_path, "d.yaml", "questions: []\n")
    problems = problems_of(tmp_path)
    text = "\n".join(problems)
    assert "b.yml:3: id 'Bad_Id'" in text
    assert "b.yml:6: id 't-one' is already used at" in text
    assert "b.yml:9: question: is missing" in text
    assert "at most 40 characters" in text
    assert "c.yaml:2: YAML syntax error" in text
    assert "d.yaml:1: topic: is missing" in text
    assert len(problems) == 6


def test_empty_folder_and_missing_folder(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}:0: no *.yaml or *.yml question files found"]
    assert "no such folder" in problems_of(tmp_path / "nope")[0]


def test_strings_yaml_would_coerce_must_be_quoted(tmp_path: Path) -> None:
    write(
        tmp_path, "a.yaml", "topic: T\nquestions:\n  - id: q\n    question: 3.14\n    answer: no\n"
    )
    problems = problems_of(tmp_path)
    assert any("question must be text, but YAML read a number" in p for p in problems)
    assert any("answer must be text, but YAML read a boolean" in p for p in problems)


# ---------------------------------------------------------------- the shipped bank


@pytest.fixture(scope="module")
def bank() -> QuestionBank:
    return load_bank(Path(__file__).resolve().parent.parent / "content")


def test_shipped_bank_is_big_and_quiz_ready(bank: QuestionBank) -> None:
    assert len(bank) >= 150
    assert len(bank.topics) >= 8
    for q in bank.questions.values():
        assert 3 <= len(q.choices) <= 6, q.id
        assert q.correct is not None and q.explanation, q.id
        assert len(set(q.choices)) == len(q.choices), f"{q.id}: duplicate choices"
        assert len(q.tags) >= 3, q.id  # file tags plus its own
        assert q.difficulty in ("easy", "medium", "hard")
        assert len(q.answer) >= 200, q.id


def test_right_choice_position_varies(bank: QuestionBank) -> None:
    positions = [q.correct for q in bank.questions.values()]
    for pos in range(4):
        assert positions.count(pos) >= len(positions) // 6


def test_every_entry_renders_to_messages_telegram_accepts(bank: QuestionBank) -> None:
    for q in bank.questions.values():
        post = post_view.render_post(
            q,
            signature="By: @pyinterviewq ✨",
            bot_username="InterviewTestBot",
            asking_id=2**40,
            tally=post_view.Tally(123456, 65432),
        )
        assert check_message_text(post.text, "HTML") == "", q.id
        assert not post.cut, f"{q.id}: the answer should fit in one post"
        assert post.keyboard is not None
        for row in post.keyboard.inline_keyboard:
            for button in row:
                assert button.text
                if button.callback_data is not None:
                    assert len(str(button.callback_data).encode()) <= cd.MAX_CALLBACK_DATA
        for text in render.answer_messages(q):
            assert check_message_text(text, "HTML") == "", q.id
        for chosen in range(len(q.choices)):
            assert len(post_view.channel_alert(q, chosen, first_time=False)) <= 200
        quiz = quiz_view.quiz_question(
            q,
            index=19,
            total=20,
            order=list(range(len(q.choices))),
            asking_id=2**40,
            group=True,
            answered=["<Ann>", "Bob & Co"],
        )
        assert check_message_text(quiz.text, "HTML") == "", q.id
        for chosen in range(len(q.choices)):
            feedback = quiz_view.quiz_feedback(
                q,
                order=list(range(len(q.choices))),
                chosen_position=chosen,
                points=3,
                asking_id=2**40,
                bot_username="InterviewTestBot",
                back_in=timedelta(days=36500),
            )
            assert check_message_text(feedback.text, "HTML") == "", q.id
            stacked = quiz_view.stack(feedback, quiz)  # feedback and the next question in one
            assert check_message_text(stacked.text, "HTML") == "", q.id
            private_next = quiz_view.quiz_question(
                q, index=19, total=20, order=list(range(len(q.choices))), asking_id=2**40
            )
            stacked = quiz_view.stack(feedback, private_next)
            assert check_message_text(stacked.text, "HTML") == "", q.id
            for keyboard in (feedback.keyboard, stacked.keyboard, private_next.keyboard):
                assert keyboard is not None
                assert check_markup(keyboard.to_dict()) == "", q.id


# ---------------------------------------------------------------- round two: code, distractors


def test_bank_size_topics_and_code(bank: QuestionBank) -> None:
    m = bank_rules.measure(bank)
    assert m.entries >= bank_rules.MIN_ENTRIES
    assert min(m.per_topic.values()) >= bank_rules.MIN_PER_TOPIC, m.per_topic
    assert m.with_code >= bank_rules.MIN_WITH_CODE


def test_distractors_do_not_tell(bank: QuestionBank) -> None:
    m = bank_rules.measure(bank)
    assert abs(m.absolute_wrong - m.absolute_right) <= bank_rules.MAX_ABSOLUTE_GAP, m
    low, high = bank_rules.LONGEST_SHARE
    assert low <= m.longest_share <= high, m.longest_share
    quarter = sum(m.positions.values()) / 4
    assert all(abs(n - quarter) <= 0.1 * quarter for n in m.positions.values()), m.positions


def test_every_output_question_is_proven_by_running_it(bank: QuestionBank) -> None:
    """Each "what does this print?" snippet runs (two hash seeds) and prints its key only."""
    questions = [q for q in bank.questions.values() if bank_rules.is_output_question(q)]
    assert len(questions) >= 40
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(bank_rules.output_problem, questions) if p]
    assert problems == []


def test_output_check_catches_a_wrong_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "topic: T\nquestions:\n  - id: q\n    question: What does this code print?\n"
        "    answer: It prints three.\n    code: |\n      print(1 + 2)\n"
        "    choices: ['3', '12']\n    correct: 1\n",
    )
    q = load_bank(tmp_path).questions["q"]
    assert q.code == "print(1 + 2)"
    problem = bank_rules.output_problem(q)
    assert problem is not None and "prints '3'" in problem


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("x" * 1501, "code is 1501 characters long; at most 1500"),
        ("\n".join(["x = 1"] * 31), "code has 31 lines; at most 30"),
    ],
)
def test_code_limits_are_validated_with_file_and_line(
    tmp_path: Path, code: str, expected: str
) -> None:
    block = "\n".join("      " + line for line in code.split("\n"))
    write(
        tmp_path,
        "q.yaml",
        "topic: T\nquestions:\n  - id: q-1\n    question: Q?\n    answer: A\n"
        f"    code: |\n{block}\n",
    )
    problems = problems_of(tmp_path)
    assert any(expected in p for p in problems), problems
    assert problems[0].startswith(f"{tmp_path / 'q.yaml'}:6:")


# ---------------------------------------------------------------- round three: facts, cues, twins


def answer_of(bank: QuestionBank, qid: str) -> str:
    q = bank.questions[qid]
    return "\n".join([q.question, q.answer, *q.choices, q.explanation or ""])


# Each finding of the round-three fact-check, as text its entry must (not) contain.
FINDINGS = [
    # contextmanager steps the generator with next() and throw(), never send()
    ("fn-generator-send-output", ["`.throw()`", "does not call `.send()`"], ["contextmanager`'s"]),
    # psycopg 3's `with conn:` closes the connection; psycopg2's did not
    ("web-sqlite-transaction-rollback", ["closes the connection", "psycopg2"], ["looks the same"]),
    # [build-system]/requires: PEP 518; build-backend: PEP 517
    ("pkg-frontend-backend", ["`build-backend` key", "PEP 517", "PEP 518"], []),
    ("pkg-pyproject-project-table", ["`build-backend` key (PEP 517)", "(PEP 518)"], []),
    # the format-spec grammar has z, # and 0
    ("core-fstring-format", ["[sign][z][#][0][width]"], ["[sign][width]"]),
    # lst[i] is O(1); lst.index(x) is O(n): not one word for both
    ("algo-membership-cost", ["`lst[i]`", "`lst.index(x)` O(n)"], ["list: index,"]),
    # len(a[i:j]) == j - i only for 0 <= i <= j <= len(a)
    ("core-slicing", ["`0 <= i <= j <= len(a)`"], ["when both are in range"]),
    # most_common(n): max() for 1, sorted() for n >= len, a heap between
    ("algo-counter-ties", ["`max()` when n is 1", "`sorted()` when n is at least"], []),
    # xfail_strict works everywhere; strict_xfail is pytest 9's name
    ("test-marks", ["`xfail_strict = true`", "pytest 9 renamed"], []),
    # setuptools 82 removed pkg_resources
    ("pkg-importlib-metadata", ["setuptools 82", "removed it"], ["which is deprecated"]),
    # LOAD_GLOBAL cached since 3.8; the 3.10 gain measures about 40%
    ("perf-local-name-lookup", ["since 3.8", "about 40%"], ["a third"]),
    # dataclass == compares tuples through 3.12, field by field from 3.13
    ("tool-dataclasses-replace", ["Through 3.12", "from 3.13 it compares field by field"], []),
    # mypy types a wraps() wrapper as functools._Wrapped[...]
    ("typ-paramspec-decorator", ["`functools._Wrapped[...]`", "`*args: Any`"], ["nothing."]),
    # ELLIPSIS handles addresses; NORMALIZE_WHITESPACE handles neither addresses nor tracebacks
    ("test-doctest-float", ["`+ELLIPSIS` lets", "only forgives"], ["help with the last ones"]),
    # slots: the faster-access claim did not measure
    ("perf-slots-memory", ["about the same"], ["slightly faster"]),
]


@pytest.mark.parametrize(("qid", "present", "absent"), FINDINGS, ids=[f[0] for f in FINDINGS])
def test_round_three_fact_check_findings_stay_fixed(
    bank: QuestionBank, qid: str, present: list[str], absent: list[str]
) -> None:
    text = answer_of(bank, qid)
    for needle in present:
        assert needle in text, f"{qid}: {needle!r} missing"
    for needle in absent:
        assert needle not in text, f"{qid}: {needle!r} is back"


def test_bank_wide_facts_from_the_fact_check(bank: QuestionBank) -> None:
    """The same slips anywhere in the bank, not only in the entries that had them."""
    for q in bank.questions.values():
        text = answer_of(bank, q.id)
        if "strict_xfail" in text:  # the new name exists from pytest 9 only
            assert "pytest 9" in text and "xfail_strict" in text, q.id
        if "build-backend" in text and "PEP 518" in text:  # 518 gave the table, 517 the key
            assert "PEP 517" in text, q.id
        assert "(PEP 518) names the backend" not in text, q.id
        if "[[fill]align]" in text:
            assert "[z][#][0]" in text, q.id
        if "pkg_resources" in text:
            assert "removed" in text, q.id
        if "__slots__" in text:  # the speed claim did not measure on 3.11-3.13
            assert "faster attribute" not in text and "slightly faster" not in text, q.id
        assert "NORMALIZE_WHITESPACE` and `+IGNORE" not in text, q.id
        if "contextmanager" in text and ".send(" in text:
            assert "does not call `.send()`" in text, q.id


def test_fixed_distractors_carry_no_absolute_word(bank: QuestionBank) -> None:
    for qid, index in [
        ("core-is-vs-eq", 0),
        ("web-lost-update", 3),
        ("web-rest-201-created", 2),
        ("web-idempotency-key", 1),
        ("web-idempotency-key", 3),
    ]:
        q = bank.questions[qid]
        assert index != q.correct
        assert not bank_rules.ABSOLUTE.search(q.choices[index]), (qid, q.choices[index])


def test_absolute_words_cue_neither_way_in_any_topic(bank: QuestionBank) -> None:
    """Whole bank and each topic file: wrong choices and keys carry absolute words alike."""
    m = bank_rules.measure(bank)
    assert m.absolute_right <= bank_rules.MAX_ABSOLUTE_RATE, m.absolute_right
    assert m.absolute_wrong <= bank_rules.MAX_ABSOLUTE_RATE, m.absolute_wrong
    for topic, gap in m.absolute_gap_by_topic.items():
        assert gap <= bank_rules.MAX_ABSOLUTE_GAP_TOPIC, (topic, gap)


def test_cue_threshold_fails_if_the_gap_grows_again(bank: QuestionBank) -> None:
    """Thirty cue-carrying distractors, as many as round two brought in, break the rule."""
    changed = dict(bank.questions)
    prose = [q for q in bank.questions.values() if bank_rules.absolute_hits(q)[0]]
    for q in prose[:30]:
        wrong = next(i for i in range(len(q.choices)) if i != q.correct)
        choices = list(q.choices)
        choices[wrong] = "It always does, by definition"
        changed[q.id] = dataclasses.replace(q, choices=tuple(choices))
    m = bank_rules.measure(QuestionBank(changed))
    assert abs(m.absolute_wrong - m.absolute_right) > bank_rules.MAX_ABSOLUTE_GAP


def test_absolute_word_list_catches_the_cues_and_spares_terms() -> None:
    for cue in [
        "fixes it for any deployment",
        "idempotent by definition",
        "which proves nothing was charged",
        "CPython caches every int, so they always agree",
        "Only GET is idempotent",
        "it can't be subclassed",
    ]:
        assert bank_rules.ABSOLUTE.search(cue), cue
    for term in ["keyword-only parameters", "a str or None", "Any switches checking off"]:
        assert not bank_rules.ABSOLUTE.search(term), term


TWIN_CODE = """\
people = [("bob", 25), ("amy", 30), ("cat", 25), ("dan", 30)]
ranked = sorted(people, key=lambda p: p[1], reverse=True)
print([name for name, age in ranked])
"""
TWIN_RENAMED = """\
staff = [("eve", 41), ("fay", 19), ("gus", 41), ("hal", 19)]
by_age = sorted(staff, key=lambda s: s[1], reverse=True)
print([who for who, _ in by_age])
"""


def twin(qid: str, question: str, key: str, code: str | None = None) -> Question:
    return Question(
        id=qid,
        topic="T",
        question=question,
        answer="...",
        choices=(key, "something else", "a third thing"),
        correct=0,
        code=code,
    )


def test_near_twin_check_finds_renamed_code_and_reworded_questions() -> None:
    code_pair = [
        twin("a", "What does this code print?", "x", TWIN_CODE),
        twin("b", "Sorted by age, reversed. What does this code print?", "y", TWIN_RENAMED),
    ]
    assert [(a, b) for a, b, _ in near_twins(code_pair)] == [("a", "b")]
    text_pair = [
        twin("c", "What does the GIL stop in CPython?", "Two threads running bytecode at once"),
        twin("d", "In CPython, what does the GIL stop?", "Two threads running bytecode at once"),
    ]
    assert [(a, b) for a, b, _ in near_twins(text_pair)] == [("c", "d")]
    apart = [
        twin("e", "What does this code print?", "True", "print(1 < 2)"),
        twin("f", "What does this code print?", "True", "print(len({1: 2}) == 1 and 'x' in 'xy')"),
        twin("g", "What does the GIL stop in CPython?", "Two threads running bytecode at once"),
        twin("h", "Why does asyncio need an event loop?", "To run coroutines cooperatively"),
    ]
    assert near_twins(apart) == []


# The round-two pairs as they were (the sort pair is TWIN_CODE above): the check must see them.
OLD_IS_CORE = """\
DEFAULT_PORT = 8080


def is_default(port: int) -> bool:
    return port is DEFAULT_PORT


is_default(8080)          # True in a quick test
is_default(int("8080"))   # False on CPython
"""
OLD_IS_INT = """\
DEFAULT_PORT = 8080


def is_default(port: int) -> bool:
    return port is DEFAULT_PORT


is_default(int("8080"))
"""
OLD_UNBOUND = """\
count = {start}


def bump():
    try:
        count += 1
    except {caught} as e:
        return type(e).__name__
    return count


print(bump(), count)
"""


def test_near_twin_check_finds_the_round_two_pairs() -> None:
    pairs = [
        (OLD_IS_CORE, OLD_IS_INT),
        (
            OLD_UNBOUND.format(start=10, caught="Exception"),
            OLD_UNBOUND.format(start=0, caught="NameError"),
        ),
    ]
    for one, other in pairs:
        found = near_twins(
            [
                twin("a", "What is wrong with it?", "x", one),
                twin("b", "What does this code print?", "y", other),
            ]
        )
        assert [(a, b) for a, b, _ in found] == [("a", "b")]


def test_shipped_bank_has_no_near_twins(bank: QuestionBank) -> None:
    assert bank_rules.measure(bank).near_twins == []


def test_the_three_round_two_pairs_now_teach_different_things(bank: QuestionBank) -> None:
    qs = bank.questions
    assert "int-unboundlocal-output" not in qs  # became int-class-body-scope
    pairs = [
        ("algo-sort-stability", "ds-sort-stability-output"),
        ("fn-unboundlocal", "int-class-body-scope"),
        ("core-is-vs-eq", "int-is-with-ints"),
    ]
    for a, b in pairs:
        assert qs[a].code != qs[b].code
        assert qs[a].choices[qs[a].correct or 0] != qs[b].choices[qs[b].correct or 0]
        assert near_twins([qs[a], qs[b]]) == []


def test_related_entries_are_never_next_to_each_other_in_the_channel_queue(
    bank: QuestionBank,
) -> None:
    related = bank.related
    # The rule has something to do: same-fact entries exist (sort stability, gc, lru_cache, ...).
    assert "ds-sort-stability-output" in related["algo-sort-stability"]
    assert len(related) >= 40
    for cycle in range(1, 6):
        order = schedule.cycle_queue(bank.questions, set(), "seed", cycle, related)
        assert sorted(order) == sorted(bank.questions)
        together = [(a, b) for a, b in itertools.pairwise(order) if b in related.get(a, ())]
        assert together == [], together


def test_bank_covers_what_313_and_314_changed(bank: QuestionBank) -> None:
    """Issue #26: at least 25 entries on 3.13-3.14, and each change interviews ask about."""
    recent = [q for q in bank.questions.values() if {"Python 3.13", "Python 3.14"} & set(q.tags)]
    assert len(recent) >= 25, len(recent)
    text = "\n".join(answer_of(bank, q.id) for q in bank.questions.values())
    for subject in [
        "sys._is_gil_enabled()",
        "annotationlib",
        "PEP 750",
        "concurrent.interpreters",
        "PEP 765",
        "new REPL",
        "uuid7",
        "compression.zstd",
        "3.14.5",  # the incremental GC and its revert
        "copy-and-patch",
    ]:
        assert subject in text, subject
