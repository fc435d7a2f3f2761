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


def warnings(text: str) -> list[str]:
    source, _ = read_source(text.encode(), path="t.md", display_path="notes/t.md")
    assert source is not None
    return [f"{p.line}: {p.message}" for p in parse_file(source).problems]


def test_numbered_topic_heading_does_not_swallow_its_questions() -> None:
    """`## 1. Transformers` over `### Self-attention` + label: the sub-headings are the cards."""
    text = (
        "## 1. Transformers\n\n### Self-attention\n\n**Answer:** mix\n\n### Positions\n\n**Answer:** sines\n"
    )
    assert [t for t, _, _ in parse(text)] == ["Self-attention", "Positions"]


def test_unclosed_fence_is_reported() -> None:
    """A code fence that never closes swallows the rest of the file: say so, with its line."""
    text = "### 1. Q?\n\n**Answer:**\n\n```python\nx = 1\n\n### 2. Inside?\n\n**Answer:** no\n"
    assert warnings(text) == [
        "5: code block opened with ``` is never closed: everything after it is code on one card"
    ]


def test_partly_emphasised_titles_keep_their_markup() -> None:
    """Only emphasis that wraps the whole title is removed."""
    text = "### 3. **Precision** vs **Recall**\n\n**Answer:** a\n\n### __init__ vs __new__\n\n**Answer:** b\n"
    assert [t for t, _, _ in parse(text)] == ["**Precision** vs **Recall**", "__init__ vs __new__"]


def test_epilogue_rule_never_drops_code_or_tables() -> None:
    """After the last discussion list, only plain paragraphs are the file's epilogue."""
    text = "### Q?\n\n**Answer:** a\n\n**Discussion:**\n\n- d\n\n```\ncode\n```\n"
    assert parse(text) == [("Q?", "a", "- d\n\n```\ncode\n```")]


def test_malformed_id_comment_is_reported() -> None:
    """`<!-- id: two words -->` is not an id: a warning, not a silent miss."""
    assert warnings("### Q?\n<!-- id: two words -->\n\n**Answer:** a\n") == [
        "2: an id comment must be '<!-- id: one-word-slug -->'; ignored"
    ]


def test_heading_of_only_markup_is_empty() -> None:
    """A heading that is only numbering and markup makes no card and says why."""
    assert warnings("### 1. **\n\n**Answer:** a\n") == ["1: question heading is empty; no card made"]


def test_html_comments_stay_off_the_card() -> None:
    """An HTML comment (invisible in any Markdown viewer) is not shown as text on a card."""
    from dlcards.render import render_markdown

    assert render_markdown("<!-- TODO: expand -->\n\nText <!-- note --> here.\n\n<b>x</b>") == (
        "<p>Text  here.</p>\n<p><b>x</b></p>"
    )


def test_obsidian_comments_hide_questions_and_keep_line_numbers() -> None:
    """A `%%` comment is dropped before parsing: a question inside one makes no card,
    and the questions after it keep the lines they are written on."""
    text = (
        "## Shown?\n\n**Answer:** yes %%not this%% and this\n\n"
        "%%\n## Hidden?\n\n**Answer:** no\n%%\n\n"
        "## Later?\n\n**Answer:** `%%kept in code%%`\n"
    )
    source, _ = read_source(text.encode(), path="t.md", display_path="notes/t.md")
    assert source is not None
    questions = parse_file(source).questions
    assert [(q.line, q.title, q.answer) for q in questions] == [
        (1, "Shown?", "yes  and this"),
        (11, "Later?", "`%%kept in code%%`"),
    ]
