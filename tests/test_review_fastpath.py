"""The replayed no-op rebuild (fastpath.py) against the ways a world can change behind
its back, the skipped lockfile save, and cloze cards as Anki numbers them."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Project
from test_fastpath import _build, _options

from dlcards.build import build
from dlcards.cli import main
from dlcards.errors import LockfileError
from dlcards.lockfile import LOCK_NAME, NotetypeState, load_lock, save_lock
from dlcards.package import cloze_ords

QUESTION = "## What does the record hold?\n\n**Answer:** The {what} of a build.\n"
PICTURE = "## What does the picture show?\n\n**Answer:** This: ![[pic.png]]\n"


def _quiet(project: Project, monkeypatch: pytest.MonkeyPatch, **changes: object) -> None:
    """Build until a build has written nothing and left its record (the next is replayed)."""
    _build(project, monkeypatch, **changes)
    _build(project, monkeypatch, **changes)
    _, read = _build(project, monkeypatch, **changes)
    assert not read, "set-up: the third build should be answered from the record"


def _rewrite_in_place(path: Path, data: bytes) -> None:
    """New bytes in the same file (same inode), its size and times put back (`touch -r`)."""
    info = path.stat()
    assert len(data) == info.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


# The replay never answers where an ordinary build would answer otherwise.


def test_an_edited_picture_in_a_symlinked_attachments_folder_is_seen(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEFECT: take_snapshot ignores _hash_tree's False for an attachments folder, so an
    attachments folder that is a symlink (allowed: it resolves inside the project, and
    media.py follows it) adds nothing to the snapshot; an edited picture there is then
    answered "unchanged" and the package keeps the old picture."""
    shared = project.root / "shared"
    shared.mkdir()
    (shared / "pic.png").write_bytes(b"\x89PNG first")
    os.symlink(shared, project.root / "attachments")
    project.write("a.md", PICTURE)
    attachments = (project.root / "attachments",)
    _quiet(project, monkeypatch, attachments=attachments)
    (shared / "pic.png").write_bytes(b"\x89PNG repainted")
    report, read = _build(project, monkeypatch, attachments=attachments)
    assert read
    assert report.packages[0].updated == 1


