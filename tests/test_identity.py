"""Identity: guids that survive every edit but a new question, mods that follow content."""

from __future__ import annotations

import json

import pytest
from conftest import Project

from dlcards.errors import BuildFailed
from dlcards.identify import derive_guid, normalize_question

NOTES = """\
---
tags: [alpha]
---

### 1. What is a gradient?

**Answer:** The vector of partial derivatives.

### 2. What does a learning rate control?

**Answer:** The step size of each update.

**Discussion Points:**

- What happens when it is too large?

### 3. Why shuffle training data?

**Answer:** So batches are not correlated with the order of the file.
"""


def lock(project: Project) -> dict[str, dict[str, object]]:
    data = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))
    return {str(n["question"]): n for n in data["notes"]}


def guids(project: Project) -> dict[str, str]:
    return {q: str(n["guid"]) for q, n in lock(project).items()}


def test_unchanged_rebuild_keeps_every_guid_and_mod(project: Project) -> None:
    """Rebuilding unchanged notes, later, changes no guid and no mod."""
    project.write("topic.md", NOTES)
    project.build()
    first = lock(project)
    project.clock.advance(3600)
    report = project.build()
    assert lock(project) == first
    assert report.packages[0].unchanged == 3


def test_answer_edit_bumps_only_that_notes_mod(project: Project) -> None:
    """Editing an answer changes that note's mod (to now), no other, and keeps its guid."""
    project.write("topic.md", NOTES)
    project.build()
    first = lock(project)
    project.clock.advance(100)
    project.write("topic.md", NOTES.replace("The step size", "The size of the step"))
    report = project.build()
    after = lock(project)
    assert {q: n["guid"] for q, n in after.items()} == {q: n["guid"] for q, n in first.items()}
    changed = {q for q in after if after[q]["mod"] != first[q]["mod"]}
    assert changed == {"What does a learning rate control?"}
    assert after["What does a learning rate control?"]["mod"] == int(project.clock.now)
    assert (report.packages[0].updated, report.packages[0].unchanged) == (1, 2)


def test_two_builds_in_one_second_wait_for_the_clock(project: Project) -> None:
    """A changed note's mod is strictly greater than before and never in the future."""
    project.write("topic.md", NOTES)
    project.build()
    before = lock(project)["What is a gradient?"]["mod"]
    project.write("topic.md", NOTES.replace("partial derivatives", "partials"))
    project.build()  # the clock has not moved
    after = lock(project)["What is a gradient?"]["mod"]
    assert isinstance(after, int) and isinstance(before, int)
    assert after == before + 1
    assert project.clock.waited and after <= project.clock.now


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda s: s.replace("### 1.", "### 7.").replace("### 3.", "### 1."), id="renumber"),
        pytest.param(
            lambda s: s.replace("### 1. ", "### ").replace("### 2. ", "### Q2: "), id="numbering-style"
        ),
        pytest.param(lambda s: s.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda s: "\ufeff" + s.replace("\n\n", "\n  \n\n"), id="bom-and-blank-lines"),
        pytest.param(
            lambda s: s.replace("What is a gradient?", "**What  is a   gradient?**"), id="markup-space"
        ),
        pytest.param(
            lambda s: s.split("### 3.")[0].replace(
                "### 1.",
                "### 3. Why shuffle training data?\n\n**Answer:** "
                "So batches are not correlated with the order of the file.\n\n### 1.",
            ),
            id="reorder",
        ),
    ],
)
def test_cosmetic_edits_never_change_a_guid(project: Project, edit: object) -> None:
    """Renumbering, reordering, whitespace, markup and line endings keep every guid."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)
    assert callable(edit)
    project.write("topic.md", edit(NOTES), dedent=False)
    project.clock.advance()
    project.build()
    assert set(guids(project).values()) == set(first.values())


def test_moving_a_question_to_another_file_keeps_its_guid(project: Project) -> None:
    """A question moved to another file (and deck) keeps its note; the move is reported."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)
    head, third = NOTES.split("### 3.")
    project.write("topic.md", head)
    project.write("other.md", "### 3." + third)
    project.clock.advance()
    report = project.build()
    assert guids(project) == first
    assert [(m.question.title, m.old_deck, m.question.deck) for m in report.moves] == [
        ("Why shuffle training data?", "Topic", "Other")
    ]
    assert lock(project)["Why shuffle training data?"]["path"] == "other.md"


