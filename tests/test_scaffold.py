"""`dlcards init`: a working project, never overwriting anything."""

from __future__ import annotations

from pathlib import Path

from conftest import FakeClock

from dlcards.build import BuildOptions, build
from dlcards.config import load_config
from dlcards.scaffold import scaffold_project


def test_scaffold_builds_and_configures(tmp_path: Path) -> None:
    """The scaffolded project builds into two notes and its config loads."""
    result = scaffold_project(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in result.created) == [
        "decks/.gitignore",
        "dlcards.toml",
        "notes/example.md",
    ]
    config = load_config(tmp_path)
    assert (config.notes, config.decks) == (tmp_path / "notes", tmp_path / "decks")
    clock = FakeClock()
    report = build(
        BuildOptions(notes_dir=tmp_path / "notes", decks_dir=tmp_path / "decks"), clock=clock, wait=clock.wait
    )
    assert [(p.filename, p.notes, p.new) for p in report.packages] == [("example.apkg", 3, 3)]
    assert report.warnings == ()


def test_scaffold_never_overwrites(tmp_path: Path) -> None:
    """Existing files are kept as they are and reported."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "example.md").write_text("mine", encoding="utf-8")
    result = scaffold_project(tmp_path)
    assert result.kept == (tmp_path / "notes" / "example.md",)
    assert (tmp_path / "notes" / "example.md").read_text(encoding="utf-8") == "mine"
