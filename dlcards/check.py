"""Checking: read and parse the notes without rendering or writing anything.

What `dlcards check` reports: every problem a build would report (plus the ones it
only warns about), and for each file the shape it was read in and how many
questions it holds, so a user sees at once when detection guessed wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import Problem
from .identify import find_duplicate_questions
from .model import Question
from .parse import parse_file
from .read import read_notes


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    display_path: str
    shape: str
    questions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    files: tuple[FileCheck, ...]
    problems: tuple[Problem, ...]


def check_notes(notes_dir: Path, notes_display: str) -> CheckReport:
    """Every problem in every notes file, and how each file was read."""
    sources, problems = read_notes(notes_dir, notes_display)
    files = []
    questions: list[Question] = []
    for source in sources:
        parsed = parse_file(source)
        problems.extend(parsed.problems)
        questions.extend(parsed.questions)
        files.append(
            FileCheck(display_path=source.display_path, shape=parsed.shape, questions=len(parsed.questions))
        )
    problems.extend(find_duplicate_questions(questions))
    ordered = sorted(problems, key=lambda p: (p.path, p.line, p.severity.value, p.message))
    return CheckReport(files=tuple(files), problems=tuple(ordered))
