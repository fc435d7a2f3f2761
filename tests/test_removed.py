"""Removed questions: Anki never deletes on import, so a question that left the notes
stays in its package tagged dlcards::removed, with a visible line on its answer, until
the user deletes it in Anki and runs `forget`; a question that comes back is restored.

The round trips drive Anki's own importer (see test_roundtrip_anki.py) on the real
clock; the rest runs on the FakeClock."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from test_roundtrip_anki import EASY, Anki, packages, read_lock, real_build

from dlcards import build as build_module
from dlcards.errors import LockfileError
from dlcards.lockfile import FORMAT, LOCK_NAME, NotRemovedError, forget_removed, lock_checksum
from dlcards.package import read_package_notes

BASICS = """\
---
tags: [ml, basics]
---
### 1. What is overfitting?

**Answer:** A model fits the noise of its training data.

### 2. What does the learning rate control?

**Answer:** The size of each step of gradient descent.

### 3. Why split data into training and validation sets?

**Answer:** To estimate performance on unseen data.

**Discussion Points:**

- Why not tune on the test set?
"""
SPLIT = "Why split data into training and validation sets?"
WITHOUT_SPLIT = BASICS.partition("### 3.")[0]
REMOVED_LINE = (
    '<div class="dlc-removed">Removed from your notes (ml/basics.md). '
    "Delete this note in Anki: search tag:dlcards::removed</div>"
)


def entry(project: Project, question: str) -> dict[str, Any]:
    data = json.loads((project.decks / LOCK_NAME).read_text(encoding="utf-8"))
    found = [n for n in data["notes"] if n["question"] == question]
    assert len(found) == 1, found
    return dict(found[0])


def package_notes(path: Path) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """guid -> (fields, tags) of every note in a package."""
    import sqlite3
    import zipfile

    conn = sqlite3.connect(":memory:")
    conn.deserialize(zipfile.ZipFile(path).read("collection.anki2"))
    rows = conn.execute("SELECT guid, flds, tags FROM notes").fetchall()
    return {g: (tuple(f.split("\x1f")), tuple(t.split())) for g, f, t in rows}


def package_mods(path: Path) -> dict[str, int]:
    import sqlite3
    import zipfile

    conn = sqlite3.connect(":memory:")
    conn.deserialize(zipfile.ZipFile(path).read("collection.anki2"))
    return dict(conn.execute("SELECT guid, mod FROM notes").fetchall())


# ---------------------------------------------------------------------------
# the build: what a removed question's note carries, and when its mod moves
# ---------------------------------------------------------------------------


def test_removed_question_stays_in_its_package_tagged_with_a_visible_line(project: Project) -> None:
    """A question that left the notes is emitted into its old deck's package with its
    last content, the tag dlcards::removed and the removed line opening its Answer."""
    project.write("ml/basics.md", BASICS)
    project.build()
    split = entry(project, SPLIT)["guid"]
    before = package_notes(project.decks / "ml.apkg")[split]

    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    report = project.build()

    fields, tags = package_notes(project.decks / "ml.apkg")[split]
    assert fields == (before[0][0], f"{REMOVED_LINE}\n{before[0][1]}", *before[0][2:])
    assert tags == (*before[1], "dlcards::removed")
    assert [(d.guid, d.title, d.tagged) for d in report.departed] == [(split, SPLIT, True)]
    assert report.removed_search == "tag:dlcards::removed"
    assert [(p.notes, p.new, p.updated, p.unchanged, p.removed) for p in report.packages] == [(3, 0, 0, 2, 1)]
    assert dict(report.statuses)[split] == "removed"


def test_removal_takes_a_newer_mod_once_and_later_builds_keep_it(project: Project) -> None:
    """Tagging a removed note is a change: its mod goes above the last one, once; later
    builds give the same mod and the very same package bytes (Anki applies it once)."""
    project.write("ml/basics.md", BASICS)
    project.build()
    first = entry(project, SPLIT)

    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance(100)
    project.build()
    removed = entry(project, SPLIT)
    assert removed["removed"] is True
    assert removed["mod"] == int(project.clock.now) > first["mod"]
    assert package_mods(project.decks / "ml.apkg")[first["guid"]] == removed["mod"]
    package = (project.decks / "ml.apkg").read_bytes()
    lock = (project.decks / LOCK_NAME).read_bytes()

    project.clock.advance(3600)
    report = project.build()
    assert entry(project, SPLIT)["mod"] == removed["mod"]
    assert (project.decks / "ml.apkg").read_bytes() == package
    assert (project.decks / LOCK_NAME).read_bytes() == lock
    assert [d.guid for d in report.departed] == [first["guid"]]


def test_question_that_comes_back_is_restored_with_a_newer_mod(project: Project) -> None:
    """The same question text back in the notes takes its note back: same guid, no tag,
    no removed line, and a mod above the removal's."""
    project.write("ml/basics.md", BASICS)
    project.build()
    guid = entry(project, SPLIT)["guid"]
    original = package_notes(project.decks / "ml.apkg")[guid]
    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    project.build()
    removed_mod = entry(project, SPLIT)["mod"]

    project.write("ml/basics.md", BASICS)
    project.clock.advance()
    report = project.build()
    back = entry(project, SPLIT)
    assert (back["guid"], back.get("removed", False), "removed_note" in back) == (guid, False, False)
    assert back["mod"] > removed_mod
    assert package_notes(project.decks / "ml.apkg")[guid] == original
    assert report.departed == () and report.removed_search == ""
    assert dict(report.statuses)[guid] == "updated"


