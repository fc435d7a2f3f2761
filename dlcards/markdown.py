"""The one mistune configuration that parsing and rendering share.

Both stages must see the same block structure (tables, math, fences), so the
plugins and the math rules live here. The parse stage's Markdown (top_level_only)
stamps top-level block tokens with the offset where they start (``_pos``), which
mistune itself does not record: that is what lets the parser give every question a
line number and slice its Markdown.

Obsidian's syntax is here too, as mistune rules (what each one means is in
obsidian.py): `==highlight==`, `[[wikilinks]]`, `![[embeds]]`, inline `#tags` and
`> [!type]` callouts; `%%comments%%` are blanked out of the text before parsing
(strip_comments).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache
from re import Match, Pattern
from typing import Any, cast

import mistune
from mistune import list_parser as _lists
from mistune.block_parser import BlockParser
from mistune.core import BlockState, InlineState
from mistune.inline_parser import InlineParser
from mistune.plugins.table import table, table_in_list, table_in_quote

from .obsidian import (
    EMBED,
    INLINE_TAG,
    WIKILINK,
    embed_options,
    media_kind,
    rewrite_callouts,
    tag_name,
    wikilink_text,
)

MISTUNE_VERSION: str = mistune.__version__  # part of the render cache's key
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


class _BlockParser(BlockParser):
    """mistune's block parser, with one CommonMark fix, parsing lists and indented
    code faster (to the same tokens: tests/test_render_same.py)."""

    def __init__(self) -> None:
        super().__init__()
        self._item_starts: dict[tuple[str, int], Pattern[str]] = {}
        self._item_breaks: dict[int, Pattern[str]] = {}

    def parse_list(self, m: Match[str], state: BlockState) -> int:
        # mistune's parse_list, but for the patterns that start and end a list item:
        # mistune builds them anew for every item, a tenth of all the work. They depend
        # on rules only, all registered (create_markdown) before the first parse.
        first = _lists._create_list_marker(m, "list")
        if not first.text.strip():
            end_pos = state.append_paragraph()
            if end_pos:
                return end_pos
        depth = state.depth()
        token: Token = {
            "type": "list",
            "children": [],
            "tight": True,
            "bullet": first.bullet,
            "attrs": {"depth": depth, "ordered": first.ordered},
        }
        if first.ordered:
            start = int(first.marker[:-1])
            if start != 1:
                end_pos = state.append_paragraph()
                if end_pos:
                    return end_pos
                token["attrs"]["start"] = start
        state.cursor = m.end() + 1
        rules = self.list_rules
        if depth >= self.max_nested_level - 1:
            rules = [rule for rule in rules if rule not in ("list", "block_quote")]
        bullet = _lists._get_list_bullet(first.bullet)
        item: _lists._ListMarker | None = first
        while item is not None:
            item = self._parse_list_item(bullet, item, token, state, rules)
        end_pos = token.pop("_end_pos", None)
        _lists._transform_tight_list(token)
        if end_pos:
            state.tokens.insert(token.pop("_tok_index"), token)
            return int(end_pos)
        state.append_token(token)
        return state.cursor

    def _parse_list_item(
        self, bullet: str, item: _lists._ListMarker, token: Token, state: BlockState, rules: list[str]
    ) -> _lists._ListMarker | None:
        width = item.leading_width
        text, continue_width = _lists._compile_continue_width(item.text, width)
        starts = self._item_starts.get((bullet, width))
        if starts is None:
            starts = re.compile(_lists._compile_list_item_pattern(bullet, width))
            self._item_starts[bullet, width] = starts
        breaks = self._item_breaks.get(width)
        if breaks is None:
            breaks = self._item_breaks[width] = _lists._compile_list_break_sc(self, width)
        lines = _lists._collect_list_item_lines(self, starts, breaks, state, text, continue_width)
        if lines.loose:
            token["tight"] = False
        if lines.end_pos is not None:
            token["_tok_index"] = lines.token_index
            token["_end_pos"] = lines.end_pos
        children = self._parse_item_content(state, text, lines.src, continue_width, rules)
        if token["tight"] and _lists._is_loose_list(children):
            token["tight"] = False
        token["children"].append({"type": "list_item", "children": children})
        return lines.next_item

    def _parse_item_content(
        self, state: BlockState, first_line: str, rest: str, continue_width: int, rules: list[str]
    ) -> list[Token]:
        child = state.child_state(_lists._build_list_item_source(first_line, rest, continue_width))
        self.parse(child, rules)
        return child.tokens

    def compile_sc(self, rules: list[str] | None = None) -> Pattern[str]:
        # CommonMark: an ATX heading ends a block quote's lazy continuation. mistune
        # leaves it out of the rules that end one, so "> tip\n## Next?" would hide the
        # heading inside the quote.
        if rules == _QUOTE_BREAKS:
            rules = [*rules, "atx_heading"]
        return super().compile_sc(rules)

    def _parse_indent_code_fast(self, state: BlockState) -> int | None:
        # mistune tries every line as indented code, slicing it out first; only one
        # that opens with a space or a tab can be.
        if state.src[state.cursor] not in " \t":
            return None
        end: int | None = super()._parse_indent_code_fast(state)
        return end


class _PositionedState(BlockState):
    """A BlockState whose new paragraphs remember where they start."""

    def add_paragraph(self, text: str) -> None:
        last = self.last_token()
        if last and last["type"] == "paragraph":
            last["text"] += text
        else:
            self.tokens.append({"type": "paragraph", "text": text, "_pos": self.cursor})


class _TopLevelBlockParser(_BlockParser):
    """Finds the top-level blocks, each stamped with the offset the rule matched at,
    without parsing what lists and quotes hold.

    mistune settles where a list or quote ends from its lines before it parses its
    content, so the top-level tokens are those a full parse gives, only without what
    they hold (a list keeps one empty entry per item, and its `tight` says nothing).
    Parsing that content is most of the work, and the parse stage never reads it."""

    state_cls = _PositionedState

    def parse(self, state: BlockState, rules: list[str] | None = None) -> None:
        if state.parent is None:
            super().parse(state, rules)

    def _parse_item_content(
        self, state: BlockState, first_line: str, rest: str, continue_width: int, rules: list[str]
    ) -> list[Token]:
        return []

    def parse_method(self, m: Match[str], state: BlockState) -> int | None:
        before = len(state.tokens)
        end = super().parse_method(m, state)
        for token in state.tokens[before:]:
            token.setdefault("_pos", m.start())
        return end

    def _parse_indent_code_fast(self, state: BlockState) -> int | None:
        # mistune's fast path for indented code adds tokens without parse_method.
        start, before = state.cursor, len(state.tokens)
        end = super()._parse_indent_code_fast(state)
        for token in state.tokens[before:]:
            token.setdefault("_pos", start)
        return end


def _parse_wikilink(inline: InlineParser, m: Match[str], state: InlineState) -> int:
    text = wikilink_text(m.group("wiki_target"), m.group("wiki_alias"))
    state.append_token({"type": "wikilink", "raw": text})
    return m.end()


def _parse_embed(inline: InlineParser, m: Match[str], state: InlineState) -> int:
    target = m.group("embed_target").strip()
    alt, width, height = embed_options(m.group("embed_options"))
    path = target if media_kind(target) else target.partition("#")[0]  # `a.png#x`, but `C#.png`
    kind = media_kind(path)
    if kind is None:  # a note (or a file no card can show): its name, as a wikilink shows it
        state.append_token({"type": "wikilink", "raw": wikilink_text(target, alt)})
    else:
        attrs = {"kind": kind, "alt": alt or path, "width": width, "height": height}
        state.append_token({"type": "embed", "raw": path, "attrs": attrs})
    return m.end()


def _parse_inline_tag(inline: InlineParser, m: Match[str], state: InlineState) -> int | None:
    name = tag_name(m.group("tag_text"))
    if name is None:
        return None  # `#2024`: mistune keeps the `#` as text and reads on
    state.append_token({"type": "inline_tag", "raw": m.group(0), "attrs": {"name": name}})
    return m.end()


def _obsidian(md: mistune.Markdown) -> None:
    mistune.plugins.import_plugin("mark")(md)
    md.inline.register("embed", EMBED, _parse_embed, before="link", start_chars="!")
    md.inline.register("wikilink", WIKILINK, _parse_wikilink, before="link", start_chars="[")
    md.inline.register("inline_tag", INLINE_TAG, _parse_inline_tag, start_chars="#")
    md.before_render_hooks.append(lambda md, state: rewrite_callouts(state.tokens))


def create_markdown(
    renderer: mistune.HTMLRenderer | None, *, top_level_only: bool = False
) -> mistune.Markdown:
    """A mistune Markdown with dlcards' block rules and plugins; top_level_only: one
    whose block parse leaves the content of lists and quotes unparsed (parse_blocks)."""
    block = _TopLevelBlockParser() if top_level_only else _BlockParser()
    md = mistune.Markdown(renderer=renderer, block=block)
    table(md)
    table_in_list(md)
    table_in_quote(md)
    mistune.plugins.import_plugin("strikethrough")(md)
    _math(md)
    _obsidian(md)
    return md


@cache
def _token_parser() -> mistune.Markdown:
    return create_markdown(renderer=None)


def parse_tokens(text: str) -> tuple[list[Token], BlockState]:
    """The block and inline tokens of a Markdown text, ready for a renderer."""
    tokens, state = _token_parser().parse(text)
    return cast(list[Token], tokens), state


def parse_inline_tokens(text: str) -> tuple[list[Token], BlockState]:
    """The inline tokens of one line of Markdown (a heading's text), ready for a renderer."""
    md = _token_parser()
    state = md.block.state_cls()
    return md.inline(text.strip(), state.env), state


def parse_blocks(md: mistune.Markdown, text: str) -> tuple[list[Token], BlockState]:
    """Block-level tokens of text (no inline parsing); those of a top_level_only md are
    each stamped with `_pos`."""
    state = md.block.state_cls()
    if not text.endswith("\n"):
        text += "\n"
    state.process(text)
    md.block.parse(state)
    return state.tokens, state


# -- Obsidian comments ------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"[ \t>]*(?:(?:[*+-]|\d{1,9}[.)])[ \t]+)?(?P<fence>`{3,}(?=[^`\n]*$)|~{3,})")
_FENCE_CLOSE = re.compile(r"[ \t>]*(?P<fence>`{3,}|~{3,})[ \t]*$")
_CODE_OR_COMMENT = re.compile(r"`+|%%")
_BACKTICKS = re.compile(r"`+")


def strip_comments(text: str) -> str:
    """The text with Obsidian's `%%comments%%` blanked out, every newline kept.

    A comment runs from `%%` to the next `%%`, on the same line or lines later; its
    characters are removed and its newlines kept, so every line keeps its number and
    a `## heading` inside a comment is no heading. `%%` inside fenced code or a code
    span is text, and so is a `%%` that is never closed (a stray one must not swallow
    the rest of a file). Indented code blocks are not recognised.
    """
    if "%%" not in text:
        return text
    out: list[str] = []
    pos, end = 0, len(text)
    fence: str | None = None  # the open code fence's marker
    runs: dict[int, list[int]] = {}  # backtick runs of the current line: length -> starts
    runs_line = -1
    while pos < end:
        eol = text.find("\n", pos)
        eol = end if eol < 0 else eol + 1
        if pos == 0 or text[pos - 1] == "\n":
            if fence is not None:
                close = _FENCE_CLOSE.match(text, pos, eol)
                if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence):
                    fence = None
                out.append(text[pos:eol])
                pos = eol
                continue
            opening = _FENCE_OPEN.match(text, pos, eol)
            if opening:
                fence = opening["fence"]
                out.append(text[pos:eol])
                pos = eol
                continue
        m = _CODE_OR_COMMENT.search(text, pos, eol)
        if m is None:
            out.append(text[pos:eol])
            pos = eol
        elif m[0] != "%%":
            # A code span: to the next run of as many backticks on this line, if any.
            if runs_line != eol:
                runs, runs_line = {}, eol
                for run in _BACKTICKS.finditer(text, m.start(), eol):
                    runs.setdefault(len(run[0]), []).append(run.start())
            starts = runs.get(len(m[0]), [])
            i = bisect_right(starts, m.start())
            stop = starts[i] + len(m[0]) if i < len(starts) else m.end()
            out.append(text[pos:stop])
            pos = stop
        else:
            close_at = text.find("%%", m.end())
            if close_at < 0:  # never closed: text
                out.append(text[pos : m.end()])
                pos = m.end()
                continue
            out.append(text[pos : m.start()])
            out.append("\n" * text.count("\n", m.start(), close_at))
            pos = close_at + 2
    return "".join(out)
