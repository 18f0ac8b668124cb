"""What the lines of a channel post look like: shared by the text-file splitter and the parser.

Matching is done on plain text, line by line; lines inside a code block (a ``pre`` entity)
never count, so ``print("Answer: 42")`` in an answer is just code.
"""

from __future__ import annotations

import re

HEADER = re.compile(r"^\W*interview\s+questions?\W*$", re.IGNORECASE)
ANSWER_AT_START = re.compile(r"^[ \t]*(?:\*\*)?answer[ \t]*:(?:\*\*)?[ \t]*", re.IGNORECASE)
# Copied text sometimes loses the line break before "Answer:" ("...sorted list?Answer:").
ANSWER_GLUED = re.compile(r"(?<=[?.!)»\"'])[ \t]*answer[ \t]*:[ \t]*", re.IGNORECASE)
TAGS = re.compile(r"(?:^[ \t]*|(?<=[.!?)\]]))tags?[ \t]*:[ \t]*(?=#\w)", re.IGNORECASE)
HASHTAG_LINE = re.compile(r"^[ \t]*#\w+(?:[ \t,]+#\w+)*[ \t]*$")
SEPARATOR = re.compile(r"^[ \t]*[━─═—–_]{5,}[ \t]*$")
# "By: @channel ✨", "Admin: @one || @two"; not "By default, @dataclass ..." in an answer.
SIGNATURE = re.compile(r"^\W*(?:by|admins?|authors?)[ \t]*:?[ \t]*@\w", re.IGNORECASE)
_JUNK = re.compile(r"^(?:please open telegram to view this post|view in telegram)$", re.I)
_REACTIONS = re.compile(r"^(?:[^\w\s\x00-\x7f]+[ \t]*\d+(?:[.,]\d+)?[KkMm]?[ \t]*)+$")
FENCE_OPEN = re.compile(r"^\s*```\s*[A-Za-z0-9_+#.-]*\s*$")


def is_junk(line: str) -> bool:
    """A line a web copy of a channel adds between posts ("View in Telegram", reactions)."""
    s = line.strip()
    return bool(s) and (_JUNK.match(s) is not None or _REACTIONS.match(s) is not None)
