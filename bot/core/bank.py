"""Load the YAML question bank and validate it against contract §3 — no more, no less.

Over ~300 lines on purpose: one schema (contract §3) checked field by field with file:line.

We compose YAML to nodes rather than load it to Python values: nodes keep their line numbers
(every problem is reported as ``file:line: ...``) and their resolved tags, so an unquoted ``yes``
is reported as "a boolean, quote it" instead of being silently turned into ``True``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.models import DIFFICULTIES, Question, QuestionBank, hashtag

# PyYAML's libyaml binding is ~10x faster; fall back to the pure-Python loader where it is absent.
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ID_RE = re.compile(r"^[a-z0-9-]+$")
MAX_ID = 40
MAX_QUESTION = 300
MAX_CHOICE = 100
MAX_EXPLANATION = 150
MAX_TAGS = 8
MAX_TAG = 32
MIN_CHOICES, MAX_CHOICES = 2, 6
MAX_CODE, MAX_CODE_LINES = 1500, 30

FILE_KEYS = {"topic", "tags", "questions"}
QUESTION_KEYS = {
    "id",
    "question",
    "answer",
    "choices",
    "correct",
    "explanation",
    "tags",
    "difficulty",
    "code",
}

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_TAG_NAMES = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:null": "empty",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:map": "a mapping",
}


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class BankError(Exception):
    """The bank is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the question bank")
        self.problems = problems


