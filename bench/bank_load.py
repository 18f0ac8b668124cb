"""How fast the bank loads and validates: python -m bench.bank_load [SIZES...]

Writes synthetic banks (the shipped bank's entries repeated under new ids, in files of 500)
and times ``check_bank`` on each, best of three. Targets: 1,000 questions < 0.5 s,
10,000 < 3 s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from bot.core.bank import _Loader, check_bank, load_bank

ROOT = Path(__file__).resolve().parent.parent


def write_bank(directory: Path, size: int) -> None:
    source = list(load_bank(ROOT / "content").questions.values())
    per_file = 500
    for start in range(0, size, per_file):
        entries = []
        for i in range(start, min(size, start + per_file)):
            q = source[i % len(source)]
            entries.append(
                {
                    "id": f"q-{i}",
                    "question": q.question,
                    "answer": q.answer,
                    "choices": list(q.choices),
                    "correct": q.correct,
                    "explanation": q.explanation,
                    "tags": list(q.tags[-2:]),
                    "difficulty": q.difficulty,
                }
            )
        text = yaml.safe_dump(
            {"topic": f"Topic {start // per_file}", "tags": ["Python"], "questions": entries},
            allow_unicode=True,
            sort_keys=False,
        )
        (directory / f"t{start // per_file:03d}.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    sizes = [int(s) for s in sys.argv[1:]] or [1_000, 10_000]
    print(f"YAML loader: {_Loader.__name__}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_bank(Path(tmp), size)
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                bank, problems = check_bank(Path(tmp))
                best = min(best, time.perf_counter() - t0)
            if problems or len(bank) != size:
                raise SystemExit(f"the synthetic bank is invalid: {problems[:3]}")
            print(f"{size:>6} questions: {best:.3f} s")


if __name__ == "__main__":
    main()
