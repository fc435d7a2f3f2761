"""Sanitizing: the HTML a card field may hold, enforced with nh3 (Rust's ammonia).

Raw HTML in notes passes through the renderer; each rendered field (dlcards' own
markup and the note's HTML together) is then parsed as an HTML fragment and written
back with only what can do no harm on a card in Anki desktop, AnkiMobile or AnkiDroid:

* harmless tags keep their text and their allowed attributes (`class` on every tag,
  `href`/`title` on links, `src`/`alt`/`title`/`width`/`height` on pictures, table
  spans and `text-align`, `open` on details, `start` on lists);
* `<script>` and `<style>` go with their content, `<svg>` and `<math>` whole; other
  tags (`iframe`, `object`, `embed`, `form`...) go but leave their text; event
  handlers, `style` outside table cells and `id` go (a field must not fake Anki's
  `#answer` anchor);
* links and pictures keep only http, https and mailto URLs, and relative ones
  (pictures name files next to the note, which the media stage resolves);
* comments go; tags left open are closed at the end of the field, and stray closing
  tags are dropped, so a field can never close the card template's own elements.

The output is serialized by html5ever: attributes double-quoted, `&`, `<`, `>` (and
no-break spaces) written as entities in text, `"` written as is. So a `<` that is
text always leaves as `&lt;` (Anki would read a raw one as a tag), and dlcards' own
markup leaves as it came in (up to how quotes and entities in text are spelled).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import cache

import nh3

NH3_VERSION = str(getattr(nh3, "__version__", "?"))  # part of the render cache's key (not in nh3's stubs)
ALLOWED_TAGS = frozenset(
    {
        # what Markdown renders to
        *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code"),
        *("em", "strong", "del", "a", "img", "ul", "ol", "li"),
        *("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col"),
        # harmless HTML that notes use
        *("b", "i", "u", "s", "ins", "mark", "small", "sub", "sup", "kbd", "abbr", "q", "cite"),
        *("var", "samp", "dfn", "span", "div", "details", "summary", "dl", "dt", "dd", "wbr"),
        *("ruby", "rt", "rp", "figure", "figcaption"),
    }
)
_ATTRIBUTES = {
    "*": {"class"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "details": {"open"},
    "ol": {"start"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
}
_DROPPED_WITH_CONTENT = frozenset({"script", "style"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# The names HTML gives its elements. A raw tag whose name is none of these (`List<T>`,
# `Map<String>` in prose) is text, not markup: the renderer escapes it so it stays
# visible, where a browser (and the sanitizer) would swallow it.
KNOWN_ELEMENTS = frozenset(
    {
        *("a", "abbr", "acronym", "address", "applet", "area", "article", "aside", "audio", "b"),
        *("base", "basefont", "bdi", "bdo", "bgsound", "big", "blink", "blockquote", "body", "br"),
        *("button", "canvas", "caption", "center", "cite", "code", "col", "colgroup", "data"),
        *("datalist", "dd", "del", "details", "dfn", "dialog", "dir", "div", "dl", "dt", "em"),
        *("embed", "fieldset", "figcaption", "figure", "font", "footer", "form", "frame"),
        *("frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr"),
        *("html", "i", "iframe", "image", "img", "input", "ins", "isindex", "kbd", "keygen"),
        *("label", "legend", "li", "link", "listing", "main", "map", "mark", "marquee", "math"),
        *("menu", "menuitem", "meta", "meter", "nav", "nobr", "noembed", "noframes", "noscript"),
        *("object", "ol", "optgroup", "option", "output", "p", "param", "picture", "plaintext"),
        *("pre", "progress", "q", "rb", "rp", "rt", "rtc", "ruby", "s", "samp", "script"),
        *("search", "section", "select", "slot", "small", "source", "span", "strike", "strong"),
        *("style", "sub", "summary", "sup", "svg", "table", "tbody", "td", "template"),
        *("textarea", "tfoot", "th", "thead", "time", "title", "tr", "track", "tt", "u", "ul"),
        *("var", "video", "wbr", "xmp"),
    }
)
_TAG_START = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")


@cache
def _cleaner() -> Callable[[str], str]:
    tags, dropped, schemes = set(ALLOWED_TAGS), set(_DROPPED_WITH_CONTENT), set(URL_SCHEMES)
    styles = {"text-align"}
    # link_rel=None: links stay as written (Anki opens them in the system browser).
    # One cleaner for the whole build: nh3.clean converts the options on every call.
    cleaner = nh3.Cleaner(
        tags=tags,
        clean_content_tags=dropped,
        attributes=_ATTRIBUTES,
        url_schemes=schemes,
        filter_style_properties=styles,
        link_rel=None,
    )
    return cleaner.clean


_MARKUP_CHARACTER = re.compile(r"[<>&\xa0]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
# html5ever's tree builder takes time quadratic in the nesting of block elements
# (30,000 nested <div> take seconds, 100,000 most of a minute); no note nests so deep.
MAX_DEPTH = 512


def sanitize_html(fragment: str) -> str:
    """The fragment with only harmless HTML left (see the module docstring).

    HTML nested deeper than MAX_DEPTH is not parsed at all: the whole fragment is
    shown as escaped text, so that a hostile file cannot stall a build."""
    if not _MARKUP_CHARACTER.search(fragment):
        return fragment  # plain text: nothing the parser would change
    if _nesting_exceeds(fragment, MAX_DEPTH):
        return html.escape(fragment, quote=False)
    return _cleaner()(fragment)


def _nesting_exceeds(fragment: str, limit: int) -> bool:
    """Whether tags (counted loosely: every tag not closed opens a level) nest deeper than limit."""
    if fragment.count("<") <= limit:
        return False
    depth = 0
    for m in _TAG.finditer(fragment):
        if m[1]:
            depth = max(depth - 1, 0)
        elif m[2].lower() not in _VOID:
            depth += 1
            if depth > limit:
                return True
    return False


def escape_unknown_tags(raw_html: str) -> str:
    """Raw HTML with each tag whose name is not an HTML element escaped, so that it
    shows as text (`Vec<T>`); real elements are left for the sanitizer to judge."""
    return _TAG_START.sub(
        lambda m: m.group(0) if m.group(2).lower() in KNOWN_ELEMENTS else "&lt;" + m.group(1) + m.group(2),
        raw_html,
    )
