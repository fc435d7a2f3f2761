"""The rebuild with nothing to do: answered from the record of a build that wrote
nothing, and never when anything it read may have changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import Project

from dlcards import build as build_module
from dlcards.build import build
from dlcards.model import BuildOptions, BuildReport

QUESTION = "## What does the record hold?\n\n**Answer:** The {what} of a build that wrote nothing.\n"


def _options(project: Project, **changes: object) -> BuildOptions:
    values: dict[str, object] = {
        "notes_dir": project.notes,
        "decks_dir": project.decks,
        "cache_dir": project.root / "cache",
        **changes,
    }
    return BuildOptions(**values)  # type: ignore[arg-type]


def _build(project: Project, monkeypatch: pytest.MonkeyPatch, **changes: object) -> tuple[BuildReport, bool]:
    """The report, and whether the notes were read (False: answered from the record)."""
    read = []
    real = build_module.sound_cards

    def counting(*args: object, **kwargs: object) -> object:
        read.append(True)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "sound_cards", counting)
    project.clock.advance()
    report = build(_options(project, **changes), clock=project.clock, wait=project.clock.wait)
    return report, bool(read)


@pytest.fixture
def quiet(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project built twice: the second build wrote nothing and left its record."""
    project.write("a.md", QUESTION.format(what="report"))
    (project.notes / "pic.png").write_bytes(b"\x89PNG picture")
    first, read = _build(project, monkeypatch)
    assert read and first.packages[0].new == 1
    shutil.rmtree(project.root / "cache" / "builds")  # the first build's record: see below
    second, read = _build(project, monkeypatch)
    assert read and second.packages[0].unchanged == 1
    return project


def test_a_repeat_of_a_build_that_wrote_nothing_reads_no_note(
    quiet: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, _ = _build(quiet, monkeypatch, cache_dir=None)  # the ordinary path, for comparison
    replayed, read = _build(quiet, monkeypatch)
    assert not read
    assert replayed == full


@pytest.mark.parametrize(
    "change",
    [
        "edit a note",
        "touch nothing but add a picture",
        "change a picture",
        "rewrite the lockfile",
        "delete the package",
        "another setting",
    ],
)
def test_anything_a_build_reads_changing_means_the_ordinary_path(
    quiet: Project, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    settings: dict[str, object] = {}
    if change == "edit a note":
        quiet.write("a.md", QUESTION.format(what="whole report"))
    elif change == "touch nothing but add a picture":
        (quiet.notes / "other.png").write_bytes(b"another")
    elif change == "change a picture":
        (quiet.notes / "pic.png").write_bytes(b"\x89PNG repainted")
    elif change == "rewrite the lockfile":
        lock = quiet.decks / "dlcards.lock"
        data = lock.read_bytes()
        lock.unlink()
        lock.write_bytes(data)  # the same bytes, a new file: it is not the one recorded
    elif change == "delete the package":
        (quiet.decks / "a.apkg").unlink()
    else:
        settings["default_tags"] = ("extra",)
    report, read = _build(quiet, monkeypatch, **settings)
    assert read
    if change == "delete the package":
        assert (quiet.decks / "a.apkg").is_file()
    if change in ("edit a note", "another setting"):
        assert report.packages[0].updated == 1


def test_a_build_that_wrote_records_the_report_of_the_build_after_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first rebuild with nothing changed after a build that wrote is replayed too,
    and replays what the ordinary path reports then: never the writing build's "1 new"."""
    project.write("ml/a.md", QUESTION.format(what="report"))
    project.write("ml/b.md", QUESTION.format(what="summary").replace("record", "log"))
    (project.notes / "pic.png").write_bytes(b"\x89PNG picture")
    first, read = _build(project, monkeypatch)  # writes the package and the lockfile
    assert read and first.packages[0].new == 2
    replayed, read = _build(project, monkeypatch)
    assert not read
    full, _ = _build(project, monkeypatch, cache_dir=None)
    assert replayed == full and full.packages[0].unchanged == 2
    (project.notes / "ml" / "b.md").unlink()  # a departure: the lockfile keeps it, tagged removed
    second, read = _build(project, monkeypatch)
    assert read and second.packages[0].removed == 1
    replayed, read = _build(project, monkeypatch)
    assert not read
    full, _ = _build(project, monkeypatch, cache_dir=None)
    assert replayed == full and replayed.departed == second.departed


def test_a_build_whose_notes_changed_while_it_ran_records_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("a.md", QUESTION.format(what="report"))
    real = build_module.sound_cards

    def edited_meanwhile(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        project.write("a.md", QUESTION.format(what="summary"))  # after it was read
        return result

    monkeypatch.setattr(build_module, "sound_cards", edited_meanwhile)
    build(_options(project), clock=project.clock, wait=project.clock.wait)
    report, read = _build(project, monkeypatch)
    assert read and report.packages[0].updated == 1


def test_a_damaged_record_is_ignored(quiet: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    (record,) = (quiet.root / "cache" / "builds").iterdir()
    record.write_text(record.read_text(encoding="utf-8").replace("unchanged", "updated"), encoding="utf-8")
    report, read = _build(quiet, monkeypatch)
    assert read and report.packages[0].unchanged == 1


def test_a_symlink_in_the_notes_means_the_ordinary_path_every_time(
    quiet: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    os.symlink(quiet.notes / "pic.png", quiet.notes / "alias.png")
    for _ in range(3):
        _, read = _build(quiet, monkeypatch)
        assert read
