"""One post -> what it says: its question, its answer (in the bank's markup), code and tags.

Where the question starts and ends, where the answer ends (tags, separator, signature) and
which paragraphs are our own posts' extras are heuristics over the post's lines
(``patterns``); what is too long for a bank entry is then cut by ``fit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.importer.fit import Draft, fit
from bot.core.importer.formats import Post
from bot.core.importer.patterns import (
    ANSWER_AT_START,
    ANSWER_GLUED,
    FENCE_OPEN,
    HASHTAG_LINE,
    HEADER,
    SEPARATOR,
    SIGNATURE,
    TAGS,
    is_junk,
)

_HASHTAG = re.compile(r"#(\w+)")
_QUESTION_PREFIX = re.compile(r"^(?:q|question)[ \t]*\d*[ \t]*[:.)-][ \t]*", re.IGNORECASE)
_NUMBERING = re.compile(r"^(?:#{1,6}[ \t]+)?(?:\d{1,3}[.)][ \t]+)?")  # "### 2. What is ...?"
_TALLY = re.compile(r"^🧠 \d+ answered · \d+% right$")
_CHOICE = re.compile(r"^([A-F])\) ")
_LANG = re.compile(r"^[A-Za-z0-9_+#.-]+$")

# fmt: off
_QUESTION_WORDS = frozenset((
    "what", "whats", "what's", "why", "how", "hows", "how's", "when", "where", "which", "who",
    "whom", "whose", "is", "are", "was", "were", "can", "could", "does", "do", "did", "should",
    "would", "will", "shall", "explain", "describe", "define", "compare", "name", "list",
    "write", "implement", "tell", "give", "show", "find", "difference", "differences",
    "discuss", "outline", "predict", "identify", "state", "mention", "suppose", "consider",
    "given",
))
# fmt: on


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    named: bool  # True: it looked like a question, so the report names it and says why
    kind: str = "not a question"


@dataclass(slots=True)
class _Line:
    start: int
    end: int
    text: str
    in_code: bool


def _lines(post: Post) -> list[_Line]:
    out: list[_Line] = []
    pos = 0
    for raw in post.text.split("\n"):
        end = pos + len(raw)
        in_code = any(s.kind == "pre" and s.start <= pos and end <= s.end for s in post.spans)
        out.append(_Line(pos, end, raw, in_code and bool(raw.strip())))
        pos = end + 1
    return out


def _markup(post: Post, start: int, end: int) -> str:
    """``text[start:end]`` in the bank's answer markup: `code`, ``` fences, the rest plain."""
    out: list[str] = []
    pos = start
    after_block = False

    def text(piece: str) -> None:
        nonlocal after_block
        if after_block and piece and not piece.startswith("\n"):
            piece = "\n" + piece
        if piece:
            after_block = False
        out.append(piece)

    for span in post.spans:
        if span.end <= start or span.start >= end:
            continue
        s, e = max(span.start, start), min(span.end, end)
        text(post.text[pos:s])
        body = post.text[s:e]
        if not body.strip():
            text(body)
        elif span.kind == "code" and "\n" not in body and "`" not in body:
            text(f"`{body}`")
        else:
            so_far = "".join(out)
            lead = "" if not so_far or so_far.endswith("\n") else "\n"
            lang = span.lang if _LANG.match(span.lang) else ""
            out.append(f"{lead}```{lang}\n{body.strip(chr(10)).rstrip()}\n```")
            after_block = True
        pos = e
    text(post.text[pos:end])
    return "".join(out)


def _tidy_answer(answer: str) -> str:
    """Trim lines, keep one blank line between paragraphs (code blocks as they are)."""
    lines: list[str] = []
    in_fence = False
    for raw in answer.strip("\n").lstrip().split("\n"):
        line = raw.rstrip()
        if in_fence:
            in_fence = line.strip() != "```"
        elif FENCE_OPEN.match(line):
            in_fence = True
        elif not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    paragraphs = "\n".join(lines).split("\n\n")
    # Our own posts list long choices and a tally between the answer and the tags.
    while len(paragraphs) > 1 and _extra_paragraph(paragraphs[-1]):
        paragraphs.pop()
    return "\n\n".join(paragraphs)


