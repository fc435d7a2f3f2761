"""Rendering stage: a question's Markdown into the HTML of its note fields.

Raw HTML in notes is escaped and shown as text, links keep only safe schemes, math
reaches Anki as `\\(…\\)` / `\\[…\\]` for its MathJax, and code is highlighted at
build time. Every field comes out NFC, free of control characters (a `\\x1f` would
end a field inside Anki's storage and abort the whole import).
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

import mistune
from mistune.core import BlockState

from .highlight import highlight_code
from .markdown import create_markdown
from .model import Card, Question

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class _CardRenderer(mistune.HTMLRenderer):
    def __init__(self) -> None:
        super().__init__(escape=True)

    # An HTML comment is invisible in every Markdown viewer; keep it off the card too
    # (everything else that looks like HTML is escaped and shown as text).
    def block_html(self, html_text: str) -> str:
        return "" if _COMMENT.fullmatch(html_text.strip()) else super().block_html(html_text)

    def inline_html(self, html_text: str) -> str:
        return "" if _COMMENT.fullmatch(html_text) else super().inline_html(html_text)

    def block_code(self, code: str, info: str | None = None) -> str:
        language = info.split()[0] if info and info.strip() else None
        return highlight_code(code, language)

    def block_math(self, text: str) -> str:
        return f'<div class="dlc-math">\\[{html.escape(text.strip(), quote=False)}\\]</div>\n'

    def display_math(self, text: str) -> str:
        return f"\\[{html.escape(text.strip(), quote=False)}\\]"

    def inline_math(self, text: str) -> str:
        return f"\\({html.escape(text, quote=False)}\\)"


_renderer = _CardRenderer()
_md = create_markdown(renderer=_renderer)
_ast = create_markdown(renderer=None)


def render_card(question: Question) -> Card:
    """The Question, Answer and Discussion fields of one question."""
    front = render_inline(question.title)
    if question.prompt:
        front = f'<div class="dlc-title">{front}</div>\n{render_markdown(question.prompt)}'
    return Card(
        question=question,
        front=clean_field(front),
        back=clean_field(render_markdown(question.answer)),
        discussion=clean_field(render_markdown(question.discussion)) if question.discussion else "",
        source=clean_field(html.escape(question.path, quote=False)),
    )


def math_spans(text: str) -> list[tuple[str, bool]]:
    """The math in a Markdown text as the renderer sees it: (TeX, is display math)."""
    spans: list[tuple[str, bool]] = []

    def walk(tokens: list[dict[str, Any]]) -> None:
        for token in tokens:
            kind = token.get("type")
            if kind in ("block_math", "display_math", "inline_math"):
                spans.append((str(token.get("raw", "")), kind != "inline_math"))
            children = token.get("children")
            if isinstance(children, list):
                walk(children)

    tokens = _ast(text)
    walk(tokens if isinstance(tokens, list) else [])
    return spans


def render_markdown(text: str) -> str:
    """Block Markdown to HTML."""
    return str(_md(text)).strip()


def render_inline(text: str) -> str:
    """Inline Markdown (a heading's text) to HTML, without a wrapping paragraph."""
    state = BlockState()
    tokens: list[dict[str, Any]] = _md.inline(text.strip(), state.env)
    return str(_renderer(tokens, state)).strip()


def clean_field(value: str) -> str:
    """NFC, no control characters (tab and newline are kept)."""
    return unicodedata.normalize("NFC", _CONTROL.sub("", value))
