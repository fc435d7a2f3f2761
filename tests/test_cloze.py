"""Cloze questions: where they are found, their own note type, and a question that
changes kind (Anki cannot change a note's type, so it becomes a new note)."""

from __future__ import annotations

import json

from conftest import Project

from dlcards.build import BuildOptions, sound_cards
from dlcards.identify import REMOVED_TAG
from dlcards.lockfile import LOCK_NAME
from dlcards.model import Card, SourceFile
from dlcards.parse import parse_file
from dlcards.preview import cloze_side, render_sides


def _source(body: str, meta: dict[str, object] | None = None) -> SourceFile:
    return SourceFile(
        path="c.md", display_path="notes/c.md", meta=meta or {}, body=body, body_line=1, deck="C", tags=()
    )


def _cards(project: Project) -> list[Card]:
    cards, _ = sound_cards(BuildOptions(notes_dir=project.notes, decks_dir=project.decks))
    return cards


def test_a_heading_over_cloze_text_is_a_question_without_any_label() -> None:
    parsed = parse_file(
        _source("# Activations\n\n## Softmax\n\nSoftmax turns {{c1::logits}} into {{c2::probabilities}}.\n")
    )
    (q,) = parsed.questions
    assert q.title == "Softmax"
    assert "{{c1::logits}}" in q.answer and q.prompt == ""
    assert parsed.problems == ()


def test_cloze_sections_sit_beside_labelled_questions() -> None:
    parsed = parse_file(
        _source(
            "## What is a tensor?\n\n**Answer:** An n-dimensional array.\n\n"
            "## Adam\n\nAdam keeps {{c1::running means}} of gradients.\n\n"
            "## Notes\n\nJust prose, no card.\n"
        )
    )
    assert [q.title for q in parsed.questions] == ["What is a tensor?", "Adam"]


def test_highlights_make_a_cloze_section_only_when_front_matter_says_so() -> None:
    body = "## Dropout\n\nDropout zeroes units with probability ==p== while training.\n"
    assert parse_file(_source(body)).questions == ()
    (q,) = parse_file(_source(body, {"cloze": True})).questions
    assert q.cloze_highlights and "==p==" in q.answer
    bad = parse_file(_source(body, {"cloze": "yes"}))
    assert [p.message for p in bad.problems] == ["front matter 'cloze' must be true or false, not 'yes'"]


def test_a_cloze_in_code_makes_no_cloze_section() -> None:
    body = "## Templates\n\n```\n{{c1::not a cloze}}\n```\n"
    assert parse_file(_source(body)).questions == ()


def test_a_cloze_question_renders_to_the_cloze_note_type(project: Project) -> None:
    project.write("c.md", "## Softmax\n\nSoftmax turns {{c1::logits}} into {{c2::probabilities::what?}}.\n")
    (card,) = _cards(project)
    assert card.kind == "cloze"
    assert "{{c1::logits}}" in card.front and "{{c2::probabilities::what?}}" in card.front
    front, back = render_sides(card)
    assert '<span class="cloze">[...]</span>' in front and "probabilities" in front
    assert '<span class="cloze">logits</span>' in back


def test_math_closing_braces_do_not_end_a_cloze(project: Project) -> None:
    project.write("c.md", "## Power\n\nThe rule is {{c1::$x^{a^{b}}$}} for towers.\n")
    (card,) = _cards(project)
    cloze = card.front[card.front.index("{{c1::") :]
    end = cloze.index("}}")
    assert "\\)" in cloze[:end], "the cloze ended inside the math"
    assert "} }" in cloze[:end]


def test_cloze_side_shows_one_number_at_a_time() -> None:
    text = "{{c1::a}} and {{c2::b::hint}}"
    assert cloze_side(text, 2, back=False) == 'a and <span class="cloze">[hint]</span>'
    assert cloze_side(text, 2, back=True) == 'a and <span class="cloze">b</span>'


def test_a_question_that_becomes_a_cloze_is_a_new_note_and_the_old_one_is_removed(project: Project) -> None:
    project.write("c.md", "## What does softmax output?\n\n**Answer:** Probabilities.\n")
    first = project.build()
    ((old_guid, _),) = first.statuses
    project.clock.advance()
    project.write("c.md", "## What does softmax output?\n\n**Answer:** {{c1::Probabilities}}.\n")
    report = project.build()
    statuses = dict(report.statuses)
    assert statuses[old_guid] == "removed"
    (new_guid,) = [g for g, s in statuses.items() if s == "new"]
    assert new_guid != old_guid
    assert any("now a cloze note and was a basic one" in w.message for w in report.warnings)
    lock = json.loads((project.decks / LOCK_NAME).read_text(encoding="utf-8"))
    kinds = {n["guid"]: n.get("kind", "basic") for n in lock["notes"]}
    assert kinds == {old_guid: "basic", new_guid: "cloze"}
    assert report.removed_search == f"tag:{REMOVED_TAG}"

    # Built again, nothing changes: the cloze keeps its guid.
    project.clock.advance()
    again = dict(project.build().statuses)
    assert again[new_guid] == "unchanged" and again[old_guid] == "removed"


def test_a_cloze_in_a_code_span_makes_no_cloze_section() -> None:
    body = "## Templates\n\nAnki writes `{{c1::text}}` for a cloze.\n"
    assert parse_file(_source(body)).questions == ()
