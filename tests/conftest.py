"""Shared test helpers: a notes project in a temporary folder and a controllable clock."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dlcards.build import BuildOptions, build
from dlcards.model import BuildReport


@dataclass
class FakeClock:
    """A clock the test moves; `wait` moves it too, as a real sleep would."""

    now: float = 1_800_000_000.0
    waited: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.now += max(seconds, 0)

    def advance(self, seconds: float = 60) -> None:
        self.now += seconds


@dataclass
class Project:
    root: Path
    clock: FakeClock

    @property
    def notes(self) -> Path:
        return self.root / "notes"

    @property
    def decks(self) -> Path:
        return self.root / "decks"

    def write(self, rel: str, text: str, *, dedent: bool = True) -> Path:
        path = self.notes / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8")
        return path

    def build(self, *, output: Path | None = None) -> BuildReport:
        options = BuildOptions(notes_dir=self.notes, decks_dir=self.decks, output=output)
        return build(options, clock=self.clock, wait=self.clock.wait)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "notes").mkdir()
    return Project(root=tmp_path, clock=FakeClock())


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run by tests keep their render cache away from the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
