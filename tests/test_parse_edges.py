"""Parser edge cases beyond the golden fixtures."""

from __future__ import annotations

from dlcards.parse import parse_file
from dlcards.read import read_source


def parse(text: str) -> list[tuple[str, str, str]]:
    source, problems = read_source(text.encode(), path="t.md", display_path="notes/t.md")
    assert source is not None, problems
    return [(q.title, q.answer, q.discussion) for q in parse_file(source).questions]


def test_rule_between_questions_belongs_to_no_card() -> None:
    """A `---` separating two questions is not shown at the end of the first answer."""
    text = "## A?\n\n**Answer:** one\n\n---\n\n## B?\n\n**Answer:** two\n\n**Discussion:**\n\n- x\n\n***\n"
    assert parse(text) == [("A?", "one", ""), ("B?", "two", "- x")]


def test_rule_inside_an_answer_is_kept() -> None:
    """A `---` with answer text after it stays inside the answer."""
    assert parse("## A?\n\n**Answer:** one\n\n---\n\nmore\n") == [("A?", "one\n\n---\n\nmore", "")]
