"""Soak: a vault edited and rebuilt many times, every build imported into one Anki collection.

A seeded random editor does what people do to notes between builds (rewords answers,
fixes typos in questions, renames files, moves questions between files and folders,
deletes and adds questions); after each build every package is imported into the
same collection with Anki desktop's default options, and some cards are studied.
At the end nothing is lost: Anki holds one note for every question there ever was
(live ones plus those that left the notes: Anki never deletes), every live note's
fields are exactly what dlcards rendered from the latest source, every question
kept its note from its first build to the last, and every review is still there.

SOAK_SCALE=QUESTIONSxREBUILDS sets the size (default 300x30, about ten seconds);
`make soak` runs the full 50000x200. SOAK_SEED picks another editor.
"""

from __future__ import annotations

import os
import random
import string
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from anki.collection import Collection
from anki_import import (
    check_database,
    collection_notes,
    import_packages,
    open_collection,
    package_notes,
    package_tags,
)
from conftest import FakeClock

from dlcards.build import BuildOptions, build
from dlcards.identify import REMOVED_TAG

DEFAULT_SCALE = "300x30"
TOP_FOLDERS = ["ml", "statistics", "systems", "databases", "networks", "algorithms"]


def soak_scale() -> tuple[int, int]:
    """(questions, rebuilds) from SOAK_SCALE, e.g. "50000x200"."""
    raw = os.environ.get("SOAK_SCALE", DEFAULT_SCALE)
    questions, _, rebuilds = raw.lower().partition("x")
    return int(questions), int(rebuilds)


@dataclass
class Question:
    key: int  # the editor's own identity for it, never shown to dlcards
    title: str
    answer: str


@dataclass
class Vault:
    """The editor's model of the notes: which questions each file holds, in order."""

    root: Path
    rng: random.Random
    files: dict[str, list[Question]] = field(default_factory=dict)
    created: int = 0
    words: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Random words, so that two questions are never alike enough to be taken for
        # an edit of each other (dlcards matches edited questions at 80% similarity).
        letters = string.ascii_lowercase
        self.words = sorted(
            {"".join(self.rng.choice(letters) for _ in range(self.rng.randint(4, 9))) for _ in range(5000)}
        )

    def phrase(self, n: int) -> str:
        return " ".join(self.rng.choice(self.words) for _ in range(n))

    def new_question(self) -> Question:
        self.created += 1
        return Question(key=self.created, title=self.phrase(8).capitalize() + "?", answer=self.phrase(12))

    def new_path(self) -> str:
        """A new file in one of a few top-level folders (a package each), maybe a subfolder."""
        while True:
            folder = self.rng.choice(TOP_FOLDERS)
            if self.rng.random() < 0.5:
                folder += "/" + self.rng.choice(self.words[:20])
            path = f"{folder}/{self.phrase(1)}-{self.phrase(1)}.md"
            if path not in self.files:
                return path

    def live(self) -> list[tuple[str, Question]]:
        return [(path, q) for path, qs in self.files.items() for q in qs]

    # -- the edits --------------------------------------------------------------------

    def edit_answer(self) -> None:
        _, q = self.rng.choice(self.live())
        q.answer = self.phrase(12)

    def fix_typo(self) -> None:
        """Change one letter of a question: still the same question to a reader."""
        _, q = self.rng.choice(self.live())
        i = self.rng.randrange(len(q.title) - 1)
        while not q.title[i].isalpha():
            i = self.rng.randrange(len(q.title) - 1)
        q.title = q.title[:i] + self.rng.choice(string.ascii_lowercase) + q.title[i + 1 :]

    def rename_file(self) -> None:
        old = self.rng.choice(sorted(self.files))
        self.files[self.new_path()] = self.files.pop(old)

    def move_question(self) -> None:
        source = self.rng.choice([p for p, qs in self.files.items() if qs])
        q = self.files[source].pop(self.rng.randrange(len(self.files[source])))
        target = self.rng.choice(sorted(self.files))
        self.files[target].insert(self.rng.randint(0, len(self.files[target])), q)

    def delete_question(self) -> None:
        path = self.rng.choice([p for p, qs in self.files.items() if qs])
        self.files[path].pop(self.rng.randrange(len(self.files[path])))

    def add_question(self) -> None:
        if self.rng.random() < 0.1:
            self.files[self.new_path()] = [self.new_question()]
        else:
            path = self.rng.choice(sorted(self.files))
            self.files[path].insert(self.rng.randint(0, len(self.files[path])), self.new_question())

    def edit(self, count: int) -> None:
        edits = [
            (self.edit_answer, 30),
            (self.fix_typo, 20),
            (self.move_question, 15),
            (self.delete_question, 10),
            (self.add_question, 12),
            (self.rename_file, 3),
        ]
        actions, weights = zip(*edits, strict=True)
        for action in self.rng.choices(actions, weights=weights, k=count):
            action()
        for path in [p for p, qs in self.files.items() if not qs]:
            del self.files[path]  # an emptied file is deleted, as a person would

    def write(self) -> None:
        """Write the notes tree exactly as the model says, removing whatever else is there."""
        wanted = set(self.files)
        for existing in self.root.rglob("*.md"):
            if existing.relative_to(self.root).as_posix() not in wanted:
                existing.unlink()
        for path, questions in self.files.items():
            text = "".join(
                f"## {n}. {q.title}\n\n**Answer:** {q.answer}\n\n" for n, q in enumerate(questions, 1)
            )
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                target.write_text(text, encoding="utf-8")