def _kind(node: yaml.Node) -> str:
    return _TAG_NAMES.get(node.tag, "not text")


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _FileChecker:
    """Walks one file's node tree, collecting problems and building questions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []
        self.questions: list[tuple[Question, int]] = []

    def problem(self, node_or_line: yaml.Node | int, message: str) -> None:
        line = node_or_line if isinstance(node_or_line, int) else _line(node_or_line)
        self.problems.append(Problem(self.name, line, message))

    def mapping(
        self, node: yaml.MappingNode, allowed: set[str], where: str
    ) -> dict[str, yaml.Node]:
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _STR:
                self.problem(key_node, f"{where}: key {key_node.value!r} must be text")
                continue
            key = key_node.value
            if key in out:
                self.problem(key_node, f"{where}: {key!r} is given twice")
                continue
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.problem(key_node, f"{where}: unknown key {key!r} (allowed: {hint})")
                continue
            out[key] = value_node
        return out

    def text(self, node: yaml.Node, what: str, limit: int | None) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            self.problem(node, f"{what} must be text, but YAML read {_kind(node)}: quote it")
            return None
        value = str(node.value)
        if not value.strip():
            self.problem(node, f"{what} must not be empty")
            return None
        if limit is not None and len(value) > limit:
            self.problem(node, f"{what} is {len(value)} characters long; at most {limit} allowed")
        return value

    def tags(self, node: yaml.Node, where: str, limit: int | None) -> list[str]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{where} tags must be a list such as [GIL, Threading]")
            return []
        if limit is not None and len(node.value) > limit:
            self.problem(node, f"{where} has {len(node.value)} tags; at most {limit} allowed")
        out: list[str] = []
        for item in node.value:
            tag = self.text(item, "a tag", MAX_TAG)
            if tag is None:
                continue
            if not any(ch.isalpha() for ch in hashtag(tag)):
                self.problem(item, f"tag {tag!r} has no letter, so it cannot become a hashtag")
                continue
            out.append(tag)
        return out

    def check(self, root: yaml.Node | None) -> None:
        if root is None:
            self.problem(1, "the file is empty; it needs topic: and questions:")
            return
        if not isinstance(root, yaml.MappingNode):
            self.problem(root, "the file must be a mapping with topic: and questions:")
            return
        top = self.mapping(root, FILE_KEYS, "file")
        topic: str | None = None
        if "topic" in top:
            topic = self.text(top["topic"], "topic", None)
        else:
            self.problem(root, "topic: is missing")
        file_tags = self.tags(top["tags"], "the file's", None) if "tags" in top else []
        questions = top.get("questions")
        if questions is None:
            self.problem(root, "questions: is missing")
            return
        if not isinstance(questions, yaml.SequenceNode):
            self.problem(questions, "questions: must be a list of questions")
            return
        for item in questions.value:
            self.question(item, topic or "", file_tags)

    def question(self, node: yaml.Node, topic: str, file_tags: list[str]) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "each question must be a mapping starting with id:")
            return
        line = _line(node)
        fields = self.mapping(node, QUESTION_KEYS, "question")
        ok = True

        qid: str | None = None
        if "id" not in fields:
            self.problem(line, "id: is missing")
            ok = False
        else:
            qid = self.text(fields["id"], "id", None)
            if qid is not None and (len(qid) > MAX_ID or not ID_RE.match(qid)):
                self.problem(
                    fields["id"],
                    f"id {qid!r} must be a-z, 0-9 and '-', at most {MAX_ID} characters",
                )
                ok = False
            ok = ok and qid is not None

        def required(key: str, limit: int | None) -> str | None:
            if key not in fields:
                self.problem(line, f"{key}: is missing")
                return None
            return self.text(fields[key], key, limit)

        question = required("question", MAX_QUESTION)
        answer = required("answer", None)
        ok = ok and question is not None and answer is not None

        choices: list[str] = []
        n_choices = 0
        if "choices" in fields:
            cnode = fields["choices"]
            if not isinstance(cnode, yaml.SequenceNode):
                self.problem(cnode, "choices: must be a list")
                ok = False
            else:
                n_choices = len(cnode.value)
                if not MIN_CHOICES <= n_choices <= MAX_CHOICES:
                    self.problem(
                        cnode,
                        f"choices: has {len(cnode.value)} items; "
                        f"{MIN_CHOICES} to {MAX_CHOICES} allowed",
                    )
                    ok = False
                for item in cnode.value:
                    text = self.text(item, "a choice", MAX_CHOICE)
                    if text is None:
                        ok = False
                    else:
                        choices.append(text)

        correct: int | None = None
        if "correct" in fields:
            knode = fields["correct"]
            if not isinstance(knode, yaml.ScalarNode) or knode.tag != _INT:
                self.problem(
                    knode, f"correct: must be a whole number, but YAML read {_kind(knode)}"
                )
                ok = False
            else:
                correct = int(yaml.load(knode.value, Loader=_Loader))  # noqa: S506 - safe loader
                if "choices" not in fields:
                    self.problem(knode, "correct: is given but there are no choices:")
                    ok = False
                elif n_choices and not 0 <= correct < n_choices:
                    self.problem(
                        knode,
                        f"correct: {correct} is out of range; "
                        f"use 0 to {n_choices - 1} (0 is the first choice)",
                    )
                    ok = False
        elif "choices" in fields:
            self.problem(line, "correct: is missing; it is required when choices: are given")
            ok = False

        explanation = None
        if "explanation" in fields:
            explanation = self.text(fields["explanation"], "explanation", MAX_EXPLANATION)

        tags = self.tags(fields["tags"], "the question", MAX_TAGS) if "tags" in fields else []

        code: str | None = None
        if "code" in fields:
            code = self.text(fields["code"], "code", None)
            if code is not None:
                # Measured as shown: a block scalar's final line break is not part of it.
                code = code.strip("\n").rstrip()
                if len(code) > MAX_CODE:
                    self.problem(
                        fields["code"],
                        f"code is {len(code)} characters long; at most {MAX_CODE} allowed",
                    )
                    ok = False
                lines = code.count("\n") + 1
                if lines > MAX_CODE_LINES:
                    self.problem(
                        fields["code"], f"code has {lines} lines; at most {MAX_CODE_LINES} allowed"
                    )
                    ok = False

        difficulty = "medium"
        if "difficulty" in fields:
            dnode = fields["difficulty"]
            value = self.text(dnode, "difficulty", None)
            if value is not None and value not in DIFFICULTIES:
                self.problem(
                    dnode, f"difficulty {value!r} must be one of {', '.join(DIFFICULTIES)}"
                )
            elif value is not None:
                difficulty = value

        if ok and qid is not None and question is not None and answer is not None:
            merged = list(dict.fromkeys([*file_tags, *tags]))
            self.questions.append(
                (
                    Question(
                        id=qid,
                        topic=topic,
                        question=question.strip(),
                        answer=answer.strip("\n").rstrip(),
                        choices=tuple(c.strip() for c in choices),
                        correct=correct,
                        explanation=explanation.strip() if explanation else None,
                        tags=tuple(merged),
                        difficulty=difficulty,
                        code=code,
                        source=f"{self.name}:{line}",
                    ),
                    line,
                )
            )


def bank_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def check_bank(directory: Path) -> tuple[QuestionBank, list[Problem]]:
    """Read every YAML file under ``directory``; return the bank and every problem found."""
    directory = Path(directory)
    if not directory.is_dir():
        return QuestionBank(), [Problem(str(directory), 0, "no such folder")]
    problems: list[Problem] = []
    questions: dict[str, Question] = {}
    first_seen: dict[str, str] = {}
    files = bank_files(directory)
    for path in files:
        name = str(path)
        checker = _FileChecker(name)
        try:
            text = path.read_text(encoding="utf-8")
            root = yaml.compose(text, Loader=_Loader)
        except UnicodeDecodeError:
            problems.append(Problem(name, 1, "the file is not UTF-8 text"))
            continue
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else 1
            problems.append(Problem(name, line, f"YAML syntax error: {exc.problem or exc}"))
            continue
        except yaml.YAMLError as exc:
            problems.append(Problem(name, 1, f"YAML error: {exc}"))
            continue
        checker.check(root)
        problems.extend(sorted(checker.problems, key=lambda p: p.line))
        for question, line in checker.questions:
            if question.id in questions:
                problems.append(
                    Problem(
                        name,
                        line,
                        f"id {question.id!r} is already used at {first_seen[question.id]}",
                    )
                )
                continue
            questions[question.id] = question
            first_seen[question.id] = f"{name}:{line}"
    if not files:
        problems.append(Problem(str(directory), 0, "no *.yaml or *.yml question files found"))
    elif not questions and not problems:
        problems.append(Problem(str(directory), 0, "the bank has no questions"))
    bank = QuestionBank(questions)
    if not problems:
        # Which entries to keep apart (core.related) is worked out here, where /reload runs
        # in a worker thread, rather than on the event loop at the first quiz that needs it.
        _ = bank.related
    return bank, problems


def load_bank(directory: Path) -> QuestionBank:
    """Load and validate the bank; raise BankError listing every problem."""
    bank, problems = check_bank(directory)
    if problems:
        raise BankError(problems)
    return bank