def test_a_deck_left_with_removed_questions_only_keeps_its_package(project: Project) -> None:
    """A file whose questions all left the notes keeps its deck's package, holding them
    tagged; after `forget` the package has nothing left and the build deletes it."""
    project.write("ml/basics.md", BASICS)
    project.write("stats.md", "### What is a p-value?\n\n**Answer:** A probability.\n")
    project.build()
    (project.notes / "stats.md").unlink()
    project.clock.advance()
    report = project.build()
    assert report.stale_packages == ()
    assert [(p.filename, p.removed) for p in report.packages] == [("ml.apkg", 0), ("stats.apkg", 1)]
    [(_, (_, tags))] = package_notes(project.decks / "stats.apkg").items()
    assert "dlcards::removed" in tags

    forgotten = forget_removed(project.decks)
    assert [e.title for e in forgotten] == ["What is a p-value?"]
    project.clock.advance()
    report = project.build()
    assert report.stale_packages == ("stats.apkg",)
    assert not (project.decks / "stats.apkg").exists()


def test_removed_question_goes_into_the_single_output_package(project: Project, tmp_path: Path) -> None:
    """With --output, a removed question is kept in the one package, read back from it."""
    output = tmp_path / "out" / "all.apkg"
    project.write("ml/basics.md", BASICS)
    project.build(output=output)
    guid = entry(project, SPLIT)["guid"]
    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    report = project.build(output=output)
    assert [d.tagged for d in report.departed] == [True]
    assert "dlcards::removed" in package_notes(output)[guid][1]


def test_removed_line_escapes_the_path(project: Project) -> None:
    """The file name in the removed line is text, never markup."""
    project.write("a<b>&c.md", "### Why?\n\n**Answer:** Because.\n\n### How?\n\n**Answer:** So.\n")
    project.build()
    project.write("a<b>&c.md", "### Why?\n\n**Answer:** Because.\n")
    project.clock.advance()
    project.build()
    [package] = project.decks.glob("*.apkg")
    answers = [fields[1] for fields, tags in package_notes(package).values() if "dlcards::removed" in tags]
    assert answers == [
        '<div class="dlc-removed">Removed from your notes (a&lt;b&gt;&amp;c.md). '
        "Delete this note in Anki: search tag:dlcards::removed</div>\n<p>So.</p>"
    ]


def test_without_the_last_package_a_removed_question_is_found_by_its_id(project: Project) -> None:
    """When the package of the last build is gone (a fresh clone: packages are not
    committed), a question that leaves has no content to emit: it is reported untagged,
    and the search selects it by its ID. Nothing is invented in its place."""
    project.write("ml/basics.md", BASICS)
    project.build()
    guid = entry(project, SPLIT)["guid"]
    (project.decks / "ml.apkg").unlink()
    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    report = project.build()
    assert [(d.guid, d.tagged) for d in report.departed] == [(guid, False)]
    assert report.removed_search == f'"ID:{guid}"'
    assert guid not in package_notes(project.decks / "ml.apkg")
    assert "removed_note" not in entry(project, SPLIT)


