"""Drafts -> new bank entries: ids, de-duplication against the bank and the source, the report."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.core.bank import MAX_ID
from bot.core.importer.fit import Draft
from bot.core.importer.formats import Post, PostKind
from bot.core.importer.parse import Skip, parse_post
from bot.core.models import Question

DEFAULT_TOPIC = "Imported"

# fmt: off
_STOP_WORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "what", "whats", "which", "who",
    "whom", "why", "how", "when", "where", "does", "do", "did", "can", "could", "should",
    "would", "will", "shall", "in", "of", "on", "to", "for", "and", "or", "with", "it", "its",
    "you", "your", "there", "this", "that", "these", "those", "between", "from", "by", "as",
    "at", "into", "about", "than", "vs",
))
# fmt: on


def question_key(text: str) -> str:
    """Questions are the same when they differ only in whitespace and case."""
    return " ".join(text.split()).casefold()


def _digest(text: str, size: int) -> str:
    return hashlib.blake2s(question_key(text).encode(), digest_size=size).hexdigest()


def slug(question: str, limit: int = MAX_ID) -> str:
    """``What is a deep copy?`` -> ``deep-copy``: ASCII words, common words dropped."""
    ascii_text = unicodedata.normalize("NFKD", question).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    kept = [w for w in words if w not in _STOP_WORDS] or words
    out = ""
    for word in kept:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    if not out and kept:
        out = kept[0][:limit]
    return out


def derive_id(question: str, taken: Iterable[str] = ()) -> str:
    """A stable id for ``question`` within §3; a short hash of the text keeps it unique."""
    used = set(taken)
    base = slug(question)
    if base and base not in used:
        return base
    tag = _digest(question, 3)
    stem = slug(question, MAX_ID - len(tag) - 1) or "q"
    candidate = f"{stem}-{tag}"
    n = 2
    while candidate in used:
        suffix = f"{tag}-{n}"
        candidate = f"{slug(question, MAX_ID - len(suffix) - 1) or 'q'}-{suffix}"
        n += 1
    return candidate


@dataclass
class Known:
    """What the bank already has: question texts (by ``question_key``) and ids."""

    questions: dict[str, str] = field(default_factory=dict)  # key -> id
    ids: set[str] = field(default_factory=set)

    def add(self, qid: str, question: str) -> None:
        self.ids.add(qid)
        self.questions.setdefault(question_key(question), qid)


_KIND_LABELS = {  # kind -> (one, many)
    "not a question": ("not an interview question", "not interview questions"),
    "no text": ("without text", "without text"),
    "poll": ("poll", "polls"),
    "repost": ("repost", "reposts"),
    "unreadable": ("unreadable", "unreadable"),
    "repeated": ("repeated in the source", "repeated in the source"),
    "in the bank": ("already in the bank", "already in the bank"),
}


@dataclass(frozen=True, slots=True)
class Skipped:
    where: str
    reason: str
    kind: str
    named: bool


@dataclass
class ImportPlan:
    posts: int = 0
    entries: list[Question] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # "message 12: the question had ..."

    def summary(self) -> str:
        """Contract §8: ``N posts read · M imported · K skipped``."""
        return (
            f"{self.posts} posts read · {len(self.entries)} imported · {len(self.skipped)} skipped"
        )

    def report(self) -> list[str]:
        """One line per post the user should look at: unreadable ones, and what was cut."""
        lines = [f"{s.where}: skipped: {s.reason}." for s in self.skipped if s.named]
        return lines + [f"{note}." for note in self.notes]

    def breakdown(self) -> str:
        """``3 already in the bank, 2 not interview questions``: why posts were skipped."""
        counts: dict[str, int] = {}
        for s in self.skipped:
            counts[s.kind] = counts.get(s.kind, 0) + 1
        labels = [(n, _KIND_LABELS.get(kind, (kind, kind))) for kind, n in counts.items()]
        return ", ".join(f"{n} {one if n == 1 else many}" for n, (one, many) in labels)


def entry(draft: Draft, qid: str, topic: str = DEFAULT_TOPIC, source: str = "") -> Question:
    return Question(
        id=qid,
        topic=topic,
        question=draft.question,
        answer=draft.answer,
        tags=draft.tags,
        code=draft.code,
        source=source,
    )


def plan_import(
    posts: Iterable[Post], known: Known | None = None, topic: str = DEFAULT_TOPIC
) -> ImportPlan:
    """Turn posts into new entries: skip what is not a question, what the bank has, repeats."""
    known = known if known is not None else Known()
    plan = ImportPlan()
    first_seen: dict[str, str] = {}
    for post in posts:
        plan.posts += 1
        if post.kind in (PostKind.POLL, PostKind.MEDIA):
            reason = "a poll" if post.kind == PostKind.POLL else "it has no text"
            kind = "poll" if post.kind == PostKind.POLL else "no text"
            plan.skipped.append(Skipped(post.where, reason, kind, named=False))
            continue
        if post.kind == PostKind.UNREADABLE:
            plan.skipped.append(Skipped(post.where, post.note, "unreadable", named=True))
            continue
        parsed = parse_post(post)
        if post.kind == PostKind.REPOST:
            # Contract §8: reposts are not imported; one that holds a question is named.
            origin = f" from {post.note}" if post.note else ""
            named = not isinstance(parsed, Skip)
            plan.skipped.append(Skipped(post.where, f"a repost{origin}", "repost", named))
            continue
        if isinstance(parsed, Skip):
            plan.skipped.append(Skipped(post.where, parsed.reason, parsed.kind, parsed.named))
            continue
        key = question_key(parsed.question)
        if key in first_seen:
            plan.skipped.append(
                Skipped(post.where, f"the same question as {first_seen[key]}", "repeated", True)
            )
            continue
        if key in known.questions:
            plan.skipped.append(
                Skipped(
                    post.where,
                    f"already in the bank as {known.questions[key]}",
                    "in the bank",
                    False,
                )
            )
            continue
        qid = derive_id(parsed.question, known.ids)
        first_seen[key] = post.where
        known.add(qid, parsed.question)
        plan.entries.append(entry(parsed, qid, topic, post.where))
        plan.notes += [f"{post.where}: {note}" for note in parsed.notes]
    return plan
