"""The shipped bank's own standards (stricter than contract §3), as plain functions.

The content tests apply them to ``content/``; an author can run ``python -m tests.bank_rules``
to see every measure at once while writing entries.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bot.core.bank import load_bank
from bot.core.models import Question, QuestionBank
from bot.core.related import near_twins

CONTENT = Path(__file__).resolve().parent.parent / "content"

MIN_ENTRIES = 300
MIN_PER_TOPIC = 15
MIN_WITH_CODE = 60

# Test-wise readers pick against absolute words ("always", "any", "by definition", "proves")
# in a choice; the bank must not reward that. Measured over prose choices only: an output
# question's choices are what the program prints, where "None" is a value, not a claim.
# "keyword-only" is a term, not a claim; "None" and "Any" are Python names, so those two words
# count in lower case only.
ABSOLUTE = re.compile(
    r"(?<![-\w])(?:(?i:always|never|only|every|all|cannot|can't|must|by definition|proves?|"
    r"guarantee[sd]?|impossible|entirely|completely)|none|any)(?![-\w])"
)
# Round three found 0.11 (keys) against 0.07 (wrong choices) with the old word list, and 11
# wrong choices against 1 key in the 162 round-two entries; after it, 0.031 and 0.037.
MAX_ABSOLUTE_GAP = 0.03  # whole bank, |rate in wrong choices - rate in keys|
MAX_ABSOLUTE_GAP_TOPIC = 0.12  # any one topic file: a cluster of cues can't hide in the mean
MAX_ABSOLUTE_RATE = 0.08  # in keys or in wrong choices: few absolute words at all
LONGEST_SHARE = (0.20, 0.35)  # right choice strictly the longest, among four-choice entries

# "What does this print?" and its variants: the snippet is run and its output is the key.
OUTPUT_QUESTION = re.compile(r"\b(print|prints|printed|output|outputs)\b", re.IGNORECASE)
RUN_TIMEOUT = 20.0
HASH_SEEDS = ("0", "12345")  # an output that depends on the hash seed is not a fact


def is_output_question(q: Question) -> bool:
    return q.code is not None and bool(OUTPUT_QUESTION.search(q.question))


def run_snippet(code: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    """Run a snippet in a fresh interpreter (isolated mode), as the tests do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = hash_seed
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
        check=False,
    )


def observed_output(code: str) -> list[str]:
    """The snippet's stdout (trailing space stripped), once per hash seed; errors raise."""
    outputs = []
    for seed in HASH_SEEDS:
        done = run_snippet(code, seed)
        if done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
        outputs.append(done.stdout.rstrip())
    return outputs


def output_problem(q: Question) -> str | None:
    """Why an output question's key is not proven by running it, or None when it is."""
    assert q.code is not None and q.correct is not None
    try:
        outputs = observed_output(q.code)
    except AssertionError as exc:
        return f"{q.id}: the snippet failed: {exc}"
    except subprocess.TimeoutExpired:
        return f"{q.id}: the snippet ran over {RUN_TIMEOUT:.0f} s"
    if len(set(outputs)) != 1:
        return f"{q.id}: the output depends on the hash seed: {outputs}"
    out = outputs[0]
    if q.choices[q.correct] != out:
        return f"{q.id}: prints {out!r}, but the key is {q.choices[q.correct]!r}"
    others = [c for i, c in enumerate(q.choices) if i != q.correct and c == out]
    if others:
        return f"{q.id}: a wrong choice equals the output too"
    return None


@dataclass(frozen=True)
class Measures:
    entries: int
    per_topic: dict[str, int]
    with_code: int
    output_questions: int
    absolute_right: float
    absolute_wrong: float
    absolute_gap_by_topic: dict[str, float]
    longest_share: float
    positions: dict[int, int]
    near_twins: list[tuple[str, str, str]]
    related: int  # entries that have a related entry the queue and quizzes keep apart


def absolute_hits(q: Question) -> tuple[list[int], list[int]]:
    """(choices counted, those with an absolute word); none for output questions."""
    if not q.quizzable or is_output_question(q):
        return [], []
    counted = list(range(len(q.choices)))
    return counted, [i for i in counted if ABSOLUTE.search(q.choices[i])]


def absolute_rates(questions: list[Question]) -> tuple[float, float]:
    """(share of keys, share of wrong choices) that carry an absolute word."""
    right = wrong = n_right = n_wrong = 0
    for q in questions:
        counted, hits = absolute_hits(q)
        for i in counted:
            if i == q.correct:
                n_right += 1
                right += i in hits
            else:
                n_wrong += 1
                wrong += i in hits
    return right / max(n_right, 1), wrong / max(n_wrong, 1)


def measure(bank: QuestionBank) -> Measures:
    longest = four = 0
    positions: Counter[int] = Counter()
    for q in bank.questions.values():
        if not q.quizzable or q.correct is None:
            continue
        positions[q.correct] += 1
        if len(q.choices) == 4:
            four += 1
            right = len(q.choices[q.correct])
            if all(right > len(c) for i, c in enumerate(q.choices) if i != q.correct):
                longest += 1
    right_abs, wrong_abs = absolute_rates(list(bank.questions.values()))
    gaps: dict[str, float] = {}
    for topic in bank.topics:
        in_keys, in_wrong = absolute_rates(bank.in_topic(topic))
        gaps[topic] = abs(in_wrong - in_keys)
    return Measures(
        entries=len(bank),
        per_topic=dict(Counter(q.topic for q in bank.questions.values())),
        with_code=sum(q.code is not None for q in bank.questions.values()),
        output_questions=sum(is_output_question(q) for q in bank.questions.values()),
        absolute_right=right_abs,
        absolute_wrong=wrong_abs,
        absolute_gap_by_topic=gaps,
        longest_share=longest / max(four, 1),
        positions=dict(sorted(positions.items())),
        near_twins=near_twins(bank.questions.values()),
        related=len(bank.related),
    )


def main() -> None:
    bank = load_bank(Path(sys.argv[1]) if len(sys.argv) > 1 else CONTENT)
    m = measure(bank)
    print(f"entries {m.entries} (>= {MIN_ENTRIES}); with code {m.with_code} (>= {MIN_WITH_CODE})")
    for topic, n in sorted(m.per_topic.items()):
        flag = "" if n >= MIN_PER_TOPIC else f"   <-- below {MIN_PER_TOPIC}"
        print(f"  {n:4d}  {topic}{flag}")
    print(
        f"absolute words: right {m.absolute_right:.3f}, wrong {m.absolute_wrong:.3f}, "
        f"cue gap {abs(m.absolute_wrong - m.absolute_right):.3f} (at most {MAX_ABSOLUTE_GAP}; "
        f"each rate at most {MAX_ABSOLUTE_RATE})"
    )
    worst = max(m.absolute_gap_by_topic.items(), key=lambda kv: kv[1])
    print(
        f"  widest topic cue gap: {worst[1]:.3f} in {worst[0]} (at most {MAX_ABSOLUTE_GAP_TOPIC})"
    )
    print(f"near-twins: {len(m.near_twins)} (want 0)")
    for a, b, why in m.near_twins:
        print(f"  {a} ~ {b}: {why}")
    print(f"entries with a related entry (kept apart in the queue and quizzes): {m.related}")
    print(f"right choice longest: {m.longest_share:.2f} (want {LONGEST_SHARE})")
    print(f"right positions: {m.positions}")
    print(f"output questions: {m.output_questions}; running them ...")
    for q in bank.questions.values():
        if is_output_question(q):
            problem = output_problem(q)
            if problem:
                print("  " + problem)


if __name__ == "__main__":
    main()
