"""`plan`: what the next build and import will do, said from the notes and the lockfile,
without writing anything; its prediction is what the build then does."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from conftest import Project

from dlcards.build import BuildOptions
from dlcards.errors import BuildFailed, LockfileError
from dlcards.lockfile import LOCK_NAME, lock_checksum
from dlcards.plan import Plan, format_plan_text, format_removed_notice, plan_build, plan_to_json

BASICS = """\
---
tags: [ml]
---
### 1. What is overfitting?

**Answer:** A model fits the noise of its training data.

### 2. What does the learning rate control?

**Answer:** The size of each step.

### 3. Why split data into training and validation sets?

**Answer:** To estimate performance on unseen data.

### 4. What is a tensor?

**Answer:** A multi-dimensional array.

### 5. What is a loss function?

**Answer:** What training minimizes.
"""

BASICS_V2 = """\
---
tags: [ml]
---
### 1. What is overfitting?

**Answer:** A model fits noise.

### 2. What does the learning rate control in SGD?

**Answer:** How far each update moves.

### 5. What is a loss function?

**Answer:** What training minimizes.

### 6. What is dropout?

**Answer:** Zeroing random units while training.
"""

TERMS = (
    "### What is an epoch?\n\n**Answer:** One pass over the data.\n\n"
    "### What is a batch?\n\n**Answer:** A slice.\n"
)
PROBABILITY = "### What is a random variable?\n\n**Answer:** A function of outcomes.\n"


def options(project: Project) -> BuildOptions:
    return BuildOptions(notes_dir=project.notes, decks_dir=project.decks)


def plan(project: Project) -> Plan:
    return plan_build(options(project), clock=project.clock)


@pytest.fixture
def edited(project: Project) -> Project:
    """v1 built; then every kind of change: an answer edited, a question reworded (and
    its answer), one removed, one moved to another deck, a file renamed (its deck with
    it), one question added, one file left alone."""
    project.write("ml/basics.md", BASICS)
    project.write("ml/old-name.md", TERMS)
    project.write("stats/probability.md", PROBABILITY)
    project.build()
    project.write("ml/basics.md", BASICS_V2)
    project.write("ml/core.md", "### 1. What is a tensor?\n\n**Answer:** A multi-dimensional array.\n")
    (project.notes / "ml/old-name.md").rename(project.notes / "ml/new-name.md")
    project.clock.advance()
    return project


def test_plan_text_says_what_the_import_will_do(edited: Project) -> None:
    """One line per package (changed fields of each update, alike ones grouped), then
    new, updated, moved, renamed and removed questions, and the search for the removed."""
    assert format_plan_text(plan(edited)) == (
        "decks/ml.apkg: 1 new, 5 updated (Answer; Question, Answer; Source, Tags; Source x2), "
        "1 unchanged, 1 removed\n"
        "decks/stats.apkg: 0 new, 0 updated, 1 unchanged\n"
        "new:\n"
        "  notes/ml/basics.md:16: What is dropout?\n"
        "updated:\n"
        "  notes/ml/basics.md:4: What is overfitting? (Answer)\n"
        "  notes/ml/basics.md:8: What does the learning rate control in SGD? (Question, Answer)\n"
        "  notes/ml/core.md:1: What is a tensor? (Source, Tags)\n"
        "  notes/ml/new-name.md:1: What is an epoch? (Source)\n"
        "  notes/ml/new-name.md:5: What is a batch? (Source)\n"
        "moved deck:\n"
        "  notes/ml/core.md:1: What is a tensor? "
        "(Ml::Basics -> Ml::Core; Anki keeps its card in Ml::Basics)\n"
        "renamed deck:\n"
        "  Ml::Old Name -> Ml::New Name (2 questions): Anki will make a second deck Ml::New Name "
        "and keep the cards in Ml::Old Name\n"
        "removed from notes:\n"
        "  notes/ml/basics.md: Why split data into training and validation sets?\n"
        "  Anki search: tag:dlcards::removed\n"
    )


def test_plan_in_the_second_of_the_last_build_neither_waits_nor_fails(project: Project) -> None:
    """An edit planned in the very second of the last build: the plan says "updated"
    at once (the build would wait for the next second to stamp it; a plan only predicts)."""
    project.write("ml/basics.md", BASICS)
    project.build()
    project.write("ml/basics.md", BASICS.replace("noise of its training data", "noise"))
    predicted = plan(project)
    assert [p.count("updated") for p in predicted.packages] == [1]
    assert project.clock.waited == []


def test_plan_of_unchanged_notes_is_one_line_per_package(project: Project) -> None:
    """Nothing changed: the package lines and nothing else."""
    project.write("ml/basics.md", BASICS)
    project.build()
    project.clock.advance(3600)
    assert format_plan_text(plan(project)) == "decks/ml.apkg: 0 new, 0 updated, 5 unchanged\n"


def test_plan_json_has_a_stable_shape(edited: Project) -> None:
    """The JSON: fixed keys in a fixed order, every note of every package with its status,
    and the moves, renames and removals with guids."""
    data = plan_to_json(plan(edited))
    assert json.loads(json.dumps(data)) == data
    assert list(data) == [
        "packages",
        "stale_packages",
        "moved",
        "renamed_decks",
        "removed",
        "removed_search",
        "rematches",
        "warnings",
    ]
    ml, stats = data["packages"]
    assert list(ml) == ["path", "new", "updated", "unchanged", "removed", "notes"]
    assert [ml[k] for k in ("path", "new", "updated", "unchanged", "removed")] == [
        "decks/ml.apkg",
        1,
        5,
        1,
        1,
    ]
    assert list(ml["notes"][0]) == ["guid", "status", "deck", "path", "line", "question", "changed"]
    by_question = {n["question"]: n for n in ml["notes"]}
    assert by_question["What does the learning rate control in SGD?"]["changed"] == ["Question", "Answer"]
    assert by_question["What is dropout?"]["status"] == "new"
    gone = by_question["Why split data into training and validation sets?"]
    assert (gone["status"], gone["line"], gone["deck"]) == ("removed", 0, "Ml::Basics")
    assert stats["notes"][0]["status"] == "unchanged"
    assert [(m["question"], m["from"], m["to"]) for m in data["moved"]] == [
        ("What is a tensor?", "Ml::Basics", "Ml::Core")
    ]
    assert data["moved"][0]["guid"] == by_question["What is a tensor?"]["guid"]
    assert data["renamed_decks"] == [{"from": "Ml::Old Name", "to": "Ml::New Name", "questions": 2}]
    assert data["removed"] == [
        {
            "guid": gone["guid"],
            "deck": "Ml::Basics",
            "path": "notes/ml/basics.md",
            "question": "Why split data into training and validation sets?",
            "tagged": True,
        }
    ]
    assert data["removed_search"] == "tag:dlcards::removed"
    assert [(r["question"], r["continues"]) for r in data["rematches"]] == [
        ("What does the learning rate control in SGD?", "What does the learning rate control?")
    ]
    assert data["stale_packages"] == [] and data["warnings"] == []


def test_plan_predicts_what_the_next_build_does(edited: Project) -> None:
    """Every note's status, each package's counts, the moves and the removals of the plan
    are what the build then reports."""
    predicted = plan(edited)
    report = edited.build()
    assert {n.guid: n.status for p in predicted.packages for n in p.notes} == dict(report.statuses)
    assert [
        (p.path, p.count("new"), p.count("updated"), p.count("unchanged"), p.count("removed"))
        for p in predicted.packages
    ] == [(f"decks/{s.filename}", s.new, s.updated, s.unchanged, s.removed) for s in report.packages]
    assert [(r.guid, r.tagged) for r in predicted.removed] == [(d.guid, d.tagged) for d in report.departed]
    assert predicted.removed_search == report.removed_search
    moved = {(m.question.title, m.old_deck, m.question.deck) for m in report.moves}
    renamed = {(r.old, r.new) for r in predicted.renames}
    assert renamed == {("Ml::Old Name", "Ml::New Name")} and renamed <= {t[1:] for t in moved}
    assert {(m.question, m.old_deck, m.new_deck) for m in predicted.moves} == {
        t for t in moved if t[1:] not in renamed
    }
    # After the build, the plan is that nothing changes but the removed question stays.
    assert format_plan_text(plan(edited)).splitlines()[:2] == [
        "decks/ml.apkg: 0 new, 0 updated, 7 unchanged, 1 removed",
        "decks/stats.apkg: 0 new, 0 updated, 1 unchanged",
    ]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]] | None:
    """Every file under folder with its bytes and modification time, and the folders' times."""
    if not folder.exists():
        return None
    found: dict[str, tuple[bytes, int]] = {".": (b"", folder.stat().st_mtime_ns)}
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        found[str(path.relative_to(folder))] = (
            path.read_bytes() if path.is_file() else b"",
            stat.st_mtime_ns,
        )
    return found