def test_typo_fix_keeps_the_note_and_is_reported(project: Project) -> None:
    """An edited question text (similarity >= 0.8) keeps its guid and the build says so."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)
    project.write("topic.md", NOTES.replace("Why shuffle training data?", "Why shuffle the training data?"))
    project.clock.advance()
    report = project.build()
    assert guids(project)["Why shuffle the training data?"] == first["Why shuffle training data?"]
    assert [(r.old_title, r.question.title) for r in report.rematches] == [
        ("Why shuffle training data?", "Why shuffle the training data?")
    ]
    assert report.rematches[0].similarity >= 0.8


def test_a_new_question_gets_a_new_note(project: Project) -> None:
    """A rewritten question (similarity below 0.8) is a new note; the old one is reported gone."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)
    project.write("topic.md", NOTES.replace("Why shuffle training data?", "How do you pick a batch size?"))
    project.clock.advance()
    report = project.build()
    assert guids(project)["How do you pick a batch size?"] not in first.values()
    assert [d.title for d in report.departed] == ["Why shuffle training data?"]
    assert report.packages[0].new == 1


def test_explicit_id_pins_the_guid_through_any_rewrite(project: Project) -> None:
    """`<!-- id: slug -->` keeps one note even when the question is rewritten entirely."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)["What is a gradient?"]
    project.write(
        "topic.md",
        NOTES.replace("### 1. What is a gradient?", "### 1. What is a gradient?\n<!-- id: grad -->"),
    )
    project.clock.advance()
    project.build()
    assert guids(project)["What is a gradient?"] == first  # adding an id keeps the note
    project.write(
        "topic.md", NOTES.replace("### 1. What is a gradient?", "### 1. Define nabla f\n<!-- id: grad -->")
    )
    project.clock.advance()
    project.build()
    assert guids(project)["Define nabla f"] == first


def test_lost_lockfile_reproduces_unchanged_guids(project: Project) -> None:
    """Without a lockfile, guids derive from deck and question text: the same as before."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)
    (project.decks / "dlcards.lock").unlink()
    project.build()
    assert guids(project) == first


def test_same_question_in_two_decks_is_two_notes(project: Project) -> None:
    """The same question text in two decks gives two distinct guids."""
    project.write("a.md", NOTES)
    project.write("b.md", NOTES)
    project.build()
    data = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))
    assert len({n["guid"] for n in data["notes"]}) == 6


def test_same_question_twice_in_one_deck_fails_naming_both(project: Project) -> None:
    """Two questions with the same text in one deck fail the build, naming both places."""
    project.write("a.md", NOTES + "\n### 9. **What is a gradient?**\n\n**Answer:** again\n")
    with pytest.raises(BuildFailed) as failed:
        project.build()
    assert [str(p) for p in failed.value.problems] == [
        "error: notes/a.md:21: the same question is already in deck 'A' at notes/a.md:5; "
        "merge them or reword one"
    ]


def test_duplicate_explicit_ids_fail(project: Project) -> None:
    """One explicit id on two questions fails the build."""
    project.write(
        "a.md", "### One?\n<!-- id: x -->\n\n**Answer:** 1\n\n### Two?\n<!-- id: x -->\n\n**Answer:** 2\n"
    )
    with pytest.raises(BuildFailed) as failed:
        project.build()
    assert "id 'x' is already used at notes/a.md:1" in str(failed.value.problems[0])


