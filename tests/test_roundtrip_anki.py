"""Round trips through Anki's own importer: build, import, study, edit, rebuild, re-import.

These tests drive the real Rust importer of the `anki` package with the options Anki
desktop pre-fills for a new profile, and pin the product promise: a re-import updates
exactly the notes whose content changed, adds only new questions, and keeps every
review and every edit the user made in Anki to the notes that did not change.

Anki updates a note only when the package's mod is strictly greater than the
collection's, and stamps the user's own edits with the real time. So these builds run
on the real clock (`time.time`, `time.sleep`), never on the FakeClock.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anki import import_export_pb2
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.notes import Note
from conftest import Project

from dlcards import notetype
from dlcards.build import BuildOptions, build
from dlcards.lockfile import LOCK_NAME
from dlcards.model import BuildReport
from dlcards.notetype import MODEL_ID, MODEL_NAME

_IF_NEWER = import_export_pb2.ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER

# Exactly what Anki desktop's import dialog pre-fills for a new profile.
DESKTOP_DEFAULTS = {
    "merge_notetypes": False,
    "update_notes": _IF_NEWER,
    "update_notetypes": _IF_NEWER,
    "with_scheduling": False,
    "with_deck_configs": False,
}

FIELD_NAMES = ["Question", "Answer", "Discussion", "Source", "ID"]
EASY, GOOD = 4, 3
_SCHEDULING = "did, ord, type, queue, due, ivl, factor, reps, lapses, left, odue, odid, flags"


# ---------------------------------------------------------------------------
# helpers: the project on the real clock, the lockfile, Anki
# ---------------------------------------------------------------------------


def real_build(project: Project) -> BuildReport:
    """A build on the real clock, so mods compare correctly with Anki's own edits."""
    options = BuildOptions(notes_dir=project.notes, decks_dir=project.decks)
    return build(options, clock=time.time, wait=time.sleep)


def read_lock(project: Project) -> dict[str, dict[str, Any]]:
    """The lockfile's note entries by guid."""
    data = json.loads((project.decks / LOCK_NAME).read_text(encoding="utf-8"))
    return {entry["guid"]: entry for entry in data["notes"]}


def guid_of(lock: dict[str, dict[str, Any]], question: str) -> str:
    found = [g for g, e in lock.items() if e["question"] == question and not e.get("removed")]
    assert len(found) == 1, f"{question!r} in lockfile: {found}"
    return found[0]


def packages(project: Project, report: BuildReport) -> list[Path]:
    return [project.decks / p.filename for p in report.packages]


def wait_past(epoch_second: int) -> None:
    """Sleep until the wall clock is in a later whole second than epoch_second."""
    while int(time.time()) <= epoch_second:
        time.sleep(epoch_second + 1 - time.time() + 0.01)


@dataclass
class Imported:
    """What the importer's log said, by guid, summed over the packages imported."""

    new: set[str]
    updated: set[str]
    duplicate: set[str]
    conflicting: int
    other_problems: int  # first-field matches, missing note types or decks, empty first fields
    found: int


