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

CONTENT = Path(__file__).resolve().parent.parent / "content"

MIN_ENTRIES = 300
MIN_PER_TOPIC = 15
MIN_WITH_CODE = 60

# Test-wise readers pick against absolute words; the bank must not reward that.
ABSOLUTE = re.compile(r"\b(always|never|only|every|all|none|cannot|can't|must)\b", re.IGNORECASE)
MAX_ABSOLUTE_GAP = 0.1
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
    longest_share: float
    positions: dict[int, int]


def measure(bank: QuestionBank) -> Measures:
    right_abs = wrong_abs = n_right = n_wrong = 0
    longest = four = 0
    positions: Counter[int] = Counter()
    for q in bank.questions.values():
        if not q.quizzable or q.correct is None:
            continue
        positions[q.correct] += 1
        for i, choice in enumerate(q.choices):
            hit = bool(ABSOLUTE.search(choice))
            if i == q.correct:
                n_right += 1
                right_abs += hit
            else:
                n_wrong += 1
                wrong_abs += hit
        if len(q.choices) == 4:
            four += 1
            right = len(q.choices[q.correct])
            if all(right > len(c) for i, c in enumerate(q.choices) if i != q.correct):
                longest += 1
    return Measures(
        entries=len(bank),
        per_topic=dict(Counter(q.topic for q in bank.questions.values())),
        with_code=sum(q.code is not None for q in bank.questions.values()),
        output_questions=sum(is_output_question(q) for q in bank.questions.values()),
        absolute_right=right_abs / max(n_right, 1),
        absolute_wrong=wrong_abs / max(n_wrong, 1),
        longest_share=longest / max(four, 1),
        positions=dict(sorted(positions.items())),
    )


def main() -> None:
    bank = load_bank(Path(sys.argv[1]) if len(sys.argv) > 1 else CONTENT)
    m = measure(bank)
    print(f"entries {m.entries} (>= {MIN_ENTRIES}); with code {m.with_code} (>= {MIN_WITH_CODE})")
    for topic, n in sorted(m.per_topic.items()):
        flag = "" if n >= MIN_PER_TOPIC else f"   <-- below {MIN_PER_TOPIC}"
        print(f"  {n:4d}  {topic}{flag}")
    print(
        f"absolute words: right {m.absolute_right:.2f}, wrong {m.absolute_wrong:.2f} "
        f"(gap at most {MAX_ABSOLUTE_GAP})"
    )
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
