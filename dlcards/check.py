"""Checking: read and parse the notes without writing anything.

What `dlcards check` reports: every problem a build would report (plus the ones it
only warns about), and for each file the shape it was read in and how many
questions it holds, so a user sees at once when detection guessed wrong. Only the
questions that show an image or play a sound are rendered, to find their files.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import Problem, Severity
from .identify import find_duplicate_questions
from .media import resolve_media
from .model import Question
from .parse import parse_file
from .read import read_notes
from .render import math_spans, render_card


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    display_path: str
    shape: str
    questions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    files: tuple[FileCheck, ...]
    problems: tuple[Problem, ...]


def check_notes(notes_dir: Path, notes_display: str, attachments: tuple[Path, ...] = ()) -> CheckReport:
    """Every problem in every notes file, and how each file was read."""
    sources, problems = read_notes(notes_dir, notes_display)
    files = []
    questions: list[Question] = []
    metas = {source.display_path: dict(source.meta) for source in sources}
    for source in sources:
        parsed = parse_file(source)
        problems.extend(parsed.problems)
        questions.extend(parsed.questions)
        files.append(
            FileCheck(display_path=source.display_path, shape=parsed.shape, questions=len(parsed.questions))
        )
    problems.extend(find_duplicate_questions(questions))
    problems.extend(lint_questions(metas, questions))
    problems.extend(media_problems(questions, notes_dir, attachments))
    ordered = sorted(problems, key=lambda p: (p.path, p.line, p.severity.value, p.message))
    return CheckReport(files=tuple(files), problems=tuple(ordered))


# Generous on purpose: `<image>` is read as `<img>`, and `&#91;sound:` is `[sound:`.
_MEDIA_HINT = re.compile(r"!\[|<im|sound:|&#", re.IGNORECASE)


def media_problems(
    questions: list[Question], notes_dir: Path, attachments: tuple[Path, ...]
) -> list[Problem]:
    """Images and sounds that a build could not bundle: missing, or outside the notes."""
    showing = [
        q for q in questions if _MEDIA_HINT.search(f"{q.title}\n{q.prompt}\n{q.answer}\n{q.discussion}")
    ]
    _, problems = resolve_media([render_card(q) for q in showing], notes_dir, attachments)
    return problems


_KNOWN_KEYS = ("tags", "deck", "dlcards", "cloze")
_BRACES = re.compile(r"\\[{}]")


def lint_questions(sources_meta: dict[str, dict[str, object]], questions: list[Question]) -> list[Problem]:
    """Warnings a build does not need but an author wants: likely typos of front
    matter keys, and math that will not render."""
    problems: list[Problem] = []
    for display, meta in sources_meta.items():
        for key in meta:
            lowered = key.strip().lower()
            if lowered in _KNOWN_KEYS:
                continue
            close = difflib.get_close_matches(lowered, _KNOWN_KEYS, n=1, cutoff=0.75)
            if close:
                problems.append(
                    Problem(
                        severity=Severity.WARNING,
                        path=display,
                        line=1,
                        message=f"front matter key {key!r} is not used; did you mean {close[0]!r}?",
                    )
                )
    for q in questions:
        for part, text in (
            ("question", q.title + "\n" + q.prompt),
            ("answer", q.answer),
            ("discussion", q.discussion),
        ):
            reason = _math_problem(text)
            if reason:
                problems.append(
                    Problem(
                        severity=Severity.WARNING,
                        path=q.display_path,
                        line=q.line,
                        message=f"math in the {part} of {q.title!r} will not render: {reason}",
                    )
                )
    return problems


def _math_problem(markdown: str) -> str | None:
    """Why the math in a field would not typeset, or None."""
    for span, display in math_spans(markdown):
        depth = 0
        for ch in _BRACES.sub("", span):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth < 0:
                break
        if depth != 0:
            return f"unbalanced braces in {'$$' if display else '$'}{span[:40]}{'$$' if display else '$'}"
    if markdown.count("$$") % 2:
        return "a $$ block is never closed"
    return None
