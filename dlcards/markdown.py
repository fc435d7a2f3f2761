"""The one mistune configuration that parsing and rendering share.

Both stages must see the same block structure (tables, math, fences), so the
plugins and the math rules live here. Top-level block tokens are stamped with the
offset where they start (``_pos``), which mistune itself does not record: that is
what lets the parser give every question a line number and slice its Markdown.
"""

from __future__ import annotations

from re import Match, Pattern
from typing import Any

import mistune
from mistune.block_parser import BlockParser
from mistune.core import BlockState, InlineState
from mistune.inline_parser import InlineParser
from mistune.plugins.table import table, table_in_list, table_in_quote

Token = dict[str, Any]
_QUOTE_BREAKS = ["blank_line", "thematic_break", "fenced_code", "list", "block_html"]

# Display math: `$$` on its own line(s), or `$$ ... $$` alone on one line.
_BLOCK_MATH = (
    r"^ {0,3}\$\$(?P<math_text_single>[^\n]*?)\$\$[ \t]*(?:\n|$)|"
    r"^ {0,3}\$\$[ \t]*\n(?P<math_text_multi>[\s\S]*?)\n {0,3}\$\$[ \t]*(?:\n|$)"
)
# Inline math follows pandoc's rule, so that prices are not math: the opening `$`
# is not followed by a space, the closing one is not preceded by a space nor
# followed by a digit ("$5 and $10" stays text).
_INLINE_MATH = (
    r"\$\$(?P<display_math_text>(?:[^$\\]|\\.)+?)\$\$|"
    r"\$(?![\s$])(?P<math_text>(?:[^$\\\n]|\\.)*?(?:[^\s\\$]|\\.))\$(?!\d)"
)


def _parse_block_math(block: BlockParser, m: Match[str], state: BlockState) -> int:
    text = m.group("math_text_single")
    if text is None:
        text = m.group("math_text_multi")
    state.append_token({"type": "block_math", "raw": text})
    return m.end()


def _parse_inline_math(inline: InlineParser, m: Match[str], state: InlineState) -> int:
    display = m.group("display_math_text")
    if display is not None:
        state.append_token({"type": "display_math", "raw": display})
    else:
        state.append_token({"type": "inline_math", "raw": m.group("math_text")})
    return m.end()


def _math(md: mistune.Markdown) -> None:
    md.block.register("block_math", _BLOCK_MATH, _parse_block_math, before="list")
    md.block.insert_rule(md.block.list_rules, "block_math", before="list")
    md.block.insert_rule(md.block.block_quote_rules, "block_math", before="list")
    md.inline.register("inline_math", _INLINE_MATH, _parse_inline_math, before="codespan")


class _PositionedState(BlockState):
    """A BlockState whose new paragraphs remember where they start."""

    def add_paragraph(self, text: str) -> None:
        last = self.last_token()
        if last and last["type"] == "paragraph":
            last["text"] += text
        else:
            self.tokens.append({"type": "paragraph", "text": text, "_pos": self.cursor})


class _PositionedBlockParser(BlockParser):
    """Stamps every token a block rule adds with the offset the rule matched at."""

    state_cls = _PositionedState

    def parse_method(self, m: Match[str], state: BlockState) -> int | None:
        before = len(state.tokens)
        end = super().parse_method(m, state)
        for token in state.tokens[before:]:
            token.setdefault("_pos", m.start())
        return end

    def _parse_indent_code_fast(self, state: BlockState) -> int | None:
        # mistune's fast path for indented code adds tokens without parse_method.
        start, before = state.cursor, len(state.tokens)
        end: int | None = super()._parse_indent_code_fast(state)
        for token in state.tokens[before:]:
            token.setdefault("_pos", start)
        return end

    def compile_sc(self, rules: list[str] | None = None) -> Pattern[str]:
        # CommonMark: an ATX heading ends a block quote's lazy continuation. mistune
        # leaves it out of the rules that end one, so "> tip\n## Next?" would hide the
        # heading inside the quote.
        if rules == _QUOTE_BREAKS:
            rules = [*rules, "atx_heading"]
        return super().compile_sc(rules)


def create_markdown(renderer: mistune.HTMLRenderer | None) -> mistune.Markdown:
    """A mistune Markdown with dlcards' block rules and plugins."""
    md = mistune.Markdown(renderer=renderer, block=_PositionedBlockParser())
    table(md)
    table_in_list(md)
    table_in_quote(md)
    mistune.plugins.import_plugin("strikethrough")(md)
    _math(md)
    return md


def parse_blocks(md: mistune.Markdown, text: str) -> tuple[list[Token], BlockState]:
    """Block-level tokens of text (no inline parsing), each stamped with `_pos`."""
    state = md.block.state_cls()
    if not text.endswith("\n"):
        text += "\n"
    state.process(text)
    md.block.parse(state)
    return state.tokens, state
