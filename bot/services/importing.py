"""``python -m bot import`` and the bot's "Add": new entries read, de-duplicated, added to FILE.

Parsing lives in ``bot.core.importer``; reading sources, FILE's lock and its atomic replace in
``import_files``; the YAML text in ``question_yaml``. This module runs an import: nothing is
written until every source has been read, and FILE is read again under its lock, so the
de-duplication sees what another import has just added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core import importer
from bot.core.bank import ID_RE
from bot.core.importer import ImportPlan
from bot.core.models import Question
from bot.services.import_files import (
    ImportInputError,
    file_lock,
    read_sources,
    read_target,
    write_atomic,
)
from bot.services.question_yaml import extend_text, file_topic, known_questions

DEFAULT_FILE = "imported.yaml"
CLI_WAIT = 120.0  # seconds the CLI waits for another import of FILE to finish
ADD_WAIT = 5.0  # the bot's "Add" waits less: its press is answered after it


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    out: Path
    written: bool

    def lines(self) -> list[str]:
        """What the command prints; the last line is the contract's summary."""
        lines = self.plan.report()
        n = len(self.plan.entries)
        if self.written:
            lines.append(f"Added {n} {'entry' if n == 1 else 'entries'} to {self.out}.")
        else:
            lines.append(f"Nothing new to add: {self.out} is unchanged.")
        if self.plan.skipped:
            lines.append(f"Skipped: {self.plan.breakdown()}.")
        lines.append(self.plan.summary())
        return lines


def run_import(sources: Sequence[Path], out: Path, content_dir: Path | None) -> ImportResult:
    """Read every source, then add the new entries to ``out``; ImportInputError on bad input.

    Nothing is written until every source has been read, and nothing at all when there is
    nothing new: running the same import twice leaves FILE as the first run wrote it.
    """
    posts = read_sources(sources)
    try:
        with file_lock(out, CLI_WAIT):
            old_text = read_target(out)  # under the lock: another import may have just added
            known = known_questions(content_dir, out)
            plan = importer.plan_import(posts, known, file_topic(old_text))
            if not plan.entries:
                return ImportResult(plan, out, written=False)
            write_atomic(out, extend_text(old_text, plan.entries, str(out)))
    except OSError as exc:
        raise ImportInputError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    return ImportResult(plan, out, written=True)


# ---------------------------------------------------------------- one post at a time


def entry_from_message(text: str, entities: Sequence[Mapping[str, object]]) -> Question | None:
    """A Bot API message (a forwarded channel post) as an entry, or None if it is not one."""
    post = importer.post_from_entities(text, entities)
    draft = importer.parse_post(post)
    if isinstance(draft, importer.Skip):
        return None
    return importer.entry(draft, importer.derive_id(draft.question))


def append_entry(path: Path, entry: Question, *, content_dir: Path | None = None) -> bool:
    """Add one entry to FILE atomically; False when its question is already there.

    With ``content_dir`` the whole bank is checked too. The id is re-derived when another
    question holds it. Raises ImportInputError when FILE cannot be extended (or another
    import holds it for longer than ``ADD_WAIT``).
    """
    with file_lock(path, ADD_WAIT):
        return _append_locked(path, entry, content_dir)


def _append_locked(path: Path, entry: Question, content_dir: Path | None) -> bool:
    old_text = read_target(path)
    known = known_questions(content_dir, path)
    key = importer.question_key(entry.question)
    if key in known.questions:
        return False
    qid = entry.id
    if qid in known.ids or not ID_RE.match(qid):
        qid = importer.derive_id(entry.question, known.ids)
    fixed = Question(
        id=qid,
        topic=file_topic(old_text),
        question=entry.question,
        answer=entry.answer,
        tags=entry.tags,
        code=entry.code,
        source=entry.source,
    )
    write_atomic(path, extend_text(old_text, [fixed], str(path)))
    return True


__all__ = [  # with ImportInputError and known_questions, which the CLI and the Add handler use
    "DEFAULT_FILE",
    "ImportInputError",
    "ImportResult",
    "append_entry",
    "entry_from_message",
    "known_questions",
    "run_import",
]
