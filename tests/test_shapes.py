"""File shapes: detection per file, forced shapes, and identity across a change of shape."""

from __future__ import annotations

import json

from conftest import Project

from dlcards.check import check_notes

BODY = """\
## Part 1: Basics

### Q0- What is a hash table?

An array indexed by a hash of the key.

### Q1- Explain open addressing

Collisions probe for the next free slot.
"""


def test_check_reports_the_shape_of_each_file(project: Project) -> None:
    """check_notes says how each file was read and how many questions it holds."""
    project.write("body.md", BODY)
    project.write("labelled.md", "### What is a heap?\n\n**Answer:** A tree with the heap property.\n")
    project.write(
        "bold.md",
        "## Trees\n\n**What is a trie? 👶**\n\nA prefix tree.\n\n**Why a B-tree?**\n\nAnswer here\n",
    )
    report = check_notes(project.notes, "notes")
    assert [(f.display_path, f.shape, f.questions) for f in report.files] == [
        ("notes/body.md", "body", 2),
        ("notes/bold.md", "bold", 1),
        ("notes/labelled.md", "labelled", 1),
    ]
    assert [str(p) for p in report.problems] == [
        "warning: notes/bold.md:7: question 'Why a B-tree?' has a placeholder answer; no card made"
    ]


def test_a_change_of_shape_keeps_every_guid(project: Project) -> None:
    """Adding answer labels to a heading+body file (a new shape) changes no guid and no content."""
    project.write("hashing.md", BODY)
    report = project.build()
    assert report.packages[0].new == 2
    before = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))["notes"]
    project.write(
        "hashing.md",
        BODY.replace("\nAn array", "\n**Answer:** An array").replace(
            "\nCollisions", "\n**Answer:** Collisions"
        ),
    )
    project.clock.advance()
    report = project.build()
    after = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))["notes"]
    assert after == before
    assert report.packages[0].unchanged == 2


def test_labelled_files_keep_unlabelled_headings_as_warnings(project: Project) -> None:
    """In a file that uses labels, a question heading without one is a warning, not a card."""
    project.write("mixed.md", BODY + "\n### Q2- What is chaining?\n\n**Answer:** Buckets hold lists.\n")
    report = check_notes(project.notes, "notes")
    assert [(f.shape, f.questions) for f in report.files] == [("labelled", 1)]
    assert [p.line for p in report.problems] == [3, 7]


def test_unknown_forced_shape_is_an_error(project: Project) -> None:
    """`dlcards: {shape: typo}` in front matter is an error naming the file."""
    project.write("x.md", "---\ndlcards:\n  shape: bodyy\n---\n" + BODY)
    report = check_notes(project.notes, "notes")
    assert [str(p) for p in report.problems] == [
        "error: notes/x.md:1: unknown shape 'bodyy': use one of labelled, body, bold or auto"
    ]


def test_topic_headings_can_name_subdecks_or_tags(project: Project) -> None:
    """`dlcards: {topics: subdecks}` puts each question in a subdeck named after its topic
    heading; `topics: tags` tags it instead; turning it on keeps every note."""
    project.write("hashing.md", BODY)
    project.build()
    before = {n["guid"] for n in json.loads((project.decks / "dlcards.lock").read_text())["notes"]}
    project.write("hashing.md", "---\ndlcards: {topics: subdecks}\n---\n" + BODY)
    project.clock.advance()
    report = project.build()
    notes = json.loads((project.decks / "dlcards.lock").read_text())["notes"]
    assert {n["deck"] for n in notes} == {"Hashing::Part 1: Basics"}
    assert {n["guid"] for n in notes} == before
    assert len(report.moves) == 2
    project.write("hashing.md", "---\ndlcards: {topics: tags}\n---\n" + BODY)
    report = check_notes(project.notes, "notes")
    assert report.problems == ()


def test_unknown_setting_gets_a_suggestion(project: Project) -> None:
    """A typo in the dlcards front matter settings is an error that suggests the right key."""
    project.write("x.md", "---\ndlcards:\n  shap: body\n---\n" + BODY)
    report = check_notes(project.notes, "notes")
    assert [str(p) for p in report.problems] == [
        "error: notes/x.md:1: unknown dlcards setting 'shap' (did you mean 'shape'?)"
    ]
