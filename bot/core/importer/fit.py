"""A post's parts cut to a bank entry's limits (contract §3), noting each cut for the report."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.bank import MAX_CODE, MAX_CODE_LINES, MAX_QUESTION, MAX_TAG, MAX_TAGS
from bot.core.importer.patterns import FENCE_OPEN
from bot.core.models import hashtag

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")


@dataclass(frozen=True, slots=True)
class Draft:
    """What a question post says, before ids and de-duplication."""

    question: str
    answer: str
    tags: tuple[str, ...] = ()
    code: str | None = None
    notes: tuple[str, ...] = ()  # what was shortened, said to the user


@dataclass(frozen=True, slots=True)
class Cut:
    """A text shortened to a limit: what is kept, what was dropped, and how it was cut."""

    kept: str
    before: str = ""  # dropped from the start
    after: str = ""  # dropped from the end
    how: str = "at a sentence boundary"


def cut_question(text: str, limit: int = MAX_QUESTION) -> Cut:
    """Cut ``text`` to at most ``limit`` characters at a sentence boundary.

    Keeps the leading sentences that fit; when those hold no question mark, keeps the run of
    sentences ending with the last question instead (the question usually comes last). A
    first sentence too long on its own is cut at a word, with "…" ("mid-sentence"). What is
    dropped is returned too: the caller keeps it (the context a question refers to).
    """
    if len(text) <= limit:
        return Cut(text)
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    first, last = 0, -1
    for i in range(len(sentences)):
        if len(" ".join(sentences[: i + 1])) > limit:
            break
        last = i
    if "?" not in " ".join(sentences[: last + 1]):
        asks = [i for i, s in enumerate(sentences) if "?" in s]
        if asks and len(sentences[asks[-1]]) <= limit:
            first = last = asks[-1]
            while first > 0 and len(" ".join(sentences[first - 1 : last + 1])) <= limit:
                first -= 1
    if last >= first:
        return Cut(
            " ".join(sentences[first : last + 1]),
            before=" ".join(sentences[:first]),
            after=" ".join(sentences[last + 1 :]),
        )
    head = text[: limit - 1]
    cut = head.rfind(" ")
    if cut <= limit // 2:
        cut = len(head)
    return Cut(
        head[:cut].rstrip(" ,;:") + "…",
        after="…" + text[cut:].lstrip(),
        how="mid-sentence, at a word (its first sentence alone is too long)",
    )


def shorten(text: str, limit: int = MAX_QUESTION) -> str:
    """What ``cut_question`` keeps."""
    return cut_question(text, limit).kept


# An answer has no length limit in contract §3, but a bank entry is shown in a message:
# §4 cuts a long answer in the channel post, and ``/start a_<id>`` sends the full one (a 1 MB
# answer took 257 messages). A real channel post holds at most 4096 characters, so no
# imported post is ever cut; only a text file run together (no separators) is.
MAX_ANSWER = 4096
_CLOSE_FENCE = "\n```"


def cut_answer(answer: str, limit: int = MAX_ANSWER) -> Cut:
    """Cut the answer markup to at most ``limit`` characters at a sentence boundary (or the
    end of a line or code block), else mid-sentence at a word with "…"; a ``` fence cut
    through is closed. ``how`` says which it was, for the report.

    A boundary that keeps less than half of ``limit`` is not taken (cutting mid-sentence
    keeps more).
    """
    if len(answer) <= limit:
        return Cut(answer)
    floor = limit // 2
    best: tuple[int, bool] | None = None  # (where, inside a fence?)
    in_fence = False
    pos = 0
    for line in answer.split("\n"):
        end = pos + len(line)
        if not in_fence:  # sentence ends inside a line of prose
            stop = min(end, limit + 1)
            best = next(
                (
                    (m.start(), False)
                    for m in reversed(list(_SENTENCE_END.finditer(answer, pos, stop)))
                    if m.start() >= floor
                ),
                best,
            )
        if end > limit:
            break
        closing = in_fence and line.strip() == "```"
        opening = not in_fence and FENCE_OPEN.match(line) is not None
        inside = in_fence and not closing
        if end >= floor and not opening and end + (len(_CLOSE_FENCE) if inside else 0) <= limit:
            best = (end, inside)
        in_fence = (in_fence and not closing) or opening
        pos = end + 1
    if best is not None:
        end, inside = best
        kept = answer[:end].rstrip()
        if inside:
            how = "inside a code block, at a line break (the block is closed)"
            kept += _CLOSE_FENCE
        elif kept.endswith("```"):
            how = "after a code block"
        elif re.search(r"[.!?…][\"')\]]*$", kept):
            how = "at a sentence boundary"
        else:
            how = "at a line break"
        return Cut(kept, after=answer[end:].strip(), how=how)
    head = answer[: limit - 1 - len(_CLOSE_FENCE)]
    cut = head.rfind(" ")
    if cut <= floor:
        cut = len(head)
    kept = head[:cut].rstrip() + "…"
    if _open_fence(kept):
        kept += _CLOSE_FENCE
    how = "mid-sentence, at a word (no sentence or line boundary in reach)"
    return Cut(kept, after=answer[cut:].strip(), how=how)