def test_a_package_that_does_not_match_the_lockfile_is_not_trusted(project: Project) -> None:
    """Content read back from a package is used only if it is what the lockfile says the
    note last had: a package from an older build is ignored."""
    project.write("ml/basics.md", BASICS)
    project.build()
    old_package = (project.decks / "ml.apkg").read_bytes()
    project.write("ml/basics.md", BASICS.replace("unseen data.", "data it has never seen."))
    project.clock.advance()
    project.build()
    (project.decks / "ml.apkg").write_bytes(old_package)
    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    report = project.build()
    assert [d.tagged for d in report.departed] == [False]
    assert report.removed_search.startswith('"ID:')


def test_legacy_removed_entries_are_reported_by_id_and_the_others_by_tag(project: Project) -> None:
    """A question that left the notes under a lockfile of format 2 (no content kept) is
    reported untagged beside newly removed ones: the search selects both kinds."""
    project.write("ml/basics.md", BASICS)
    project.write("old.md", "### Gone long ago?\n\n**Answer:** Yes.\n")
    project.build()
    (project.notes / "old.md").unlink()
    project.clock.advance()
    project.build()
    # As format 2 would have written it: no digests, no kept content.
    lock_path = project.decks / LOCK_NAME
    data = json.loads(lock_path.read_text(encoding="utf-8"))
    data["dlcards_lock"] = 2
    for note in data["notes"]:
        for key in ("field_hashes", "tags_hash", "removed_note"):
            note.pop(key, None)
    data["checksum"] = lock_checksum(data)
    lock_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    old = entry(project, "Gone long ago?")["guid"]

    project.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    report = project.build()
    split = entry(project, SPLIT)["guid"]
    assert {(d.guid, d.tagged) for d in report.departed} == {(old, False), (split, True)}
    assert report.removed_search == f'tag:dlcards::removed OR "ID:{old}"'
    assert json.loads(lock_path.read_text(encoding="utf-8"))["dlcards_lock"] == FORMAT


def test_build_killed_after_the_lockfile_is_finished_by_the_next_build(
    project: Project, tmp_path: Path
) -> None:
    """A build that wrote the lockfile (with a removed question's content) and died
    before its packages is finished by the next build: the same packages, byte for
    byte, as an uninterrupted build wrote, the removed note tagged with the same mod."""
    project.write("ml/basics.md", BASICS)
    project.build()
    reference = Project(root=tmp_path / "reference", clock=project.clock)
    shutil.copytree(project.root, reference.root)
    project.write("ml/basics.md", WITHOUT_SPLIT)
    reference.write("ml/basics.md", WITHOUT_SPLIT)
    project.clock.advance()
    reference.build()

    def killed(path: Path, data: bytes) -> None:
        raise KeyboardInterrupt  # as if the process died here

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_module, "write_package", killed)
        with pytest.raises(KeyboardInterrupt):
            project.build()
    assert (project.decks / LOCK_NAME).read_bytes() == (reference.decks / LOCK_NAME).read_bytes()
    project.clock.advance(600)
    project.build()
    assert (project.decks / "ml.apkg").read_bytes() == (reference.decks / "ml.apkg").read_bytes()
    assert (project.decks / LOCK_NAME).read_bytes() == (reference.decks / LOCK_NAME).read_bytes()


def test_kept_content_in_a_note_that_was_not_removed_is_refused(project: Project) -> None:
    """The lockfile's schema: only removed notes carry content, with exactly the fields."""
    project.write("ml/basics.md", BASICS)
    project.build()
    lock_path = project.decks / LOCK_NAME
    data = json.loads(lock_path.read_text(encoding="utf-8"))
    fields = dict.fromkeys(["Question", "Answer", "Discussion", "Source", "ID"], "")
    data["notes"][0]["removed_note"] = {"fields": fields, "tags": []}
    data["checksum"] = lock_checksum(data)
    lock_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LockfileError, match="'removed_note' belongs to removed notes only"):
        project.build()
    data["notes"][0]["removed"] = True
    del data["notes"][0]["removed_note"]["fields"]["ID"]
    data["checksum"] = lock_checksum(data)
    lock_path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LockfileError, match="must have exactly the fields"):
        project.build()


def test_read_package_notes_of_a_missing_or_broken_package_is_empty(tmp_path: Path) -> None:
    """Reading back is a fallback: a missing or damaged package gives nothing, no error."""
    assert read_package_notes(tmp_path / "none.apkg", {"x"}) == {}
    (tmp_path / "bad.apkg").write_bytes(b"PK\x03\x04 not a zip")
    assert read_package_notes(tmp_path / "bad.apkg", {"x"}) == {}


