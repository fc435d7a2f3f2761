"""Rendering stage: a question's Markdown into the HTML of its note fields.

Each part (title, prompt, answer, discussion) is parsed once into mistune's tokens,
looked over for inline `#tags` and cloze deletions, rendered, and sanitized: raw
HTML in notes passes through the renderer and nh3 keeps only the harmless part of it
(sanitize.py). Math reaches Anki as `\\(…\\)` / `\\[…\\]` for its MathJax, code is
highlighted at build time, Obsidian's syntax (obsidian.py) and cloze deletions
(cloze.py) render as below. Every field comes out NFC, free of control characters (a
`\\x1f` would end a field inside Anki's storage and abort the whole import).

Hands on a :class:`Card`: kind "basic" (Question, Answer, Discussion) or "cloze"
(Text = title, prompt, and the answer when it holds deletions; Extra = the answer
otherwise), with the section's inline tags as Anki tags (`#a/b` is `a::b`).

Media references. The media stage finds pictures and sounds with regular
expressions on the sanitized HTML, outside `<code>` and `<pre>`, in exactly these
two forms (attribute values double-quoted and HTML-escaped):

* ``<img src="PATH" alt="ALT">``, then ``width="W"`` and ``height="H"`` when given,
  and ``title="T"`` for a Markdown title; a raw `<img>` in the notes keeps its own
  attributes (of src, alt, title, width, height), in its own order. PATH is the
  file as the note names it: an embed's name as written (`![[my cat.png]]` gives
  `src="my cat.png"`); a Markdown destination with its percent-escapes decoded, as
  Markdown tools read it (`![](my%20cat.png)` and `![](<my cat.png>)` both give
  `src="my cat.png"`).
* ``[sound:PATH]`` (HTML-escaped text) for `mp3 ogg oga wav m4a flac opus aac mp4
  webm`, in either syntax.

Pictures on the web (`http://`, `https://`, `//`) are never fetched: Markdown ones
render as a link, ``<a href="URL">ALT or URL</a>``. `![[Some note]]` (no media
extension) is plain text, like a wikilink.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
from urllib.parse import unquote

import mistune
from mistune.core import BlockState
from mistune.util import escape, striptags

from .cloze import EMPTY_SPAN, might_hold_cloze, number_clozes, protect_tex, split_markers
from .highlight import highlight_code
from .markdown import Token, create_markdown, parse_inline_tokens, parse_tokens, strip_comments
from .model import Card, Question
from .obsidian import collect_tags, media_kind
from .sanitize import escape_unknown_tags, sanitize_html

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# On the web: what a browser would fetch (`https:host/x` and `\\\\host/x` included).
_REMOTE = re.compile(r"^(?:https?:|[\\/]{2})", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_URL_NOISE = re.compile(r"[\t\r\n ]")
# A raw <img> whose src has a scheme the sanitizer would drop silently (`file:`, `C:`).
_RAW_IMG_SCHEME = re.compile(
    r"""(<img\b[^>]*?\ssrc\s*=\s*["']?)(?!https?:)([a-zA-Z][a-zA-Z0-9+.-]*):""", re.I
)


class _CardRenderer(mistune.HTMLRenderer):
    """HTML for the fields of a basic note, and a cloze note's Extra and Discussion."""

    def __init__(self) -> None:
        super().__init__(escape=False)  # raw HTML goes on, to the sanitizer

    # An HTML comment is invisible in every Markdown viewer; keep it off the card too.
    # A "tag" that is no HTML element (`Vec<T>`) is text and stays visible.
    def block_html(self, html_text: str) -> str:
        if _COMMENT.fullmatch(html_text.strip()):
            return ""
        kept = escape_unknown_tags(_keep_local_scheme(html_text)).strip()
        return f"<p>{kept}</p>\n" if kept.startswith("&lt;") else kept + "\n"

    def inline_html(self, html_text: str) -> str:
        return "" if _COMMENT.fullmatch(html_text) else escape_unknown_tags(_keep_local_scheme(html_text))

    def block_code(self, code: str, info: str | None = None) -> str:
        language = info.split()[0] if info and info.strip() else None
        return self.code(highlight_code(code, language))

    def codespan(self, text: str) -> str:
        return self.code(f"<code>{escape(text)}</code>")

    def code(self, code_html: str) -> str:
        # Anki plays a `[sound:...]` wherever it stands; in code it is text.
        return code_html.replace("[sound:", f"[{EMPTY_SPAN}sound:")

    def tex(self, tex: str) -> str:
        return escape(tex, quote=False)

    def block_math(self, text: str) -> str:
        return f'<div class="dlc-math">\\[{self.tex(text.strip())}\\]</div>\n'

    def display_math(self, text: str) -> str:
        return f"\\[{self.tex(text.strip())}\\]"

    def inline_math(self, text: str) -> str:
        return f"\\({self.tex(text)}\\)"

    def image(self, text: str, url: str, title: str | None = None) -> str:
        alt = html.unescape(striptags(text))
        # mistune percent-encodes the destination; the media stage wants the file's name.
        return _media(unquote(url), alt=alt, title=title)

    def embed(self, target: str, kind: str, alt: str, width: str | None, height: str | None) -> str:
        return _media(target, alt=alt, width=width, height=height, sound=kind == "sound")

    def wikilink(self, text: str) -> str:
        return escape(text)

    def inline_tag(self, text: str, name: str) -> str:
        return f'<span class="dlc-tag">{escape(text)}</span>'

    def mark(self, text: str, cloze: int | None = None) -> str:
        return f"<mark>{text}</mark>"

    def cloze_text(self, text: str) -> str:
        return self.text(text)

    def callout(self, text: str, kind: str, fold: str) -> str:
        classes = f"dlc-callout dlc-callout-{kind}"
        if not fold:
            return f'<div class="{classes}">\n{text}</div>\n'
        opened = ' open=""' if fold == "+" else ""
        return f'<details class="{classes}"{opened}>\n{text}</details>\n'

    def callout_title(self, text: str, fold: str) -> str:
        tag = "summary" if fold else "div"
        return f'<{tag} class="dlc-callout-title">{text}</{tag}>\n'

    def callout_body(self, text: str) -> str:
        return f'<div class="dlc-callout-body">\n{text}</div>\n'


class _ClozeTextRenderer(_CardRenderer):
    """HTML for a cloze note's Text field: Anki reads it for `{{c1::...}}` markers, so
    no `}}`, `{{` or `::` may stand there that is not one (cloze.py)."""

    def code(self, code_html: str) -> str:
        return split_markers(super().code(code_html))

    def tex(self, tex: str) -> str:
        return escape(protect_tex(tex), quote=False)

    def mark(self, text: str, cloze: int | None = None) -> str:
        if not cloze:
            return f"<mark>{text}</mark>"
        if text.endswith("}"):  # `}` + `}}` would close the deletion one brace early
            text += EMPTY_SPAN
        return f"{{{{c{cloze}::{text}}}}}"

    def cloze_text(self, text: str) -> str:
        return split_markers(self.text(text))


def _media(
    path: str,
    *,
    alt: str,
    title: str | None = None,
    width: str | None = None,
    height: str | None = None,
    sound: bool | None = None,
) -> str:
    """A picture or a sound, in the forms the module docstring promises."""
    if _REMOTE.match(_URL_NOISE.sub("", path)):
        return f'<a href="{escape(path)}">{escape(alt or path)}</a>'
    if _SCHEME.match(path):
        # `file:///x` or `C:/x`: the sanitizer would drop such a src without a word;
        # written without its colon it reaches the media stage, which refuses it.
        path = path.replace(":", "%3A", 1)
    if sound is None:
        sound = media_kind(path) == "sound"
    if sound:
        return f"[sound:{escape(path, quote=False)}]"
    attrs = [("src", path), ("alt", alt), ("width", width), ("height", height), ("title", title)]
    return "<img" + "".join(f' {k}="{escape(v)}"' for k, v in attrs if v is not None) + ">"


def _keep_local_scheme(raw_html: str) -> str:
    """A raw <img> naming a `file:` URL or a drive (`C:\\`), with its colon written
    `%3A`: the sanitizer keeps it, and the media stage refuses it with its line."""
    return _RAW_IMG_SCHEME.sub(r"\1\2%3A", raw_html) if "<img" in raw_html.lower() else raw_html


_renderer = _CardRenderer()
_cloze_renderer = _ClozeTextRenderer()
# Plugins (tables, strikethrough, highlights) register their render methods on a renderer.
create_markdown(renderer=_renderer)
create_markdown(renderer=_cloze_renderer)


class _Part:
    """One part of a question (title, prompt, answer or discussion), parsed once: its
    tokens and inline tags; rendered with the renderer its field needs."""

    __slots__ = ("source", "state", "tags", "tokens")

    def __init__(self, markdown: str, *, inline: bool = False) -> None:
        self.source = strip_comments(markdown)
        self.tags: list[str] = []
        if not self.source.strip():
            self.tokens: list[Token] = []
            self.state = BlockState()
            return
        if inline:
            self.tokens, self.state = parse_inline_tokens(self.source)
        else:
            self.tokens, self.state = parse_tokens(self.source)
        if "#" in self.source:
            self.tags = collect_tags(self.tokens)  # also turns a `#word` in a link back into text

    def render(self, renderer: _CardRenderer) -> str:
        if not self.tokens:
            return ""
        return sanitize_html(str(renderer(self.tokens, self.state)).strip())


def render_card(question: Question) -> Card:
    """The fields of one question's note, its kind and its inline tags."""
    title = _Part(question.title, inline=True)
    prompt, answer, discussion = (_Part(t) for t in (question.prompt, question.answer, question.discussion))
    tags = _tags((title, prompt, answer, discussion))
    holds: tuple[bool, ...] = (False, False, False)
    if any(might_hold_cloze(p.source, question.cloze_highlights) for p in (title, prompt, answer)):
        holds = number_clozes(
            [title.tokens, prompt.tokens, answer.tokens], highlights=question.cloze_highlights
        )
    source = clean_field(html.escape(question.path, quote=False))
    if any(holds):
        text = [
            f'<div class="dlc-title">{title.render(_cloze_renderer)}</div>',
            prompt.render(_cloze_renderer),
        ]
        if holds[2]:
            text.append(answer.render(_cloze_renderer))
        return Card(
            question=question,
            front=clean_field("\n".join(t for t in text if t)),
            back="" if holds[2] else clean_field(answer.render(_renderer)),
            discussion=clean_field(discussion.render(_renderer)),
            source=source,
            kind="cloze",
            tags=tags,
        )
    front = title.render(_renderer)
    if prompt.tokens:
        front = f'<div class="dlc-title">{front}</div>\n{prompt.render(_renderer)}'
    return Card(
        question=question,
        front=clean_field(front),
        back=clean_field(answer.render(_renderer)),
        discussion=clean_field(discussion.render(_renderer)),
        source=source,
        tags=tags,
    )


def _tags(parts: tuple[_Part, ...]) -> tuple[str, ...]:
    """The section's inline tags, once each (Anki's tags ignore case)."""
    seen: set[str] = set()
    tags: list[str] = []
    for part in parts:
        for tag in part.tags:
            tag = unicodedata.normalize("NFC", tag)
            if tag.casefold() not in seen:
                seen.add(tag.casefold())
                tags.append(tag)
    return tuple(tags)


def inline_tags(markdown: str) -> tuple[str, ...]:
    """The Anki tags of a Markdown text's inline `#tags`: never in code, URLs or links."""
    return _tags((_Part(markdown),))


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

    walk(parse_tokens(text)[0])
    return spans


def render_markdown(text: str) -> str:
    """Block Markdown to sanitized HTML."""
    return clean_field(_Part(text).render(_renderer))


def render_inline(text: str) -> str:
    """Inline Markdown (a heading's text) to sanitized HTML, without a wrapping paragraph."""
    return clean_field(_Part(text, inline=True).render(_renderer))


def clean_field(value: str) -> str:
    """NFC, no control characters (tab and newline are kept).

    A combining long solidus right after a tag's `>` would compose with it under NFC
    (Anki normalizes too) and break the tag, so it is written as a character reference."""
    value = _CONTROL.sub("", value)
    if "\u0338" in value:
        value = value.replace(">\u0338", ">&#x338;")
    return unicodedata.normalize("NFC", value)
