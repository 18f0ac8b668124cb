"""Which bank entries drill the same fact, so nobody is served two of them in a row.

Computed from the entries themselves rather than declared in YAML (contract §3 has no key for
it, and a computed measure cannot go stale when an entry is edited):

- near-twins (``near_twins``, the authors' check): nearly the same snippet once names and
  literals are normalised away, or, for entries not judged by their code, the same key with
  nearly the same question. Pairwise, so it is for the tests, not for every /reload. The
  shipped bank has none (its tests say so); a bank loaded from elsewhere may.
- related (``related_ids``, what the bot uses): exact twins under that normalisation, plus
  entries that share two or more rare tags, or a tag only the two of them carry (a tag few
  entries carry, such as ``Stability`` or ``Timeouts``, names a fact; ``Python`` names
  nothing). A false match costs little: it only keeps two entries apart.
"""

from __future__ import annotations

import io
import itertools
import keyword
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set

from bot.core.models import Question

CODE_TWIN = 0.7  # Jaccard of code shingles; measured: twins 0.8-1.0, the next pair 0.55
QUESTION_TWIN = 0.6  # Jaccard of question word pairs, when the keys match too
KEY_TWIN = 0.8  # Jaccard of key words
RARE_TAG = 6  # a tag on at most this many entries is specific enough to name a fact
SHARED_RARE_TAGS = 2
PAIR_TAG = 2  # a tag on exactly two entries ties them by itself

_WORD = re.compile(r"[a-z0-9_]+")


def code_tokens(code: str) -> list[str]:
    """The snippet's tokens with every name and literal replaced: its shape, not its spelling."""
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.NAME:
                out.append(tok.string if keyword.iskeyword(tok.string) else "N")
            elif tok.type in (tokenize.NUMBER, tokenize.STRING):
                out.append("L")
            elif tok.type == tokenize.OP:
                out.append(tok.string)
    except (tokenize.TokenError, SyntaxError):  # not Python (a TOML snippet): plain words
        out = re.findall(r"\w+|[^\w\s]", code)
    return out


def _shingles(items: Sequence[str], k: int) -> frozenset[tuple[str, ...]]:
    if len(items) <= k:
        return frozenset({tuple(items)})
    return frozenset(tuple(items[i : i + k]) for i in range(len(items) - k + 1))


def _jaccard(a: Set[object], b: Set[object]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _key(q: Question) -> str:
    return q.choices[q.correct] if q.quizzable and q.correct is not None else q.answer[:200]


def near_twins(questions: Iterable[Question]) -> list[tuple[str, str, str]]:
    """Pairs of entries that drill the same fact in the same way: (id, id, why)."""
    qs = list(questions)
    code = {q.id: _shingles(code_tokens(q.code), 4) for q in qs if q.code}
    asked = {q.id: _shingles(_words(q.question), 2) for q in qs}
    keys = {q.id: frozenset(_words(_key(q))) for q in qs}
    out: list[tuple[str, str, str]] = []
    for a, b in itertools.combinations(qs, 2):
        if a.id in code and b.id in code:
            # Both are judged by their snippets ("what does this print?" reads the same
            # everywhere): the code decides.
            score = _jaccard(code[a.id], code[b.id])
            if score >= CODE_TWIN:
                out.append((a.id, b.id, f"same code after normalising ({score:.2f})"))
            continue
        if (
            _jaccard(keys[a.id], keys[b.id]) >= KEY_TWIN
            and _jaccard(asked[a.id], asked[b.id]) >= QUESTION_TWIN
        ):
            out.append((a.id, b.id, "same key to nearly the same question"))
    return out


def _fingerprint(q: Question) -> str:
    """Equal for entries that are the same drill under other names: the snippet's shape, or
    (without code) the question's and the key's words."""
    if q.code:
        return "code:" + " ".join(code_tokens(q.code))
    return "text:" + " ".join(_words(q.question)) + "|" + " ".join(_words(_key(q)))


def related_ids(questions: Iterable[Question]) -> dict[str, frozenset[str]]:
    """For each entry that has any, the entries it should not be served next to.

    Linear in the bank's size (the bot computes it for every bank it loads, which may hold
    thousands of entries): exact twins by fingerprint, and rare tags through an index of
    tag -> carriers. The fuzzy ``near_twins`` is the authors' check, run by the tests.
    """
    qs = list(questions)
    carriers: dict[str, list[str]] = {}
    for q in qs:
        for tag in {t.lower() for t in q.tags}:
            carriers.setdefault(tag, []).append(q.id)
    shared: Counter[tuple[str, str]] = Counter()
    paired: set[tuple[str, str]] = set()
    for ids in carriers.values():
        if len(ids) > RARE_TAG:
            continue
        for pair in itertools.combinations(sorted(ids), 2):
            shared[pair] += 1
            if len(ids) == PAIR_TAG:
                paired.add(pair)
    twins: dict[str, list[str]] = {}
    for q in qs:
        twins.setdefault(_fingerprint(q), []).append(q.id)
    links: dict[str, set[str]] = {}

    def link(a: str, b: str) -> None:
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)

    for ids in twins.values():
        for one, other in itertools.combinations(ids, 2):
            link(one, other)
    for (one, other), n in shared.items():
        if n >= SHARED_RARE_TAGS or (one, other) in paired:
            link(one, other)
    return {qid: frozenset(others) for qid, others in links.items()}


def spread(
    ids: Iterable[str], related: Mapping[str, Set[str]], limit: int | None = None
) -> list[str]:
    """``ids`` in the same order, except that an entry related to the one just placed waits
    for the first unrelated one (the first ``limit`` of them). Deterministic, and a no-op when
    nothing is related.

    One pass: the entries that had to wait are kept apart and tried first at each step, so a
    bank of thousands costs no more than its few related neighbours.
    """
    rest = iter(ids)
    waiting: list[str] = []
    out: list[str] = []
    while limit is None or len(out) < limit:
        near = related.get(out[-1], frozenset()) if out else frozenset()
        pick = next((i for i, qid in enumerate(waiting) if qid not in near), None)
        if pick is not None:
            out.append(waiting.pop(pick))
            continue
        for qid in rest:
            if qid not in near:
                out.append(qid)
                break
            waiting.append(qid)
        else:  # nothing unrelated is left: the oldest waiting entry goes next
            if not waiting:
                break
            out.append(waiting.pop(0))
    return out