def test_reused_text_after_a_rewording_gets_a_fresh_guid(project: Project) -> None:
    """A new question whose text an older note once had does not steal that note's guid."""
    project.write("topic.md", NOTES)
    project.build()
    first = guids(project)["What is a gradient?"]
    project.write("topic.md", NOTES.replace("What is a gradient?", "What is a gradient vector?"))
    project.clock.advance()
    project.build()
    project.write(
        "topic.md",
        NOTES.replace("What is a gradient?", "What is a gradient vector?")
        + "\n### 4. What is a gradient?\n\n**Answer:** Something new.\n",
    )
    project.clock.advance()
    project.build()
    now = guids(project)
    assert now["What is a gradient vector?"] == first
    assert now["What is a gradient?"] != first
    assert len(set(now.values())) == 4


def test_tag_change_updates_mod(project: Project) -> None:
    """Tags are note content: changing them bumps the mods of the file's notes."""
    project.write("topic.md", NOTES)
    project.build()
    first = lock(project)
    project.write("topic.md", NOTES.replace("tags: [alpha]", "tags: alpha, beta"))
    project.clock.advance()
    project.build()
    assert all(lock(project)[q]["mod"] > first[q]["mod"] for q in first)  # type: ignore[operator]


def test_normalize_question_ignores_case_space_markup_and_invisibles() -> None:
    """Identity text ignores case, spacing, emphasis markers, NBSP and zero-width characters."""
    assert normalize_question("**What\u00a0is  X?**\u200d") == normalize_question("what is x?")
    assert normalize_question("What is X?") != normalize_question("What is Y?")


def test_derive_guid_is_stable() -> None:
    """Derived guids never change between versions: users' collections depend on them."""
    assert derive_guid("q", "deep learning", "what is x?") == derive_guid("q", "deep learning", "what is x?")
    assert derive_guid("q", "a", "b") == "JteVFlBEXTf"


def test_lost_lockfile_guid_does_not_depend_on_other_decks(project: Project) -> None:
    """Derived guids include the deck: a question's guid does not hinge on its twin elsewhere."""
    project.write("a.md", NOTES)
    project.write("b.md", NOTES)
    project.build()
    data = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))
    b_guids = {n["guid"] for n in data["notes"] if n["path"] == "b.md"}
    (project.decks / "dlcards.lock").unlink()
    (project.notes / "a.md").unlink()
    project.build()
    assert set(guids(project).values()) == b_guids


def test_a_new_question_never_takes_over_a_removed_one(project: Project) -> None:
    """A question that left the notes is restored only by its exact text, never by similarity."""
    project.write("topic.md", NOTES)
    project.build()
    old = guids(project)["Why shuffle training data?"]
    project.write("topic.md", NOTES.split("### 3.")[0])
    project.clock.advance()
    project.build()
    project.write("topic.md", NOTES.replace("Why shuffle training data?", "Why shuffle the training data?"))
    project.clock.advance()
    report = project.build()
    assert guids(project)["Why shuffle the training data?"] != old
    assert report.rematches == ()


QUIZ = """\
###### 1. What's the output?

```python
print(sorted([3, 1, 2]))
```

**Answer:** `[1, 2, 3]`

###### 2. What's the output?

```python
print(len("hello"))
```

**Answer:** `5`
"""


def test_same_heading_over_different_snippets_is_two_questions(project: Project) -> None:
    """Quiz files reuse one heading; the snippet under it tells the questions apart, and an
    edit to a snippet keeps its note."""
    project.write("quiz.md", QUIZ)
    project.build()
    first = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))["notes"]
    assert len({n["guid"] for n in first}) == 2
    project.write("quiz.md", QUIZ.replace('len("hello")', 'len("hello!")'))
    project.clock.advance()
    report = project.build()
    after = json.loads((project.decks / "dlcards.lock").read_text(encoding="utf-8"))["notes"]
    assert {n["guid"] for n in after} == {n["guid"] for n in first}
    assert len(report.rematches) == 1 and report.packages[0].new == 0