# ---------------------------------------------------------------------------
# forget
# ---------------------------------------------------------------------------


@pytest.fixture
def two_removed(project: Project) -> Project:
    project.write("ml/basics.md", BASICS)
    project.build()
    project.write("ml/basics.md", "### 1. What is overfitting?\n\n**Answer:** Noise.\n")
    project.clock.advance()
    project.build()
    return project


def test_forget_drops_every_removed_question_and_the_next_build_no_longer_emits_them(
    two_removed: Project,
) -> None:
    """`forget` without guids drops all removed entries (returning them); the lockfile
    keeps the others; the next build emits and reports none of them."""
    project = two_removed
    lock = json.loads((project.decks / LOCK_NAME).read_text(encoding="utf-8"))
    removed = {n["guid"] for n in lock["notes"] if n.get("removed")}
    assert len(removed) == 2
    dropped = forget_removed(project.decks)
    assert {e.guid for e in dropped} == removed and all(e.removed for e in dropped)
    after = json.loads((project.decks / LOCK_NAME).read_text(encoding="utf-8"))
    assert [n["question"] for n in after["notes"]] == ["What is overfitting?"]
    assert forget_removed(project.decks) == []
    project.clock.advance()
    report = project.build()
    assert report.departed == () and report.removed_search == ""
    assert set(package_notes(project.decks / "ml.apkg")).isdisjoint(removed)


def test_forget_given_guids_drops_only_those(two_removed: Project) -> None:
    """`forget GUID` drops that removed question and keeps the other."""
    project = two_removed
    split = entry(project, SPLIT)["guid"]
    assert [e.title for e in forget_removed(project.decks, [split])] == [SPLIT]
    report = project.build()
    assert [d.title for d in report.departed] == ["What does the learning rate control?"]


def test_forget_refuses_unknown_or_live_guids_and_then_drops_nothing(two_removed: Project) -> None:
    """A guid that is not a removed question is an error naming it; nothing is dropped."""
    project = two_removed
    before = (project.decks / LOCK_NAME).read_bytes()
    live = entry(project, "What is overfitting?")["guid"]
    split = entry(project, SPLIT)["guid"]
    with pytest.raises(NotRemovedError, match="no note with id 'nope'"):
        forget_removed(project.decks, [split, "nope"])
    with pytest.raises(NotRemovedError, match=f"note '{live}' .* is still in your notes"):
        forget_removed(project.decks, [live])
    assert (project.decks / LOCK_NAME).read_bytes() == before


def test_forget_without_a_decks_folder_creates_nothing(tmp_path: Path) -> None:
    """Nothing to forget: no folder, no lock file, no lockfile made."""
    assert forget_removed(tmp_path / "decks") == []
    assert not (tmp_path / "decks").exists()


def test_forget_waits_for_a_running_build(two_removed: Project) -> None:
    """`forget` takes the build lock: while a build holds it, forget says so and waits."""
    fcntl = pytest.importorskip("fcntl", reason="the build lock is an flock, which only POSIX systems have")

    project = two_removed
    busy = threading.Event()
    result: list[int] = []
    with open(project.decks / ".dlcards.build-lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: result.append(len(forget_removed(project.decks, on_busy=busy.set)))
        )
        worker.start()
        assert busy.wait(10)
        assert result == [] and entry(project, SPLIT)["removed"] is True
    worker.join(10)
    assert result == [2]


# ---------------------------------------------------------------------------
# through Anki's importer
# ---------------------------------------------------------------------------


@pytest.fixture
def anki(tmp_path: Path) -> Iterator[Anki]:
    collection = Anki(tmp_path / "anki" / "collection.anki2")
    try:
        yield collection
    finally:
        collection.close()


