"""The one exception tree of dlcards, and the problems a build collects.

Every mistake in someone's notes becomes a :class:`Problem` that names a file and a
line; the CLI turns them into ``error: notes/x.md:12: ...`` lines. Third-party
exceptions are wrapped where they enter, so nothing else reaches the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One thing wrong (or worth a look) in the notes, at a place the user can open."""

    severity: Severity
    path: str
    line: int
    message: str
    col: int = 1

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{self.severity.value}: {where}: {self.message}"


class DlcardsError(Exception):
    """Root of every error dlcards raises on purpose."""


class BuildFailed(DlcardsError):
    """The notes (or the lockfile) have errors; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = sum(1 for p in problems if p.severity is Severity.ERROR)
        super().__init__(f"{errors} error{'s' if errors != 1 else ''}; nothing was written")


class LockfileError(DlcardsError):
    """The lockfile cannot be trusted; it is never silently replaced."""

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        self.path = path
        where = f"{path}:{line}" if line else path
        super().__init__(
            f"{where}: {message}. It holds the identity of every note you have imported; "
            "restore it from version control (git checkout -- "
            f"{path}) or, if it is truly lost, delete it and rebuild: unchanged questions "
            "get their old ids back, edited ones would be imported as new notes."
        )


class OutputError(DlcardsError):
    """A deck or the lockfile could not be written."""