def _open_fence(text: str) -> bool:
    in_fence = False
    for line in text.split("\n"):
        if in_fence:
            in_fence = line.strip() != "```"
        elif FENCE_OPEN.match(line):
            in_fence = True
    return in_fence


def cut_code(code: str) -> Cut:
    """The code under a question, cut to §3's limits at a line (the first lines that fit)."""
    lines = code.split("\n")
    kept: list[str] = []
    size = 0
    for line in lines[:MAX_CODE_LINES]:
        size += len(line) + (1 if kept else 0)
        if size > MAX_CODE:
            break
        kept.append(line)
    if kept:
        return Cut("\n".join(kept).rstrip(), after="\n".join(lines[len(kept) :]), how="")
    return Cut(code[:MAX_CODE], after=code[MAX_CODE:], how="mid-line")


def _tags(found: Iterable[str], notes: list[str]) -> tuple[str, ...]:
    tags: list[str] = []
    seen: set[str] = set()
    for raw in found:
        tag = raw
        if len(tag) > MAX_TAG:
            notes.append(f"the tag #{raw} was cut to {MAX_TAG} characters")
            tag = tag[:MAX_TAG]
        key = hashtag(tag).lower()
        if not any(ch.isalpha() for ch in key) or key in seen:
            continue
        seen.add(key)
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        notes.append(f"kept the first {MAX_TAGS} of its {len(tags)} tags")
        tags = tags[:MAX_TAGS]
    return tuple(tags)


def fit(question: str, answer: str, code: str | None, found_tags: Iterable[str]) -> Draft:
    """The parts of a question post, each cut to §3's limits; ``notes`` says what was cut."""
    notes: list[str] = []

    if code is not None and (len(code) > MAX_CODE or code.count("\n") >= MAX_CODE_LINES):
        cut = cut_code(code)
        n_lines = code.count("\n") + 1
        kept_lines = cut.kept.count("\n") + 1
        notes.append(
            f"the code under its question had {n_lines} lines and {len(code)} characters "
            f"(a bank entry allows {MAX_CODE_LINES} and {MAX_CODE}); kept its first "
            + (f"{kept_lines} lines" if not cut.how else f"{MAX_CODE} characters, cut mid-line")
        )
        code = cut.kept
    if len(question) > MAX_QUESTION:
        cut = cut_question(question)
        note = (
            f"the question had {len(question)} characters; shortened to {len(cut.kept)} {cut.how}"
        )
        moved = [p for p in (cut.before, cut.after) if p]
        if moved:
            # The kept sentences may refer to what went ("the limiter must survive ..."
            # without the API it limits): it opens the answer instead of being lost.
            answer = "\n\n".join([*moved, answer])
            parts = [f"its first {len(cut.before)} characters"] if cut.before else []
            parts += [f"its last {len(cut.after)} characters"] if cut.after else []
            note += f"; {' and '.join(parts)} moved to the top of the answer"
        notes.append(note)
        question = cut.kept
    if len(answer) > MAX_ANSWER:
        cut = cut_answer(answer)
        notes.append(
            f"the answer had {len(answer)} characters; shortened to {len(cut.kept)} {cut.how}"
        )
        answer = cut.kept
    tags = _tags(found_tags, notes)
    return Draft(question, answer, tags, code, tuple(notes))