def test_anki_removed_note_is_tagged_in_place_then_deleted_forgotten_and_brought_back(
    project: Project, anki: Anki
) -> None:
    """Build, import, study, remove a question, rebuild, re-import: the same note is
    updated in place (tagged, the line visible, reviews kept) and the search finds exactly
    it; a rebuild does not apply it again. Deleted in Anki and forgotten, it does not come
    back; its text restored in the notes, it comes back as a new note."""
    project.write("ml/basics.md", BASICS)
    report1 = real_build(project)
    anki.import_packages(packages(project, report1))
    lock1 = read_lock(project)
    split = next(g for g, e in lock1.items() if e["question"] == SPLIT)
    nid = anki.note(split).id
    anki.answer(split, EASY)
    revlog = anki.revlog()
    scheduling = anki.scheduling()

    project.write("ml/basics.md", WITHOUT_SPLIT)
    report2 = real_build(project)
    assert report2.removed_search == "tag:dlcards::removed"
    imported = anki.import_packages(packages(project, report2))
    assert (imported.new, imported.updated) == (set(), {split})
    assert imported.duplicate == set(lock1) - {split}
    note = anki.note(split)
    assert note.id == nid
    assert "dlcards::removed" in note.tags
    assert note["Answer"].startswith(REMOVED_LINE)
    assert "unseen data" in note["Answer"]
    assert note["Question"] == SPLIT
    assert list(anki.c.find_notes(report2.removed_search)) == [nid]
    assert re.search(r"^\.dlc-removed \{", anki.dlcards_notetype()["css"], re.M)  # the line is styled
    assert anki.revlog() == revlog and anki.scheduling() == scheduling
    anki.assert_schema_intact()

    time.sleep(1.05)  # a later second: a rebuild that re-stamped the removal would show
    report3 = real_build(project)
    again = anki.import_packages(packages(project, report3))
    assert (again.new, again.updated) == (set(), set())
    assert split in again.duplicate

    anki.c.remove_notes([nid])
    assert [e.guid for e in forget_removed(project.decks)] == [split]
    report4 = real_build(project)
    assert report4.departed == ()
    after_forget = anki.import_packages(packages(project, report4))
    assert (after_forget.new, after_forget.updated) == (set(), set())
    assert anki.c.note_count() == 2
    assert list(anki.c.find_notes("tag:dlcards::removed")) == []

    project.write("ml/basics.md", BASICS)
    report5 = real_build(project)
    back = anki.import_packages(packages(project, report5))
    assert len(back.new) == 1 and back.updated == set()
    [guid] = back.new
    restored = anki.note(guid)
    assert restored["Question"] == SPLIT
    assert "dlcards::removed" not in restored.tags
    assert "dlc-removed" not in restored["Answer"]
    assert anki.c.note_count() == 3
    anki.assert_schema_intact()
    anki.assert_healthy()


def test_anki_restored_question_loses_the_tag_and_the_line_on_the_same_note(
    project: Project, anki: Anki
) -> None:
    """Removed, imported, then restored in the notes without deleting it in Anki: the
    same note comes back untagged, without the line, its reviews kept."""
    project.write("ml/basics.md", BASICS)
    anki.import_packages(packages(project, real_build(project)))
    split = next(g for g, e in read_lock(project).items() if e["question"] == SPLIT)
    original = anki.note(split)
    nid, answer, tags = original.id, original["Answer"], sorted(original.tags)
    anki.answer(split, EASY)
    revlog = anki.revlog()

    project.write("ml/basics.md", WITHOUT_SPLIT)
    anki.import_packages(packages(project, real_build(project)))
    assert "dlcards::removed" in anki.note(split).tags

    project.write("ml/basics.md", BASICS)
    report = real_build(project)
    imported = anki.import_packages(packages(project, report))
    assert (imported.new, imported.updated) == (set(), {split})
    note = anki.note(split)
    assert note.id == nid
    assert sorted(note.tags) == tags
    assert note["Answer"] == answer
    assert list(anki.c.find_notes("tag:dlcards::removed")) == []
    assert anki.revlog() == revlog
    anki.assert_schema_intact()
    anki.assert_healthy()


def test_questions_removed_at_different_times_keep_one_order_in_the_package(project: Project) -> None:
    """Removed notes sit in their package by file and question, whichever left first, so
    a rebuild with nothing changed after a second removal writes the very same bytes."""
    project.write(
        "a.md",
        "### A first?\n\n**Answer:** 1.\n\n### B second?\n\n**Answer:** 2.\n\n### Stay?\n\n**Answer:** 3.\n",
    )
    project.build()
    project.write("a.md", "### B second?\n\n**Answer:** 2.\n\n### Stay?\n\n**Answer:** 3.\n")
    project.clock.advance()
    project.build()
    project.write("a.md", "### Stay?\n\n**Answer:** 3.\n")
    project.clock.advance()
    project.build()
    package = (project.decks / "a.apkg").read_bytes()
    project.clock.advance()
    project.build()
    assert (project.decks / "a.apkg").read_bytes() == package