class Anki:
    """A fresh collection in tmp_path, driven like a user of Anki desktop would."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.col: Collection | None = Collection(str(path))

    @property
    def c(self) -> Collection:
        assert self.col is not None
        return self.col

    def close(self) -> None:
        if self.col is not None:
            self.col.close(downgrade=False)
            self.col = None

    def import_packages(self, paths: list[Path]) -> Imported:
        new: set[str] = set()
        updated: set[str] = set()
        duplicate: set[str] = set()
        conflicting = other = found = 0
        options = ImportAnkiPackageOptions(**DESKTOP_DEFAULTS)
        for path in paths:
            log = self.c.import_anki_package(
                ImportAnkiPackageRequest(package_path=str(path), options=options)
            ).log
            found += log.found_notes
            new |= {self.guid(n.id.nid) for n in log.new}
            updated |= {self.guid(n.id.nid) for n in log.updated}
            duplicate |= {self.guid(n.id.nid) for n in log.duplicate}
            conflicting += len(log.conflicting)
            other += (
                len(log.first_field_match)
                + len(log.missing_notetype)
                + len(log.missing_deck)
                + len(log.empty_first_field)
            )
        return Imported(new, updated, duplicate, conflicting, other, found)

    def guid(self, nid: int) -> str:
        return str(self.c.db.scalar("select guid from notes where id = ?", nid))

    def note(self, guid: str) -> Note:
        nid = self.c.db.scalar("select id from notes where guid = ?", guid)
        assert nid, f"no note with guid {guid!r} in the collection"
        return self.c.get_note(nid)

    def guids(self) -> set[str]:
        return {str(g) for g in self.c.db.list("select guid from notes")}

    def decks_of(self, guid: str) -> list[str]:
        note = self.note(guid)
        return sorted(self.c.decks.name(self.c.get_card(cid).did) for cid in note.card_ids())

    def answer(self, guid: str, ease: int) -> None:
        """Study every card of a note once, through the scheduler."""
        for cid in sorted(self.note(guid).card_ids()):
            # One answer a millisecond, as a person gives them: two in one millisecond
            # share a review id, which Check Database may then report as repaired.
            start = time.time_ns() // 1_000_000
            while time.time_ns() // 1_000_000 == start:
                pass
            card = self.c.get_card(cid)
            card.start_timer()
            self.c.sched.answerCard(card, ease)  # type: ignore[arg-type]

    def scheduling(self) -> dict[int, tuple[Any, ...]]:
        rows = self.c.db.all(f"select id, {_SCHEDULING} from cards")
        return {row[0]: tuple(row[1:]) for row in rows}

    def revlog(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.c.db.all("select * from revlog order by id")]

    def notetype_names(self) -> list[str]:
        return sorted(n.name for n in self.c.models.all_names_and_ids())

    def dlcards_notetype(self) -> dict[str, Any]:
        """The note type as stored now: read from the backend, since `col.models.get`
        answers from a Python-side cache that an import does not refresh."""
        assert MODEL_ID in {n.id for n in self.c.models.all_names_and_ids()}, "no dlcards note type"
        model: dict[str, Any] = json.loads(self.c._backend.get_notetype_legacy(MODEL_ID))
        return model

    def assert_schema_intact(self) -> None:
        """One dlcards note type, with its frozen fields, holding every note: no "+" copy."""
        names = self.notetype_names()
        assert [n for n in names if n.startswith(MODEL_NAME)] == [MODEL_NAME], names
        assert not [n for n in names if n.endswith("+")], names
        model = self.dlcards_notetype()
        assert [f["name"] for f in model["flds"]] == FIELD_NAMES
        assert [t["name"] for t in model["tmpls"]] == [notetype.TEMPLATE_NAME]
        mids = {int(m) for m in self.c.db.list("select distinct mid from notes")}
        assert mids == {MODEL_ID}

    def checks(self) -> tuple[list[str], Any]:
        """check_database and the media check, on a copy (the check repairs in place)."""
        self.close()
        copy_dir = self.path.parent.with_name(self.path.parent.name + "-check")
        shutil.rmtree(copy_dir, ignore_errors=True)
        copy_dir.mkdir()
        shutil.copy2(self.path, copy_dir / "collection.anki2")
        copy = Collection(str(copy_dir / "collection.anki2"))
        try:
            problems = list(copy._backend.check_database())
            media = copy.media.check()
        finally:
            copy.close(downgrade=False)
            shutil.rmtree(copy_dir, ignore_errors=True)
            self.col = Collection(str(self.path))
        return problems, media

    def assert_healthy(self) -> None:
        problems, media = self.checks()
        assert problems == []
        assert list(media.missing) == []
        assert list(media.unused) == []
        assert list(media.missing_media_notes) == []


@pytest.fixture
def anki(tmp_path: Path) -> Iterator[Anki]:
    collection = Anki(tmp_path / "anki" / "collection.anki2")
    try:
        yield collection
    finally:
        collection.close()


# ---------------------------------------------------------------------------
# the notes of the full scenario
# ---------------------------------------------------------------------------

BASICS_V1 = """\
---
tags: [ml, basics]
---
# Basics

### 1. What is overfitting?

**Answer:**

A model fits the noise of its training data and generalizes poorly to new data.

**Discussion Points:**

- How does regularization help?
- Why does more data help?

### 2. What does the learning rate control?

**Answer:**

The size of each step gradient descent takes along the negative gradient.

### 3. Why split data into training and validation sets?

**Answer:**

To estimate performance on unseen data and tune hyperparameters without touching the test set.
"""

BASICS_V2 = """\
---
tags: [ml, basics]
---
# Basics

### 1) What is overfitting?

**Answer:**

A model fits the noise of its training data and generalizes poorly to new data.

**Discussion Points:**

- How does regularization help?
- Why does more data help?

### 2) What does the learning rate control?

**Answer:**

