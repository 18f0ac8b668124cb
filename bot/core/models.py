"""Plain data shared by the bank, the rules and the renderer (no Telegram, no SQLite)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

DIFFICULTIES = ("easy", "medium", "hard")


def hashtag(tag: str) -> str:
    """``C++`` -> ``C``: keep letters (any script), digits and ``_`` (contract §3)."""
    return "".join(ch for ch in tag if ch.isalnum() or ch == "_")


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    topic: str
    question: str
    answer: str
    choices: tuple[str, ...] = ()
    correct: int | None = None
    explanation: str | None = None
    tags: tuple[str, ...] = ()
    difficulty: str = "medium"
    code: str | None = None  # Python source shown under the question (contract §3)
    source: str = ""  # file:line, for messages to admins
    # A short fingerprint of the choices and the key, stored with every asking: a press is
    # graded only while the bank still has the same choices, so after an edit that reorders
    # or rewrites them an old button cannot be graded against the new key. Computed once
    # here, since every press compares it.
    choices_sig: str = field(init=False, default="")
    # Whether it can be asked with buttons: choices and a key. A field, not a property, for
    # the same reason: the door reads it on every press.
    quizzable: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        raw = "\x1f".join((*self.choices, str(self.correct)))
        sig = hashlib.blake2s(raw.encode(), digest_size=6).hexdigest()
        object.__setattr__(self, "choices_sig", sig)
        object.__setattr__(self, "quizzable", bool(self.choices) and self.correct is not None)

    @property
    def hashtags(self) -> tuple[str, ...]:
        """Tags as hashtags, de-duplicated case-insensitively, in order."""
        seen: set[str] = set()
        out: list[str] = []
        for tag in self.tags:
            text = hashtag(tag)
            if text and text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
        return tuple(out)


@dataclass(frozen=True)
class QuestionBank:
    questions: dict[str, Question] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.questions)

    def __contains__(self, qid: object) -> bool:
        return qid in self.questions

    def get(self, qid: str) -> Question | None:
        return self.questions.get(qid)

    @cached_property
    def related(self) -> dict[str, frozenset[str]]:
        """Entries not to serve next to each other (``core.related``), computed on first use."""
        from bot.core.related import related_ids  # noqa: PLC0415 - it imports this module

        return related_ids(self.questions.values())

    @property
    def topics(self) -> list[str]:
        """Topic names in the order their files were read."""
        return list(dict.fromkeys(q.topic for q in self.questions.values()))

    def in_topic(self, topic: str | None) -> list[Question]:
        return [q for q in self.questions.values() if topic is None or q.topic == topic]

    def match_topic(self, text: str) -> list[str]:
        """Topics named by ``text``: an exact name (any case), else those it is a prefix of.

        Words are matched too, so ``async`` finds ``Async and Event Loops`` and ``oop`` finds
        ``Object-Oriented Python`` through its initials.
        """
        needle = text.strip().lower()
        if not needle:
            return []
        topics = self.topics
        exact = [t for t in topics if t.lower() == needle]
        if exact:
            return exact
        prefix = [t for t in topics if t.lower().startswith(needle)]
        if prefix:
            return prefix
        words = [t for t in topics if any(w.startswith(needle) for w in _words(t))]
        if words:
            return words
        return [t for t in topics if _initials(t) == needle]


def _words(topic: str) -> list[str]:
    return [w for w in topic.lower().replace("-", " ").split() if w]


def _initials(topic: str) -> str:
    return "".join(w[0] for w in _words(topic) if w not in {"and", "of", "the"})
