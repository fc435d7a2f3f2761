"""Code highlighting with Pygments, done at build time so cards work offline.

The markup uses CSS classes (not inline colours), so one stylesheet in the note
type gives readable colours in both light and night mode. Pygments' lexers and
formatters are imported only when a note has code.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

import pygments

PYGMENTS_VERSION: str = pygments.__version__  # the render cache's key (loads no lexer)

CSS_CLASS = "dlc-code"
LIGHT_STYLE = "friendly"
NIGHT_STYLE = "monokai"


@lru_cache(maxsize=1)
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass=CSS_CLASS, wrapcode=True)


@lru_cache(maxsize=256)
def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return None


def highlight_code(code: str, language: str | None) -> str:
    """HTML for a fenced block: highlighted when the language is known, plain otherwise."""
    lexer = _lexer(language.lower()) if language else None
    if lexer is None:
        return f'<div class="{CSS_CLASS}"><pre><code>{html.escape(code, quote=False)}</code></pre></div>\n'
    from pygments import highlight

    return str(highlight(code, lexer, _formatter()))


def code_css() -> str:
    """The token colours: a light style, and a dark one under Anki's night-mode classes."""
    from pygments.formatters import HtmlFormatter

    light = str(HtmlFormatter(style=LIGHT_STYLE).get_style_defs(f".{CSS_CLASS}"))  # type: ignore[no-untyped-call]
    night = str(
        HtmlFormatter(style=NIGHT_STYLE).get_style_defs(  # type: ignore[no-untyped-call]
            [f".nightMode .{CSS_CLASS}", f".night_mode .{CSS_CLASS}"]
        )
    )
    # Keep only the rules scoped to code blocks: Pygments also emits bare `pre` and
    # line-number rules that would restyle the whole card.
    scoped = [line for line in (light + "\n" + night).splitlines() if f".{CSS_CLASS}" in line]
    return "\n".join(scoped) + "\n"
