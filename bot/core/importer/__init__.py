"""Channel posts -> bank entries (contract §8): pure parsing, no files, no Telegram, no YAML.

One module per step, each importing only the ones above it:

- ``patterns``: what the lines of a post look like (header, "Answer:", tags, separator ...);
- ``formats``: the three inputs (a Telegram Desktop export, a text file of posts, a Bot API
  message) as ``Post`` objects: plain text plus where its code is;
- ``fit``: a post's parts cut to §3's limits, with a note per cut (``Draft``);
- ``parse``: one post -> its question, answer, code and tags (a ``Draft``), or why not;
- ``plan``: drafts -> new entries: ids, de-duplication, the import's report.

This package's names below are what the rest of the bot uses (``bot.services.importing``,
the forward-to-import handler); import them from here.
"""

from __future__ import annotations

from bot.core.importer.fit import (
    MAX_ANSWER,
    Cut,
    Draft,
    cut_answer,
    cut_code,
    cut_question,
    shorten,
)
from bot.core.importer.formats import (
    NotAnExport,
    Post,
    Span,
    post_from_entities,
    posts_from_export,
    posts_from_text,
)
from bot.core.importer.parse import Skip, parse_post
from bot.core.importer.plan import (
    DEFAULT_TOPIC,
    ImportPlan,
    Known,
    Skipped,
    derive_id,
    entry,
    plan_import,
    question_key,
    slug,
)

__all__ = [
    "DEFAULT_TOPIC",
    "MAX_ANSWER",
    "Cut",
    "Draft",
    "ImportPlan",
    "Known",
    "NotAnExport",
    "Post",
    "Skip",
    "Skipped",
    "Span",
    "cut_answer",
    "cut_code",
    "cut_question",
    "derive_id",
    "entry",
    "parse_post",
    "plan_import",
    "post_from_entities",
    "posts_from_export",
    "posts_from_text",
    "question_key",
    "shorten",
    "slug",
]