def _extra_paragraph(paragraph: str) -> bool:
    lines = paragraph.split("\n")
    if len(lines) == 1 and _TALLY.match(lines[0]):
        return True
    letters = [m.group(1) if (m := _CHOICE.match(line)) else "" for line in lines]
    return len(lines) >= 2 and "".join(letters) == "ABCDEF"[: len(lines)]


def _looks_like_question(text: str) -> bool:
    if "?" in text:
        return True
    words = re.sub(r"^[\d\W_]+", "", text).split(maxsplit=1)
    return bool(words) and words[0].lower().strip(".,:;!") in _QUESTION_WORDS


def parse_post(post: Post) -> Draft | Skip:
    """The question, answer, tags (and code under the question) of one post, or why not."""
    lines = [line for line in _lines(post) if not line.in_code]
    body = [line for line in lines if line.text.strip()]
    if not body:
        return Skip("it has no text", named=False, kind="no text")
    header: _Line | None = None
    for line in body:  # the header line comes before the answer, if anywhere
        if ANSWER_AT_START.match(line.text) or ANSWER_GLUED.search(line.text):
            break
        if HEADER.match(line.text.strip()):
            header = line
            break
    q_start = header.end if header is not None else body[0].start
    q_end = a_start = -1
    for line in lines:
        if line.start < q_start:
            continue
        if m := ANSWER_AT_START.match(line.text):
            q_end, a_start = line.start, line.start + m.end()
            break
        if m := ANSWER_GLUED.search(line.text):
            q_end, a_start = line.start + m.start(), line.start + m.end()
            break
    if a_start < 0:
        if header is not None:
            return Skip('it has no "Answer:"', named=True, kind="unreadable")
        return Skip("not an interview question", named=False)

    found_tags: list[str] = []
    question_lines: list[str] = []
    code_parts = [
        post.text[max(s.start, q_start) : min(s.end, q_end)].strip("\n").rstrip()
        for s in post.spans
        if s.kind == "pre" and s.end > q_start and s.start < q_end
    ]
    for line in lines:
        if line.end <= q_start or line.start >= q_end:
            continue
        piece = post.text[max(line.start, q_start) : min(line.end, q_end)]
        if HASHTAG_LINE.match(piece):
            found_tags += _HASHTAG.findall(piece)
        else:
            question_lines.append(piece)
    if header is None:
        # Without a header, whatever came before the question in the same message (a
        # greeting, a title, notes) is not part of it: start at its last question paragraph.
        paragraphs = [p for p in "\n".join(question_lines).split("\n\n") if p.strip()]
        asks = [i for i, p in enumerate(paragraphs) if _looks_like_question(p)]
        question_lines = paragraphs[asks[-1] :] if asks else paragraphs
    question = " ".join(" ".join(question_lines).split())
    question = _QUESTION_PREFIX.sub("", _NUMBERING.sub("", question))
    if not question:
        return Skip('there is no question before "Answer:"', named=True, kind="unreadable")
    if header is None and not _looks_like_question(question):
        return Skip('the text before "Answer:" is not a question', named=True, kind="unreadable")

    a_end = len(post.text)
    tail_end = len(post.text)
    for line in lines:
        if line.end <= a_start:
            continue
        lo = max(line.start, a_start)
        piece = post.text[lo : line.end]
        if a_end == len(post.text):
            m = TAGS.search(piece)
            if m is not None:
                a_end = lo + m.start()
            elif HASHTAG_LINE.match(piece) or is_junk(piece):
                a_end = lo
        if SEPARATOR.match(piece) or SIGNATURE.match(piece) or is_junk(piece):
            a_end = min(a_end, lo)
            tail_end = lo
            break
    found_tags += _HASHTAG.findall(post.text[a_end:tail_end])
    answer = _tidy_answer(_markup(post, a_start, a_end))
    if not answer.strip():
        return Skip('the answer after "Answer:" is empty', named=True, kind="unreadable")

    code = "\n\n".join(c for c in code_parts if c.strip()) or None
    return fit(question, answer, code, found_tags)