def study(col: Collection, guids: list[str], rng: random.Random) -> int:
    """Answer the cards of these notes through the scheduler; the number of answers."""
    done = 0
    for guid in guids:
        nid = col.db.scalar("select id from notes where guid = ?", guid)
        for cid in col.card_ids_of_note(nid):
            # One answer a millisecond, as a person gives them: two in the same one share a
            # review id, which Anki moves on by a millisecond, sometimes into the next second,
            # and Check Database then reports the card's "last review time" as repaired.
            start = time.time_ns() // 1_000_000
            while time.time_ns() // 1_000_000 == start:
                pass
            card = col.get_card(cid)
            card.start_timer()
            col.sched.answerCard(card, rng.choice([2, 3, 4]))  # type: ignore[arg-type]
            done += 1
    return done


@pytest.mark.soak
def test_many_rebuilds_and_imports_lose_nothing(tmp_path: Path) -> None:
    questions, rebuilds = soak_scale()
    rng = random.Random(int(os.environ.get("SOAK_SEED", "20261125")))
    notes, decks = tmp_path / "notes", tmp_path / "decks"
    vault = Vault(root=notes, rng=rng)
    per_file = 10
    for _ in range(max(1, questions // per_file)):
        vault.files[vault.new_path()] = [vault.new_question() for _ in range(per_file)]
    # Builds 100 seconds apart, all in the past: Anki's Check Database rewrites a note
    # mod in the future to now.
    clock = FakeClock(now=time.time() - 100 * (rebuilds + 1))
    col = open_collection(tmp_path / "anki" / "collection.anki2")
    guid_of: dict[int, str] = {}  # editor's key -> the note it got on its first build
    built: set[int] = set()  # editor's keys of every question a build has seen
    reviews = 0
    try:
        for step in range(rebuilds):
            if step:
                vault.edit(max(5, questions // 30))
                clock.advance(100)
            vault.write()
            report = build(BuildOptions(notes_dir=notes, decks_dir=decks), clock=clock, wait=clock.wait)
            packages = [decks / p.filename for p in report.packages]
            assert import_packages(col, packages) == 0, f"build {step}: Anki rejected notes"

            # Packages also carry questions that left the notes, tagged (see build.py).
            written: dict[str, list[str]] = {}
            removed: set[str] = set()
            for package in packages:
                written |= package_notes(package)
                removed |= {g for g, tags in package_tags(package).items() if REMOVED_TAG in tags}
            by_title = {fields[0]: guid for guid, fields in written.items() if guid not in removed}
            live = vault.live()
            assert len(by_title) == len(live), (
                f"build {step}: {len(by_title)} notes for {len(live)} questions"
            )
            for path, q in live:
                guid = by_title[q.title]
                assert guid_of.setdefault(q.key, guid) == guid, f"build {step}: {q.title!r} got a new note"
                assert written[guid][1:4] == [f"<p>{q.answer}</p>", "", path], f"build {step}: {q.title!r}"

            # Anki never deletes: one note for every question that was ever built, the live
            # ones and those that left (a question added and deleted between two builds never
            # reached Anki).
            built |= {q.key for _, q in live}
            departed = built - {q.key for _, q in live}
            stored = collection_notes(col)
            assert len(stored) == len(built) == len(live) + len(departed)
            # Every note of the packages, live or removed, holds exactly what dlcards rendered.
            assert {g: stored[g] for g in written} == written, f"build {step}: a note was not updated"

            print(
                f"build {step + 1}/{rebuilds}: {len(live)} questions, {len(stored)} notes, {reviews} reviews"
            )
            studied = rng.sample(sorted(by_title.values()), k=min(len(live), max(3, questions // 50)))
            reviews += study(col, studied, rng)

        assert col.db.scalar("select count() from revlog") == reviews
        assert reviews > 0
        assert set(guid_of.values()) == set(collection_notes(col))
        assert check_database(col) == []
    finally:
        col.close(downgrade=False)