How far each parameter update moves: too large diverges, too small crawls.
"""

EVALUATION_V2 = """\
---
deck: Ml::Basics
tags: [ml, basics]
---
### 1. Why split data into training and validation sets?

**Answer:**

To estimate performance on unseen data and tune hyperparameters without touching the test set.
"""

METRICS_V1 = """\
---
tags: [ml, metrics]
---
### 1. What does precision measure?

**Answer:**

The fraction of predicted positives that are truly positive.

### 2. What does recall measure?

**Answer:**

The fraction of actual positives that the model finds.

### 3. What is the F1 scroe?

**Answer:**

The harmonic mean of precision and recall.
"""

METRICS_V2 = """\
---
tags: [ml, metrics]
---
### 1. What does recall measure?

**Answer:**

The fraction of actual positives that the model finds.

### 2. What does precision measure?

**Answer:**

The fraction of predicted positives that are truly positive.

### 3. What is the F1 score?

**Answer:**

The harmonic mean of precision and recall.
"""

PROBABILITY_V1 = """\
---
tags: [stats]
---
### 1. What is a random variable?

**Answer:**

A function that maps the outcomes of a random experiment to numbers.

### 2. What does the law of large numbers state?

**Answer:**

The average of many independent samples approaches the expected value.
"""

PROBABILITY_V2 = """\
---
tags: [stats, probability]
---
### 1. What is a p-value?

**Answer:**

The probability, under the null hypothesis, of a result at least as extreme as the observed one.

### 2. What is a random variable?

**Answer:**

A function that maps the outcomes of a random experiment to numbers.

### 3. What does the law of large numbers state?

**Answer:**

