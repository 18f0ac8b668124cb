"""Channel posts -> bank entries (contract §8): pure parsing, no files, no Telegram, no YAML.

Over ~300 lines on purpose: the three inputs (a Telegram Desktop export, a text file of posts,
a Bot API message) meet in one post parser, and the heuristics that tell a post from the junk
around it only make sense read together.

The export format is Telegram Desktop's (``export/output/export_output_json.cpp``): a chat is
``{"name", "type", "id", "messages": [...]}``, a whole-account export nests chats under
``chats.list`` / ``left_chats.list``. A message has ``id``, ``type`` (``message``, ``service``
or ``unsupported``), ``text`` (a string, or a list of strings and ``{"type", "text"}``
objects) and ``text_entities`` (the same parts, all objects, plain text as ``"plain"``).
Entity types: plain, bold, italic, underline, strikethrough, spoiler, code, pre (with
``language``), text_link (``href``), link, mention, mention_name, hashtag, cashtag,
bot_command, email, phone, bank_card, blockquote (``collapsed``), custom_emoji, unknown.
Parts never overlap: Desktop drops an entity nested in another. Media posts carry their
caption as ``text`` beside ``photo`` / ``file`` + ``media_type``; polls a ``poll`` object;
reposts ``forwarded_from``; edited posts ``edited``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.core.bank import MAX_CODE, MAX_CODE_LINES, MAX_ID, MAX_QUESTION, MAX_TAG, MAX_TAGS
from bot.core.models import Question, hashtag

DEFAULT_TOPIC = "Imported"

# Where a post is split up. Matching is done on plain text, line by line; lines inside a code
# block (a ``pre`` entity) never count, so ``print("Answer: 42")`` in an answer is just code.
_HEADER = re.compile(r"^\W*interview\s+questions?\W*$", re.IGNORECASE)
_ANSWER_AT_START = re.compile(r"^[ \t]*(?:\*\*)?answer[ \t]*:(?:\*\*)?[ \t]*", re.IGNORECASE)
# Copied text sometimes loses the line break before "Answer:" ("...sorted list?Answer:").
_ANSWER_GLUED = re.compile(r"(?<=[?.!)»\"'])[ \t]*answer[ \t]*:[ \t]*", re.IGNORECASE)
_TAGS = re.compile(r"(?:^[ \t]*|(?<=[.!?)\]]))tags?[ \t]*:[ \t]*(?=#\w)", re.IGNORECASE)
_HASHTAG_LINE = re.compile(r"^[ \t]*#\w+(?:[ \t,]+#\w+)*[ \t]*$")
_SEPARATOR = re.compile(r"^[ \t]*[━─═—–_]{5,}[ \t]*$")
# "By: @channel ✨", "Admin: @one || @two"; not "By default, @dataclass ..." in an answer.
_SIGNATURE = re.compile(r"^\W*(?:by|admins?|authors?)[ \t]*:?[ \t]*@\w", re.IGNORECASE)
_JUNK = re.compile(r"^(?:please open telegram to view this post|view in telegram)$", re.I)
_REACTIONS = re.compile(r"^(?:[^\w\s\x00-\x7f]+[ \t]*\d+(?:[.,]\d+)?[KkMm]?[ \t]*)+$")
_HASHTAG = re.compile(r"#(\w+)")
_QUESTION_PREFIX = re.compile(r"^(?:q|question)[ \t]*\d*[ \t]*[:.)-][ \t]*", re.IGNORECASE)
_NUMBERING = re.compile(r"^(?:#{1,6}[ \t]+)?(?:\d{1,3}[.)][ \t]+)?")  # "### 2. What is ...?"
_TALLY = re.compile(r"^🧠 \d+ answered · \d+% right$")
_CHOICE = re.compile(r"^([A-F])\) ")
_LANG = re.compile(r"^[A-Za-z0-9_+#.-]+$")
_FENCE_OPEN = re.compile(r"^\s*```\s*[A-Za-z0-9_+#.-]*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")

# fmt: off
_QUESTION_WORDS = frozenset((
    "what", "whats", "what's", "why", "how", "hows", "how's", "when", "where", "which", "who",
    "whom", "whose", "is", "are", "was", "were", "can", "could", "does", "do", "did", "should",
    "would", "will", "shall", "explain", "describe", "define", "compare", "name", "list",
    "write", "implement", "tell", "give", "show", "find", "difference", "differences",
    "discuss", "outline", "predict", "identify", "state", "mention", "suppose", "consider",
    "given",
))
_STOP_WORDS = frozenset((
    "a", "an", "the", "is", "are", "was", "were", "be", "been", "what", "whats", "which", "who",
    "whom", "why", "how", "when", "where", "does", "do", "did", "can", "could", "should",
    "would", "will", "shall", "in", "of", "on", "to", "for", "and", "or", "with", "it", "its",
    "you", "your", "there", "this", "that", "these", "those", "between", "from", "by", "as",
    "at", "into", "about", "than", "vs",
))
# fmt: on


# ---------------------------------------------------------------- posts


@dataclass(frozen=True, slots=True)
class Span:
    """A code entity over ``text[start:end]``: ``code`` (inline) or ``pre`` (a block)."""

    start: int
    end: int
    kind: str
    lang: str = ""


@dataclass(frozen=True, slots=True)
class Post:
    """One post as Telegram shows it: plain text plus where its code is."""

    where: str  # "message 12" or "line 40", for the report
    text: str
    spans: tuple[Span, ...] = ()
    kind: str = "post"  # post | repost | poll | media (no text) | unreadable
    note: str = ""  # for reposts: where from; for unreadable: why


@dataclass(frozen=True, slots=True)
class Draft:
    """What a question post says, before ids and de-duplication."""

    question: str
    answer: str
    tags: tuple[str, ...] = ()
    code: str | None = None
    notes: tuple[str, ...] = ()  # what was shortened, said to the user


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str
    named: bool  # True: it looked like a question, so the report names it and says why
    kind: str = "not a question"


class NotAnExport(ValueError):
    """JSON that is not a Telegram Desktop export."""


def _clean(text: str) -> str:
    """Line breaks as \\n, no lone surrogates (JSON may carry them), no NULs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def _from_parts(parts: Sequence[tuple[str, str, str]], where: str, kind: str = "post") -> Post:
    """Concatenate export parts into plain text, remembering the code parts."""
    chunks: list[str] = []
    spans: list[Span] = []
    pos = 0
    for ptype, raw, lang in parts:
        text = _clean(raw)
        if ptype in ("code", "pre") and text:
            spans.append(Span(pos, pos + len(text), ptype, lang.strip()))
        chunks.append(text)
        pos += len(text)
    return Post(where, "".join(chunks), tuple(spans), kind)


