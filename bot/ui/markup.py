"""The bank's small answer markup: `inline code`, ``` fenced blocks, and •/- bullets.

Two renderings: HTML with <code>/<pre> for the private chat, and plain text for inside a spoiler,
where Telegram would show code unhidden (code entities may not nest in a spoiler).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*```\s*([A-Za-z0-9_+#.-]*)\s*$")
_INLINE = re.compile(r"`([^`\n]+)`")
_BULLET = re.compile(r"^(\s*)[-*]\s+")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph of text lines, or one fenced code block."""

    kind: str  # "text" | "code"
    text: str
    lang: str = ""


def parse(answer: str) -> list[Block]:
    blocks: list[Block] = []
    text_lines: list[str] = []
    code_lines: list[str] | None = None
    lang = ""

    def flush_text() -> None:
        if text_lines:
            joined = "\n".join(text_lines).strip("\n")
            if joined.strip():
                blocks.append(Block("text", joined))
            text_lines.clear()

    for line in answer.splitlines():
        fence = _FENCE.match(line)
        if code_lines is None:
            if fence and line.strip().startswith("```"):
                flush_text()
                code_lines, lang = [], fence.group(1)
            else:
                text_lines.append(_BULLET.sub(r"\1• ", line.rstrip()))
        elif line.strip() == "```":
            blocks.append(Block("code", "\n".join(code_lines).strip("\n"), lang))
            code_lines = None
        else:
            code_lines.append(line.rstrip())
    if code_lines is not None:  # an unclosed fence runs to the end of the answer
        blocks.append(Block("code", "\n".join(code_lines).strip("\n"), lang))
    flush_text()
    return [b for b in blocks if b.text.strip()]


def block_plain(block: Block) -> str:
    if block.kind == "code":
        return block.text
    return _INLINE.sub(r"\1", block.text)


def block_html(block: Block) -> str:
    if block.kind == "code":
        code = html.escape(block.text, quote=False)
        if block.lang:
            lang = html.escape(block.lang.lower())
            return f'<pre><code class="language-{lang}">{code}</code></pre>'
        return f"<pre>{code}</pre>"
    parts: list[str] = []
    last = 0
    for match in _INLINE.finditer(block.text):
        parts.append(html.escape(block.text[last : match.start()], quote=False))
        parts.append(f"<code>{html.escape(match.group(1), quote=False)}</code>")
        last = match.end()
    parts.append(html.escape(block.text[last:], quote=False))
    return "".join(parts)


def to_plain(answer: str) -> str:
    """The answer as plain text: code kept with its line breaks, markup markers dropped."""
    return "\n\n".join(block_plain(b) for b in parse(answer))


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units (an emoji can count twice)."""
    return len(text.encode("utf-16-le")) // 2


def visible_len(html_text: str) -> int:
    """Length of our own HTML after entity parsing: tags dropped, entities decoded."""
    return utf16_len(html.unescape(_TAG.sub("", html_text)))


def cut_plain(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` UTF-16 units at a sentence or line boundary, with '…'."""
    if utf16_len(text) <= limit:
        return text
    budget = limit - 1
    head = text
    while utf16_len(head) > budget:  # code points -> UTF-16 units: shrink until it fits
        head = head[: max(0, len(head) - max(1, utf16_len(head) - budget))]
    floor = len(head) // 2  # never throw away more than half for a nicer boundary
    for sep in ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " "):
        pos = head.rfind(sep)
        if pos >= floor:
            keep = pos + 1 if sep.strip() in {".", "!", "?", ";", ","} else pos
            return head[:keep].rstrip() + "…"
    return head.rstrip() + "…"
