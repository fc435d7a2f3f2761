"""Shortcuts in parsing give what the general way gives.

markdown.py parses lists itself (with the patterns that start and end an item built
once), turns lines away from indented code early, and the parse stage's Markdown
leaves what lists and quotes hold unparsed: the reference is the same Markdown with
mistune's own list and indented-code parsing, run in full. is_placeholder gives up
early on a long answer: the reference compares the whole plain text.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from types import MethodType
from typing import Any

import mistune
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mistune.block_parser import BlockParser

from dlcards import labels
from dlcards.markdown import Token, create_markdown, parse_blocks, parse_tokens, strip_comments

FIXTURES = sorted((Path(__file__).parent / "fixtures").rglob("*.md"))
PIECES = [
    *("# Topic\n", "## What is X?\n", "Title\n===\n", "Sub\n---\n", "---\n", "***\n", "\n", "\n"),
    *("**Answer:**\n", "- **Answer:** item\n", "> **Answer:** quoted\n", "**What?**\n", "Q: q\n", "A: a\n"),
    *("- item\n", "- two\n  continued\n", "lazy line\n", "1. first\n", "2) second\n", "7. seven\n", "* x\n"),
    *("+ y\n", "  - nested\n", "     deep\n", "    indented code\n", "\tcode tab\n", " \t mixed\n", "-\n"),
    *("text with *em*, **strong**, `code` and _under_\n", "```python\nx = 1\n```\n", "~~~\ncode\n~~~\n"),
    *("```\nunclosed\n", "  ```js\n  a()\n  ```\n", "> quote\n", "> [!tip] Title\n> body\n", ">\n"),
    *("- > quote in list\n", "   > nested quote\n", "| a | b |\n|---|---|\n| 1 | 2 |\n", "$$\nx^2\n$$\n"),
    *("inline $a+b$ and $5\n", "{{c1::cloze}} ==mark== [[Wiki|alias]] ![[pic.png]] #tag\n"),
    *("<details><summary>Answer</summary>\n", "</details>\n", "<!-- id: abc -->\n", "<div>\nx\n</div>\n"),
    *('[ref]: http://x.com "T"\n', "see [ref] and [a](http://a.b)\n", "- [ ] task\n", "text  \nbreak\n"),
    *("1. **Q: what?**\n   - A: yes\n", "- **What is it?**\n  the answer\n", "  | t | u |\n  |---|---|\n"),
]
markdown_texts = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _reference(md: mistune.Markdown) -> mistune.Markdown:
    """md, parsing lists and what lists and quotes hold as mistune itself does."""
    block: Any = md.block
    block._methods["list"] = partial(BlockParser.parse_list, block)
    block.parse = MethodType(BlockParser.parse, block)
    return md


REFERENCE = _reference(create_markdown(renderer=None))
REFERENCE.block._parse_indent_code_fast = MethodType(  # type: ignore[method-assign]
    BlockParser._parse_indent_code_fast, REFERENCE.block
)
TOP_LEVEL = create_markdown(renderer=None, top_level_only=True)
TOP_LEVEL_REFERENCE = _reference(create_markdown(renderer=None, top_level_only=True))


def _top_level(token: Token) -> Token:
    """What the parse stage may read of a top-level token: not what a list or quote holds."""
    kept = {k: v for k, v in token.items() if k not in ("children", "tight")}
    if token["type"] == "list":
        kept["items"] = len(token["children"])
    return kept


def _assert_same(text: str) -> None:
    assert parse_tokens(text)[0] == REFERENCE.parse(text)[0]
    ours, _ = parse_blocks(TOP_LEVEL, text)
    full, _ = parse_blocks(TOP_LEVEL_REFERENCE, text)
    assert [_top_level(t) for t in ours] == [_top_level(t) for t in full]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixtures_parse_as_mistune_parses_them(path: Path) -> None:
    _assert_same(strip_comments(path.read_text(encoding="utf-8")))


@SETTINGS
@given(markdown_texts, st.integers(0, 5))
def test_any_text_parses_as_mistune_parses_it(text: str, indent: int) -> None:
    _assert_same(text)
    _assert_same("".join(" " * indent + line for line in text.splitlines(keepends=True)))


def test_lists_nested_past_the_limit_parse_as_mistune_parses_them() -> None:
    deep = "".join("  " * n + "- > item\n" for n in range(40))
    _assert_same(deep)


def _placeholder_in_full(markdown: str) -> bool:
    """is_placeholder without its shortcut for long answers: the plain text, compared."""
    if labels._ONLY_LINK.match(markdown):
        return True
    plain = " ".join(re.sub(r"[*_`\[\]()<>!]", "", markdown).split()).strip(" .:")
    return not plain or bool(labels._PLACEHOLDER.match(plain))


ANSWER_PIECES = [
    *("answers", " goes here", "to come", "TODO", "tbd", "coming soon", "to be written in", "...", "…"),
    *("-", "---", "?", "??", " ", "\t", "\n", "\xa0", "\u3000", "*", "_", "`", "[", "]", "(", ")", "<", ">"),
    *("!", ".", ":", "x", "word ", "ſ", "İ", "[link](http://a)", "https://x.y", "<https://a.b>", "\x1c"),
]


@SETTINGS
@given(st.lists(st.sampled_from(ANSWER_PIECES), max_size=80).map("".join))
def test_placeholders_are_found_as_in_full(markdown: str) -> None:
    assert labels.is_placeholder(markdown) == _placeholder_in_full(markdown)
