"""The three inputs of an import, as posts: a Telegram Desktop export, a text file, a message.

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

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.core.importer import patterns


@dataclass(frozen=True, slots=True)
class Span:
    """A code entity over ``text[start:end]``: ``code`` (inline) or ``pre`` (a block)."""

    start: int
    end: int
    kind: str
    lang: str = ""


class PostKind(StrEnum):
    POST = "post"
    REPOST = "repost"  # forwarded from elsewhere: never imported (contract §8)
    POLL = "poll"
    MEDIA = "media"  # no text
    UNREADABLE = "unreadable"  # not in the export's format: ``note`` says why


@dataclass(frozen=True, slots=True)
class Post:
    """One post as Telegram shows it: plain text plus where its code is."""

    where: str  # "message 12" or "line 40", for the report
    text: str
    spans: tuple[Span, ...] = ()
    kind: PostKind = PostKind.POST
    note: str = ""  # for reposts: where from; for unreadable: why


class NotAnExport(ValueError):
    """JSON that is not a Telegram Desktop export."""


def _clean(text: str) -> str:
    """Line breaks as \\n, no lone surrogates (JSON may carry them), no NULs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def _from_parts(
    parts: Sequence[tuple[str, str, str]], where: str, kind: PostKind = PostKind.POST
) -> Post:
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
                        kind=PostKind.UNREADABLE,
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
                        kind=PostKind.UNREADABLE,
                        note="its text is not in Telegram's export format",
                    )
                )
                continue
            post = _from_parts(parts, where)
            if "forwarded_from" in message:
                source = message.get("forwarded_from")
                posts.append(
                    Post(where, post.text, post.spans, PostKind.REPOST, str(source or ""))
                )
            elif "poll" in message and not post.text.strip():
                posts.append(Post(where, "", kind=PostKind.POLL))
            elif not post.text.strip():
                posts.append(Post(where, "", kind=PostKind.MEDIA))
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
            if s.strip() and not patterns.SEPARATOR.match(s) and not patterns.SIGNATURE.match(s)
        ]
        if body:
            posts.append(Post(f"line {body[0][0]}", "\n".join(s for _, s in current).strip()))
        current, answer_at, ended = [], None, False

    for number, line in enumerate(_clean(text).split("\n"), start=1):
        stripped = line.strip()
        if patterns.is_junk(line):
            close()
            continue
        if patterns.HEADER.match(stripped):
            close()
            current.append((number, line))
            continue
        if patterns.SIGNATURE.match(line):
            current.append((number, line))
            close()
            continue
        if patterns.SEPARATOR.match(line):
            current.append((number, line))
            ended = True
            continue
        if not stripped:
            current.append((number, line))
            continue
        if ended:
            close()
        glued = patterns.ANSWER_GLUED.search(line) is not None
        if patterns.ANSWER_AT_START.match(line) or glued:
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
        if answer_at is not None and (
            patterns.TAGS.search(line) or patterns.HASHTAG_LINE.match(line)
        ):
            ended = True
    close()
    return posts