def test_plan_writes_nothing(edited: Project) -> None:
    """A plan leaves decks/ and notes/ exactly as they were: names, bytes, times."""
    decks, notes = snapshot(edited.decks), snapshot(edited.notes)
    plan(edited)
    assert snapshot(edited.decks) == decks
    assert snapshot(edited.notes) == notes


def test_plan_without_a_decks_folder_creates_none(project: Project) -> None:
    """Before the first build, everything is new and no decks folder appears."""
    project.write("ml/basics.md", BASICS)
    predicted = plan(project)
    assert [p.count("new") for p in predicted.packages] == [5]
    assert not project.decks.exists()


def test_plan_does_not_wait_for_a_running_build(edited: Project) -> None:
    """A plan reads; it takes no build lock, so a running build does not hold it up."""
    fcntl = pytest.importorskip("fcntl", reason="the build lock is an flock, which only POSIX systems have")

    done: list[Plan] = []
    with open(edited.decks / ".dlcards.build-lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        worker = threading.Thread(target=lambda: done.append(plan(edited)), daemon=True)
        worker.start()
        worker.join(30)
        assert len(done) == 1


def test_plan_tells_a_renamed_top_level_deck_and_its_stale_package(project: Project) -> None:
    """Notes moved from ml/ to ai/: the ml package goes, each deck is renamed."""
    project.write("ml/basics.md", BASICS)
    project.write("ml/terms.md", TERMS)
    project.build()
    (project.notes / "ml").rename(project.notes / "ai")
    project.clock.advance()
    text = format_plan_text(plan(project))
    assert text.splitlines()[:2] == [
        "decks/ai.apkg: 0 new, 7 updated (Source x7), 0 unchanged",
        "decks/ml.apkg: will be deleted (its decks have no questions left)",
    ]
    assert "moved deck:" not in text
    assert text.split("renamed deck:\n")[1] == (
        "  Ml::Basics -> Ai::Basics (5 questions): Anki will make a second deck Ai::Basics "
        "and keep the cards in Ml::Basics\n"
        "  Ml::Terms -> Ai::Terms (2 questions): Anki will make a second deck Ai::Terms "
        "and keep the cards in Ml::Terms\n"
    )
    assert plan_to_json(plan(project))["stale_packages"] == ["decks/ml.apkg"]


def test_a_deck_merged_into_an_existing_one_is_a_move_not_a_rename(project: Project) -> None:
    """All questions of a deck moving into a deck that already exists: moves, no rename."""
    project.write("ml/basics.md", BASICS)
    project.write("ml/terms.md", TERMS)
    project.build()
    (project.notes / "ml/terms.md").unlink()
    project.write("ml/basics.md", BASICS + "\n" + TERMS)
    project.clock.advance()
    predicted = plan(project)
    assert predicted.renames == ()
    assert sorted(m.question for m in predicted.moves) == ["What is a batch?", "What is an epoch?"]


def test_plan_after_a_format_2_lockfile_cannot_name_changed_fields(project: Project) -> None:
    """A lockfile from before per-field digests: updates are known, their fields are not."""
    project.write("ml/basics.md", BASICS)
    project.build()
    lock_path = project.decks / LOCK_NAME
    data = json.loads(lock_path.read_text(encoding="utf-8"))
    data["dlcards_lock"] = 2
    for note in data["notes"]:
        del note["field_hashes"], note["tags_hash"]
    data["checksum"] = lock_checksum(data)
    lock_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    project.write("ml/basics.md", BASICS.replace("noise of its training data", "noise"))
    project.clock.advance()
    predicted = plan(project)
    assert format_plan_text(predicted).splitlines() == [
        "decks/ml.apkg: 0 new, 1 updated (fields not recorded), 4 unchanged",
        "updated:",
        "  notes/ml/basics.md:4: What is overfitting? (fields not recorded)",
    ]
    assert plan_to_json(predicted)["packages"][0]["notes"][0]["changed"] is None


def test_plan_fails_where_the_build_would(project: Project) -> None:
    """Errors in the notes, or a damaged lockfile, fail the plan as they fail a build."""
    project.write("ml/basics.md", BASICS + "\n### 1. What is overfitting?\n\n**Answer:** Twice.\n")
    with pytest.raises(BuildFailed):
        plan(project)
    project.write("ml/basics.md", BASICS)
    project.build()
    lock_path = project.decks / LOCK_NAME
    lock_path.write_text(lock_path.read_text(encoding="utf-8").replace('"mod": 1', '"mod": 2', 1))
    with pytest.raises(LockfileError, match="checksum"):
        plan(project)


def test_removed_notice_for_the_build(edited: Project) -> None:
    """What `build` prints about removed questions: which, what to do, and the search."""
    report = edited.build()
    assert format_removed_notice(report.departed, report.removed_search, "notes") == (
        "1 question left the notes; Anki never deletes on import. After importing, delete its note "
        "in Anki's browser, then run `dlcards forget`:\n"
        "  notes/ml/basics.md: Why split data into training and validation sets?\n"
        "  Anki search: tag:dlcards::removed\n"
    )
    assert format_removed_notice((), "", "notes") == ""


def test_removed_notice_lists_at_most_the_limit(project: Project) -> None:
    """Many removed questions: the first ones, then how many more."""
    project.write("a.md", "".join(f"### Q{i}?\n\n**Answer:** {i}.\n\n" for i in range(4)))
    project.write("b.md", "### Stay?\n\n**Answer:** Yes.\n")
    project.build()
    os.remove(project.notes / "a.md")
    project.clock.advance()
    report = project.build()
    assert format_removed_notice(report.departed, report.removed_search, "notes", limit=2).splitlines() == [
        "4 questions left the notes; Anki never deletes on import. After importing, delete their notes "
        "in Anki's browser, then run `dlcards forget`:",
        "  notes/a.md: Q0?",
        "  notes/a.md: Q1?",
        "  ... and 2 more",
        "  Anki search: tag:dlcards::removed",
    ]