def _message_parts(message: Mapping[str, object]) -> list[tuple[str, str, str]] | None:
    """A message's text as (type, text, language) parts; None when it is not in the format."""
    raw = message.get("text_entities")
    if not isinstance(raw, list):
        raw = message.get("text", "")
    if isinstance(raw, str):
        return [("plain", raw, "")]
    if not isinstance(raw, list):
        return None
    parts: list[tuple[str, str, str]] = []
    for item in raw:
        if isinstance(item, str):
            parts.append(("plain", item, ""))
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            ptype = item.get("type")
            lang = item.get("language")
            parts.append(
                (
                    ptype if isinstance(ptype, str) else "plain",
                    str(item["text"]),
                    lang if isinstance(lang, str) else "",
                )
            )
        else:
            return None
    return parts


def _chats(data: object) -> list[tuple[str, list[object]]]:
    """(chat name, messages) for a one-chat export or each chat of an account export."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return [(str(data.get("name") or ""), data["messages"])]
    chats: list[tuple[str, list[object]]] = []
    if isinstance(data, dict):
        for key in ("chats", "left_chats"):
            group = data.get(key)
            listed = group.get("list") if isinstance(group, dict) else None
            for chat in listed if isinstance(listed, list) else []:
                if isinstance(chat, dict) and isinstance(chat.get("messages"), list):
                    chats.append((str(chat.get("name") or ""), chat["messages"]))
        if chats or isinstance(data.get("chats"), dict):
            return chats
    raise NotAnExport('it has no "messages" list')


def posts_from_export(data: object) -> list[Post]:
    """Every non-service message of a Telegram Desktop JSON export, as a post."""
    chats = _chats(data)
    posts: list[Post] = []
    for name, messages in chats:
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                posts.append(
                    Post(
                        f"message #{index + 1}",
                        "",
                        kind="unreadable",
                        note="it is not a message object",
                    )
                )
                continue
            if message.get("type") == "service":
                continue
            mid = message.get("id")
            where = f"message {mid}" if isinstance(mid, int | str) else f"message #{index + 1}"
            if len(chats) > 1 and name:
                where = f"{name}, {where}"
            parts = _message_parts(message)
            if parts is None:
                posts.append(
                    Post(
                        where,
                        "",
                        kind="unreadable",
                        note="its text is not in Telegram's export format",
                    )
                )
                continue
            post = _from_parts(parts, where)
            if "forwarded_from" in message:
                source = message.get("forwarded_from")
                posts.append(Post(where, post.text, post.spans, "repost", str(source or "")))
            elif "poll" in message and not post.text.strip():
                posts.append(Post(where, "", kind="poll"))
            elif not post.text.strip():
                posts.append(Post(where, "", kind="media"))
            else:
                posts.append(post)
    return posts


def post_from_entities(
    text: str, entities: Iterable[Mapping[str, object]], where: str = "message"
) -> Post:
    """A Bot API message (text + MessageEntity dicts, offsets in UTF-16 units) as a post."""
    units = [0]
    for ch in text:
        units.append(units[-1] + (2 if ord(ch) > 0xFFFF else 1))

    def index(unit: int) -> int:
        return min(bisect_left(units, unit), len(text))

    found: list[Span] = []
    for entity in entities:
        etype = entity.get("type")
        offset, length = entity.get("offset"), entity.get("length")
        if etype not in ("code", "pre") or not isinstance(offset, int):
            continue
        if not isinstance(length, int) or length <= 0:
            continue
        lang = entity.get("language")
        start, end = index(offset), index(offset + length)
        if end > start:
            found.append(Span(start, end, str(etype), lang if isinstance(lang, str) else ""))
    spans: list[Span] = []
    for span in sorted(found, key=lambda s: (s.start, -s.end)):
        if not spans or span.start >= spans[-1].end:  # code entities cannot overlap
            spans.append(span)
    # Map the spans onto the cleaned text: cleaning only shortens \r\n, so rebuild by parts.
    parts: list[tuple[str, str, str]] = []
    pos = 0
    for span in spans:
        parts.append(("plain", text[pos : span.start], ""))
        parts.append((span.kind, text[span.start : span.end], span.lang))
        pos = span.end
    parts.append(("plain", text[pos:], ""))
    return _from_parts(parts, where)


def _is_junk(line: str) -> bool:
    s = line.strip()
    return bool(s) and (_JUNK.match(s) is not None or _REACTIONS.match(s) is not None)


def posts_from_text(text: str) -> list[Post]:
    """Split a text file of posts (contract §4, one after another) into posts.

    A post ends at its signature line, or where the next begins: a header line, a line of
    text after the tags line or the separator, or a second ``Answer:``. Lines a web copy of
    a channel adds between posts ("Please open Telegram to view this post", reactions such
    as "❤1") end a post and are dropped.
    """
    posts: list[Post] = []
    current: list[tuple[int, str]] = []
    answer_at: int | None = None  # index in current of the line with "Answer:"
    ended = False  # tags line or separator seen: the next line of text is a new post

    def close() -> None:
        nonlocal current, answer_at, ended
        body = [
            (n, s)
            for n, s in current
            if s.strip() and not _SEPARATOR.match(s) and not _SIGNATURE.match(s)
        ]
        if body:
            posts.append(Post(f"line {body[0][0]}", "\n".join(s for _, s in current).strip()))
        current, answer_at, ended = [], None, False

    for number, line in enumerate(_clean(text).split("\n"), start=1):
        stripped = line.strip()
        if _is_junk(line):
            close()
            continue
        if _HEADER.match(stripped):
            close()
            current.append((number, line))
            continue
        if _SIGNATURE.match(line):
            current.append((number, line))
            close()
            continue
        if _SEPARATOR.match(line):
            current.append((number, line))
            ended = True
            continue
        if not stripped:
            current.append((number, line))
            continue
        if ended:
            close()
        glued = _ANSWER_GLUED.search(line) is not None
        if _ANSWER_AT_START.match(line) or glued:
            if answer_at is not None:
                # A second question without a separator: it is the paragraph just before
                # this "Answer:" (or on this very line, when "Answer:" is glued to it).
                moved: list[tuple[int, str]] = []
                if not glued:
                    last = max(
                        (i for i in range(answer_at + 1, len(current)) if current[i][1].strip()),
                        default=len(current) - 1,
                    )
                    cut = last
                    while cut - 1 > answer_at and current[cut - 1][1].strip():
                        cut -= 1
                    if cut > answer_at:
                        moved = current[cut:]
                        current = current[:cut]
                close()
                current = moved
            answer_at = len(current)
        current.append((number, line))
        if answer_at is not None and (_TAGS.search(line) or _HASHTAG_LINE.match(line)):
            ended = True
    close()
    return posts


# ---------------------------------------------------------------- one post -> draft


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
        elif _FENCE_OPEN.match(line):
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
        opening = not in_fence and _FENCE_OPEN.match(line) is not None
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
        elif _FENCE_OPEN.match(line):
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


def parse_post(post: Post) -> Draft | Skip:
    """The question, answer, tags (and code under the question) of one post, or why not."""
    lines = [line for line in _lines(post) if not line.in_code]
    body = [line for line in lines if line.text.strip()]
    if not body:
        return Skip("it has no text", named=False, kind="no text")
    header: _Line | None = None
    for line in body:  # the header line comes before the answer, if anywhere
        if _ANSWER_AT_START.match(line.text) or _ANSWER_GLUED.search(line.text):
            break
        if _HEADER.match(line.text.strip()):
            header = line
            break
    q_start = header.end if header is not None else body[0].start
    q_end = a_start = -1
    for line in lines:
        if line.start < q_start:
            continue
        if m := _ANSWER_AT_START.match(line.text):
            q_end, a_start = line.start, line.start + m.end()
            break
        if m := _ANSWER_GLUED.search(line.text):
            q_end, a_start = line.start + m.start(), line.start + m.end()
            break
    if a_start < 0:
        if header is not None:
            return Skip('it has no "Answer:"', named=True, kind="unreadable")
        return Skip("not an interview question", named=False)

    notes: list[str] = []
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
        if _HASHTAG_LINE.match(piece):
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
            m = _TAGS.search(piece)
            if m is not None:
                a_end = lo + m.start()
            elif _HASHTAG_LINE.match(piece) or _is_junk(piece):
                a_end = lo
        if _SEPARATOR.match(piece) or _SIGNATURE.match(piece) or _is_junk(piece):
            a_end = min(a_end, lo)
            tail_end = lo
            break
    found_tags += _HASHTAG.findall(post.text[a_end:tail_end])
    answer = _tidy_answer(_markup(post, a_start, a_end))
    if not answer.strip():
        return Skip('the answer after "Answer:" is empty', named=True, kind="unreadable")

    code = "\n\n".join(c for c in code_parts if c.strip()) or None
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


# ---------------------------------------------------------------- ids and de-duplication


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
        if post.kind in ("poll", "media"):
            reason = "a poll" if post.kind == "poll" else "it has no text"
            kind = "poll" if post.kind == "poll" else "no text"
            plan.skipped.append(Skipped(post.where, reason, kind, named=False))
            continue
        if post.kind == "unreadable":
            plan.skipped.append(Skipped(post.where, post.note, "unreadable", named=True))
            continue
        parsed = parse_post(post)
        if post.kind == "repost":
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