The average of many independent samples approaches the expected value.
"""

OVERFITTING = "What is overfitting?"
LEARNING_RATE = "What does the learning rate control?"
SPLIT = "Why split data into training and validation sets?"
PRECISION = "What does precision measure?"
RECALL = "What does recall measure?"
F1_TYPO = "What is the F1 scroe?"
F1 = "What is the F1 score?"
RANDOM_VARIABLE = "What is a random variable?"
LLN = "What does the law of large numbers state?"
P_VALUE = "What is a p-value?"

USER_ANSWER = "<b>In my own words:</b> the share of real positives that get caught."


def write_v1(project: Project) -> None:
    project.write("ml/basics.md", BASICS_V1)
    project.write("ml/metrics.md", METRICS_V1)
    project.write("stats/probability.md", PROBABILITY_V1)


def test_full_scenario_updates_exactly_the_changed_notes_and_keeps_reviews_and_user_edits(
    project: Project, anki: Anki
) -> None:
    """The product promise, end to end through Anki's importer with desktop defaults.

    After a first import, some studying and a user's own edit in Anki, the notes are
    edited in every way people edit notes (an answer reworded, a typo fixed in a question,
    questions renumbered and reordered, one moved to another file, a file's tags changed,
    one question added). The re-import then adds exactly the one new question, updates
    exactly the notes whose content changed, finds every other note "already present",
    keeps every review and the user's edit of an unchanged note, and never forks the note
    type or leaves a conflicting note.
    """
    # Anki's own presets for a new profile are the options used here.
    presets = anki.c._backend.get_import_anki_package_presets()
    assert {k: getattr(presets, k) for k in DESKTOP_DEFAULTS} == DESKTOP_DEFAULTS

    write_v1(project)
    report1 = real_build(project)
    assert sorted(p.filename for p in report1.packages) == ["ml.apkg", "stats.apkg"]
    assert sum(p.new for p in report1.packages) == 8
    lock1 = read_lock(project)
    assert len(lock1) == 8

    first = anki.import_packages(packages(project, report1))
    assert first.new == set(lock1)
    assert (first.updated, first.duplicate, first.conflicting, first.other_problems) == (set(), set(), 0, 0)
    assert anki.c.note_count() == 8
    assert anki.c.card_count() == 8
    anki.assert_schema_intact()
    anki.assert_healthy()
    assert anki.decks_of(guid_of(lock1, OVERFITTING)) == ["Ml::Basics"]
    assert anki.decks_of(guid_of(lock1, RANDOM_VARIABLE)) == ["Stats::Probability"]
    overfitting = anki.note(guid_of(lock1, OVERFITTING))
    assert overfitting["ID"] == guid_of(lock1, OVERFITTING)
    assert overfitting["Source"] == "ml/basics.md"
    assert "regularization" in overfitting["Discussion"]
    assert sorted(overfitting.tags) == ["basics", "ml"]

    # The user studies: unchanged notes and notes that will change alike.
    for title, ease in [(OVERFITTING, EASY), (LEARNING_RATE, EASY), (F1_TYPO, GOOD),
                        (RANDOM_VARIABLE, EASY), (RECALL, EASY)]:
        anki.answer(guid_of(lock1, title), ease)
    scheduling_before = anki.scheduling()
    revlog_before = anki.revlog()
    assert len(revlog_before) == 5
    assert sum(1 for s in scheduling_before.values() if s[7] > 0) == 5  # reps

    # The user rewrites the answer of a note that will not change in the notes.
    recall = anki.note(guid_of(lock1, RECALL))
    recall["Answer"] = USER_ANSWER
    anki.c.update_note(recall)
    user_mod = anki.note(guid_of(lock1, RECALL)).mod
    # Build 2 runs in a later second than the user's edit: a build that stamped every
    # note with "now" would then overwrite it, and this test would see it.
    wait_past(user_mod)

    project.write("ml/basics.md", BASICS_V2)
    project.write("ml/evaluation.md", EVALUATION_V2)
    project.write("ml/metrics.md", METRICS_V2)
    project.write("stats/probability.md", PROBABILITY_V2)
    report2 = real_build(project)
    lock2 = read_lock(project)

    # The lockfile says which notes changed; it must be exactly the ones edited.
    assert set(lock2) == set(lock1) | {guid_of(lock2, P_VALUE)}
    new_guids = set(lock2) - set(lock1)
    changed_guids = {g for g in lock1 if lock2[g]["hash"] != lock1[g]["hash"]}
    assert new_guids == {guid_of(lock2, P_VALUE)}
    assert changed_guids == {guid_of(lock1, t) for t in (LEARNING_RATE, F1_TYPO, SPLIT, RANDOM_VARIABLE, LLN)}
    assert guid_of(lock2, F1) == guid_of(lock1, F1_TYPO)
    assert [(r.old_title, r.question.title) for r in report2.rematches] == [(F1_TYPO, F1)]
    assert report2.moves == ()
    assert report2.departed == ()
    assert sum(p.new for p in report2.packages) == 1
    assert sum(p.updated for p in report2.packages) == 5
    assert sum(p.unchanged for p in report2.packages) == 3

    second = anki.import_packages(packages(project, report2))
    assert second.new == new_guids
    assert second.updated == changed_guids
    assert second.duplicate == set(lock2) - new_guids - changed_guids
    assert second.duplicate == {guid_of(lock1, t) for t in (OVERFITTING, PRECISION, RECALL)}
    assert (second.conflicting, second.other_problems, second.found) == (0, 0, 9)
    assert anki.c.note_count() == 9
    assert anki.c.card_count() == 9
    assert anki.guids() == set(lock2)

    # Every review kept: the revlog and every existing card's scheduling untouched.
    assert anki.revlog() == revlog_before
    scheduling_after = anki.scheduling()
    assert {cid: scheduling_after[cid] for cid in scheduling_before} == scheduling_before

    # The user's edit of the unchanged note survives, with its mod.
    recall = anki.note(guid_of(lock1, RECALL))
    assert recall["Answer"] == USER_ANSWER
    assert recall.mod == user_mod

    # The changes reached Anki.
    assert "too large diverges" in anki.note(guid_of(lock1, LEARNING_RATE))["Answer"]
    assert anki.note(guid_of(lock1, F1_TYPO))["Question"] == F1
    assert anki.note(guid_of(lock1, SPLIT))["Source"] == "ml/evaluation.md"
    assert anki.decks_of(guid_of(lock1, SPLIT)) == ["Ml::Basics"]
    for title in (RANDOM_VARIABLE, LLN, P_VALUE):
        assert sorted(anki.note(guid_of(lock2, title)).tags) == ["probability", "stats"]
    assert anki.decks_of(guid_of(lock2, P_VALUE)) == ["Stats::Probability"]

    anki.assert_schema_intact()
    anki.assert_healthy()

    # What made it so: only changed notes got a new mod, above the old one, never in the future.
    assert {g for g in lock1 if lock2[g]["mod"] != lock1[g]["mod"]} == changed_guids
    assert all(lock2[g]["mod"] > lock1[g]["mod"] for g in changed_guids)
    assert all(lock2[g]["mod"] <= time.time() for g in lock2)


def test_rebuild_with_nothing_changed_gives_identical_bytes_and_a_no_op_import(
    project: Project, anki: Anki
) -> None:
    """An unchanged rebuild writes byte-identical packages; re-importing them adds and
    updates nothing, every note being "already present"."""
    write_v1(project)
    report1 = real_build(project)
    first = anki.import_packages(packages(project, report1))
    assert len(first.new) == 8
    before = {p.name: p.read_bytes() for p in packages(project, report1)}
    lock_before = read_lock(project)
    time.sleep(1.05)  # a later second: a build that followed the clock would differ

    report2 = real_build(project)
    assert [(p.new, p.updated) for p in report2.packages] == [(0, 0), (0, 0)]
    assert {p.name: p.read_bytes() for p in packages(project, report2)} == before
    assert read_lock(project) == lock_before

    second = anki.import_packages(packages(project, report2))
    assert (second.new, second.updated) == (set(), set())
    assert second.duplicate == set(lock_before)
    assert (second.conflicting, second.other_problems) == (0, 0)
    assert anki.c.note_count() == 8


def test_same_question_in_two_decks_is_two_notes(project: Project, anki: Anki) -> None:
    """The same question text (and answer) in two decks gives two notes with distinct
    guids, and Anki imports both, each into its own deck."""
    text = """\
    ### 1. What is variance?

    **Answer:**

    The expected squared deviation from the mean.
    """
    project.write("ml/basics.md", text)
    project.write("stats/basics.md", text)
    report = real_build(project)
    lock = read_lock(project)
    assert len(lock) == 2
    by_deck = {e["deck"]: g for g, e in lock.items()}
    assert sorted(by_deck) == ["Ml::Basics", "Stats::Basics"]

    imported = anki.import_packages(packages(project, report))
    assert imported.new == set(lock)
    assert (imported.updated, imported.duplicate, imported.conflicting, imported.other_problems) == (
        set(), set(), 0, 0
    )
    assert anki.c.note_count() == 2
    for deck, guid in by_deck.items():
        assert anki.decks_of(guid) == [deck]
        assert anki.note(guid)["Question"] == "What is variance?"


def test_deck_change_keeps_the_note_and_anki_keeps_its_cards_in_the_old_deck(
    project: Project, anki: Anki
) -> None:
    """A file whose front matter moves it to another deck keeps its notes (same guids),
    the build reports each move, and after re-import Anki still has the cards in the
    old deck, even for a note whose answer changed at the same time and was updated."""
    v1 = """\
    ---
    deck: Ml::Basics
    ---
    ### 1. What is a tensor?

    **Answer:**

    A multi-dimensional array of numbers.

    ### 2. What is an epoch?

    **Answer:**

    One pass over the training data.
    """
    project.write("ml/terms.md", v1)
    report1 = real_build(project)
    lock1 = read_lock(project)
    anki.import_packages(packages(project, report1))
    tensor, epoch = guid_of(lock1, "What is a tensor?"), guid_of(lock1, "What is an epoch?")
    anki.answer(tensor, EASY)
    revlog_before = anki.revlog()

    v2 = v1.replace("deck: Ml::Basics", "deck: Ml::Foundations").replace(
        "One pass over the training data.", "One full pass of the optimizer over the training set."
    )
    project.write("ml/terms.md", v2)
    report2 = real_build(project)
    lock2 = read_lock(project)
    assert set(lock2) == set(lock1)
    assert {g: e["deck"] for g, e in lock2.items()} == {tensor: "Ml::Foundations", epoch: "Ml::Foundations"}
    assert sorted((m.question.title, m.old_deck, m.question.deck) for m in report2.moves) == [
        ("What is a tensor?", "Ml::Basics", "Ml::Foundations"),
        ("What is an epoch?", "Ml::Basics", "Ml::Foundations"),
    ]

    imported = anki.import_packages(packages(project, report2))
    assert (imported.new, imported.updated, imported.duplicate) == (set(), {epoch}, {tensor})
    assert (imported.conflicting, imported.other_problems) == (0, 0)
    assert anki.c.note_count() == 2
    assert anki.decks_of(tensor) == ["Ml::Basics"]
    assert anki.decks_of(epoch) == ["Ml::Basics"]
    assert "optimizer" in anki.note(epoch)["Answer"]
    foundations = anki.c.decks.id_for_name("Ml::Foundations")
    if foundations is not None:
        assert anki.c.db.scalar("select count() from cards where did = ?", foundations) == 0
    assert anki.revlog() == revlog_before


def test_removed_question_is_reported_as_departed_and_stays_in_anki(project: Project, anki: Anki) -> None:
    """A question removed from the notes is reported in BuildReport.departed (and kept in
    the lockfile as removed); re-importing keeps its note and card in Anki, since
    imports never delete: the note is only updated to carry the dlcards::removed tag
    (tests/test_removed.py follows it further)."""
    project.write("ml/basics.md", BASICS_V1)
    report1 = real_build(project)
    lock1 = read_lock(project)
    anki.import_packages(packages(project, report1))
    split = guid_of(lock1, SPLIT)
    anki.answer(split, EASY)
    revlog_before = anki.revlog()

    head, _, _ = BASICS_V1.partition("### 3.")
    project.write("ml/basics.md", head)
    report2 = real_build(project)
    assert [(d.guid, d.deck, d.path, d.title) for d in report2.departed] == [
        (split, "Ml::Basics", "ml/basics.md", SPLIT)
    ]
    lock2 = read_lock(project)
    assert lock2[split]["removed"] is True
    assert [(p.new, p.updated, p.unchanged, p.removed) for p in report2.packages] == [(0, 0, 2, 1)]

    imported = anki.import_packages(packages(project, report2))
    assert (imported.new, imported.updated) == (set(), {split})
    assert imported.duplicate == set(lock1) - {split}
    assert "dlcards::removed" in anki.note(split).tags
    assert anki.c.note_count() == 3
    assert anki.note(split)["Question"] == SPLIT
    assert anki.decks_of(split) == ["Ml::Basics"]
    assert anki.revlog() == revlog_before


def test_lost_lockfile_gives_the_same_guids_and_no_duplicates(project: Project, anki: Anki) -> None:
    """Without decks/dlcards.lock, unchanged questions get the guids they had, so a
    re-import adds no note and Anki keeps one note per question."""
    write_v1(project)
    report1 = real_build(project)
    lock1 = read_lock(project)
    anki.import_packages(packages(project, report1))

    (project.decks / LOCK_NAME).unlink()
    report2 = real_build(project)
    lock2 = read_lock(project)
    assert {g: e["question"] for g, e in lock2.items()} == {g: e["question"] for g, e in lock1.items()}

    imported = anki.import_packages(packages(project, report2))
    assert imported.new == set()
    assert imported.updated | imported.duplicate == set(lock1)
    assert (imported.conflicting, imported.other_problems) == (0, 0)
    assert anki.c.note_count() == 8
    assert anki.guids() == set(lock1)


def test_css_change_updates_the_note_type_in_place(
    project: Project, anki: Anki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change of the note type's CSS reaches Anki on re-import: same note type, new
    styling, no "+" copy, no conflicting note, no note updated, reviews kept."""
    marker = ".dlc-roundtrip-marker { color: rebeccapurple; }"
    notetype.css.cache_clear()
    notetype.notetype_hash.cache_clear()
    try:
        write_v1(project)
        report1 = real_build(project)
        lock1 = read_lock(project)
        anki.import_packages(packages(project, report1))
        anki.answer(guid_of(lock1, OVERFITTING), EASY)
        anki.answer(guid_of(lock1, PRECISION), GOOD)
        scheduling_before = anki.scheduling()
        revlog_before = anki.revlog()
        assert marker not in anki.dlcards_notetype()["css"]
        nt_mod_before = anki.dlcards_notetype()["mod"]

        monkeypatch.setattr(notetype, "BASE_CSS", notetype.BASE_CSS + marker + "\n")
        notetype.css.cache_clear()
        notetype.notetype_hash.cache_clear()
        report2 = real_build(project)
        assert [(p.new, p.updated) for p in report2.packages] == [(0, 0), (0, 0)]
        assert read_lock(project) == lock1

        imported = anki.import_packages(packages(project, report2))
        assert (imported.new, imported.updated) == (set(), set())
        assert imported.duplicate == set(lock1)
        assert (imported.conflicting, imported.other_problems) == (0, 0)
        model = anki.dlcards_notetype()
        assert marker in model["css"]
        assert model["mod"] > nt_mod_before
        anki.assert_schema_intact()
        assert anki.c.note_count() == 8
        assert anki.scheduling() == scheduling_before
        assert anki.revlog() == revlog_before
        anki.assert_healthy()
    finally:
        monkeypatch.undo()
        notetype.css.cache_clear()
        notetype.notetype_hash.cache_clear()