def test_a_lockfile_edited_in_place_keeping_size_and_mtime_is_read(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEFECT: the lockfile is known by (size, mtime, inode) only. An edit in place that
    keeps the size, with its mtime put back, is replayed as a success, while the ordinary
    build refuses the damaged lockfile."""
    project.write("a.md", QUESTION.format(what="report"))
    _quiet(project, monkeypatch)
    lock = project.decks / LOCK_NAME
    data = lock.read_bytes()
    at = data.index(b'"mod": ') + len(b'"mod": ')
    _rewrite_in_place(lock, data[:at] + (b"2" if data[at : at + 1] != b"2" else b"3") + data[at + 1 :])
    with pytest.raises(LockfileError, match="checksum"):
        _build(project, monkeypatch)


def test_a_package_overwritten_in_place_keeping_size_and_mtime_is_rewritten(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEFECT: a package overwritten in place (cp -p of a same-size file, a restore)
    keeps its inode, size and mtime: the replay leaves the broken package, while the
    ordinary build (PackageDigests compares bytes) writes it again."""
    project.write("a.md", QUESTION.format(what="report"))
    _quiet(project, monkeypatch)
    package = project.decks / "a.apkg"
    good = package.read_bytes()
    _rewrite_in_place(package, b"\0" * len(good))
    _build(project, monkeypatch)
    assert package.read_bytes() == good


def test_an_output_not_named_apkg_that_was_deleted_is_written_again(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEFECT: take_snapshot lists only `*.apkg` and the lockfile in the output's folder,
    so `--output all.zip` is not in the snapshot: deleted, it is not written again."""
    output = project.root / "out" / "all.zip"
    project.write("a.md", QUESTION.format(what="report"))
    _quiet(project, monkeypatch, output=output)
    output.unlink()
    _build(project, monkeypatch, output=output)
    assert output.is_file()


def test_a_clock_behind_the_lockfile_fails_the_replay_too(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEFECT: prepare_build refuses a lockfile whose mods lie in the future (the clock
    went backwards); the replay never looks at the clock and reports success."""
    project.write("a.md", QUESTION.format(what="report"))
    _quiet(project, monkeypatch)
    project.clock.now -= 24 * 3600
    with pytest.raises(LockfileError, match="future"):
        build(_options(project), clock=project.clock, wait=project.clock.wait)


# Cloze cards as Anki counts them.


@pytest.mark.parametrize(
    ("text", "anki"),
    [
        # Measured with Anki's own card generation (anki 26.x, stock Cloze note type):
        # every cloze number above 500 is card 500 (ord 499).
        ("{{c501::a}}", (499,)),
        ("{{c1::a}} {{c900::b}}", (0, 499)),
        ("{{c600::a}} {{c700::b}}", (499,)),
    ],
)
def test_cloze_numbers_above_500_are_card_500_as_in_anki(text: str, anki: tuple[int, ...]) -> None:
    """DEFECT: cloze_ords keeps numbers up to 65535; Anki caps a cloze card's ord at 499.
    The package's card (ord 599 for c600) is an empty card to Anki ("Empty Cards" offers
    to delete the note) and Check Database adds the card Anki expects."""
    assert cloze_ords(text) == anki


def test_a_non_ascii_digit_makes_no_cloze_number() -> None:
    """DEFECT: `\\d` in _CLOZE_TOKEN (and cloze._MARKER) matches any Unicode digit and
    int() reads it: `{{c٢::a}}` gives card ord 1. Anki reads only ASCII digits: no
    cloze, card 0; the imported card 1 is empty."""
    assert cloze_ords("{{c\u0662::a}}") == (0,)


# Verified behaviour without a test until now.


def test_forget_makes_the_next_build_take_the_ordinary_path(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """forget rewrites the lockfile: the recorded report (which lists the removed
    question) is never replayed after it."""
    from dlcards.lockfile import forget_removed

    project.write("a.md", QUESTION.format(what="report"))
    project.write("b.md", QUESTION.replace("record", "second record").format(what="answer"))
    _build(project, monkeypatch)
    (project.notes / "b.md").unlink()
    _quiet(project, monkeypatch)
    replayed, _ = _build(project, monkeypatch)
    assert len(replayed.departed) == 1
    assert [e.title for e in forget_removed(project.decks)] == ["What does the second record hold?"]
    report, read = _build(project, monkeypatch)
    assert read
    assert report.departed == () and report.packages[0].removed == 0


def test_the_replayed_command_line_report_is_the_ordinary_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dlcards build` answered from the record prints exactly what the ordinary path
    prints (DLCARDS_NO_CACHE=1), warnings and removed-question notice included."""
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(
        QUESTION.format(what="report") + "\n## Where is the answer?\n\nNowhere.\n", encoding="utf-8"
    )
    (notes / "b.md").write_text(QUESTION.replace("record", "other").format(what="x"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["build"]).exit_code == 0
    (notes / "b.md").unlink()
    outputs = [runner.invoke(main, ["build"]) for _ in range(3)]
    monkeypatch.setenv("DLCARDS_NO_CACHE", "1")
    ordinary = runner.invoke(main, ["build"])
    assert all(r.exit_code == 0 for r in [*outputs, ordinary])
    assert "tag:dlcards::removed" in ordinary.output and "warning:" in ordinary.output
    assert outputs[1].output == outputs[2].output == ordinary.output


def test_a_lock_that_changed_only_in_its_packages_or_notetype_is_written(project: Project) -> None:
    """save_lock's skip compares packages and the note type too, not only the entries."""
    project.write("a.md", QUESTION.format(what="report"))
    project.build()
    path = project.decks / LOCK_NAME
    lock = load_lock(path, "decks/dlcards.lock")
    save_lock(path, replace(lock, packages=(*lock.packages, "zz.apkg")))
    assert load_lock(path, "x").packages == (*lock.packages, "zz.apkg")
    lock = load_lock(path, "decks/dlcards.lock")
    assert lock.notetype is not None
    bumped = NotetypeState(hash=lock.notetype.hash, mod=lock.notetype.mod + 1)
    save_lock(path, replace(lock, notetype=bumped))
    assert load_lock(path, "x").notetype == bumped
