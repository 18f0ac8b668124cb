"""A strict check of Telegram's HTML parse mode, used by the fake Bot API and the tests.

Rules from the Bot API's "Formatting options" (https://core.telegram.org/bots/api#html-style):
only the listed tags; ``<``, ``>`` and ``&`` outside tags and entities must be escaped; only
``&lt; &gt; &amp; &quot;`` and numeric entities; entities nest only where allowed ("bold,
italic, underline, strikethrough, and spoiler entities can contain and can be part of any other
entities, except pre and code"; "blockquote ... can't be nested"; "All other entities can't
contain each other"); text is at most 4096 characters after entities parsing.
"""

from __future__ import annotations

import html
import re

MAX_TEXT = 4096

_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*(/?)>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")

FORMATTING = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "span"}
ALLOWED = FORMATTING | {"a", "code", "pre", "blockquote", "tg-emoji"}
SPOILER = {"tg-spoiler"}


class HtmlError(ValueError):
    pass


def _attrs(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in _ATTR.findall(raw):
        out[name.lower()] = html.unescape(value.strip("\"'") if value else "")
    return out


def _kind(tag: str, attrs: dict[str, str]) -> str:
    """The entity a tag makes (span class=tg-spoiler is a spoiler)."""
    if tag == "span":
        if attrs.get("class") != "tg-spoiler":
            raise HtmlError('<span> is only allowed as <span class="tg-spoiler">')
        return "tg-spoiler"
    return {"strong": "b", "em": "i", "ins": "u", "strike": "s", "del": "s"}.get(tag, tag)


def parse(text: str) -> str:
    """Validate ``text`` as Telegram HTML; return the plain text. Raise HtmlError if invalid."""
    plain: list[str] = []
    stack: list[tuple[str, str]] = []  # (tag name, entity kind)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            m = _TAG.match(text, i)
            if not m:
                raise HtmlError(f"unescaped '<' at {i}: {text[i : i + 20]!r}")
            closing, name, raw_attrs, _self = m.groups()
            name = name.lower()
            if name not in ALLOWED:
                raise HtmlError(f"unsupported tag <{name}>")
            if closing:
                if not stack or stack[-1][0] != name:
                    raise HtmlError(f"unexpected end tag </{name}>")
                stack.pop()
            else:
                attrs = _attrs(raw_attrs)
                kind = _kind(name, attrs)
                kinds = [k for _, k in stack]
                if name == "a" and not attrs.get("href"):
                    raise HtmlError("<a> needs href")
                if name == "code" and "class" in attrs:
                    if not kinds or kinds[-1] != "pre":
                        raise HtmlError("<code class=...> is only allowed directly inside <pre>")
                    if not re.fullmatch(r"language-[A-Za-z0-9_+#.-]+", attrs["class"]):
                        raise HtmlError(f"bad code class {attrs['class']!r}")
                if name == "blockquote" and set(attrs) - {"expandable"}:
                    # Bot API 7.4: <blockquote expandable> folds; it takes no other attribute.
                    raise HtmlError(f"bad blockquote attributes {sorted(attrs)}")
                if name == "tg-emoji" and "emoji-id" not in attrs:
                    raise HtmlError("<tg-emoji> needs emoji-id")
                for outer in kinds:
                    if outer in ("code", "pre") and not (outer == "pre" and kind == "code"):
                        raise HtmlError(
                            f"<{name}> inside <{outer}>: code entities contain nothing"
                        )
                    if outer in SPOILER and kind in ("code", "pre"):
                        raise HtmlError(f"<{name}> inside a spoiler: Telegram cannot hide code")
                    if outer == "blockquote" and kind == "blockquote":
                        raise HtmlError("blockquotes cannot be nested")
                    if outer == kind and kind not in FORMATTING:
                        raise HtmlError(f"<{name}> cannot contain itself")
                    if outer not in FORMATTING | {"blockquote", "pre"} and kind not in FORMATTING:
                        raise HtmlError(f"<{name}> cannot be inside <{outer}>")
                if kind in SPOILER and any(k in ("code", "pre") for k in kinds):
                    raise HtmlError("spoiler inside code")
                stack.append((name, kind))
            i = m.end()
        elif ch == "&":
            m = _ENTITY.match(text, i)
            if not m:
                raise HtmlError(f"unescaped '&' at {i}: {text[i : i + 12]!r}")
            plain.append(html.unescape(m.group(0)))
            i = m.end()
        elif ch == ">":
            raise HtmlError(f"unescaped '>' at {i}")
        else:
            plain.append(ch)
            i += 1
    if stack:
        raise HtmlError(f"unclosed tag <{stack[-1][0]}>")
    return "".join(plain)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_message_text(text: str, parse_mode: str | None) -> str:
    """What sendMessage/editMessageText would say: '' when accepted, else Telegram's reason."""
    try:
        plain = parse(text) if parse_mode and parse_mode.upper() == "HTML" else text
    except HtmlError as exc:
        return f"Bad Request: can't parse entities: {exc}"
    if not plain.strip():
        return "Bad Request: message text is empty"
    if utf16_len(plain) > MAX_TEXT:
        return "Bad Request: message is too long"
    return ""
