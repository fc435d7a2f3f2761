"""Obsidian's additions to Markdown, as plain rules on text and on mistune's tokens.

markdown.py registers the inline rules and the callout hook with mistune; this module
holds what they decide, so that it reads without knowing mistune:

* wikilinks `[[Note]]`, `[[Note|alias]]`, `[[Note#Heading]]` show as plain text;
* embeds `![[file.png|300]]` are pictures or sounds, `![[Some note]]` is plain text;
* inline tags `#topic/sub` become the Anki tag `topic::sub`;
* callouts `> [!type]± Title` are boxes of one of a few colour families.
"""

from __future__ import annotations

import re
from typing import Any

Token = dict[str, Any]

IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "avif"})
SOUND_EXTENSIONS = frozenset({"mp3", "ogg", "oga", "wav", "m4a", "flac", "opus", "aac", "mp4", "webm"})

# `[[target]]` / `[[target|alias]]`; inside a table Obsidian writes the bar as `\|`.
WIKILINK = r"\[\[(?P<wiki_target>[^\[\]|\n]+?)(?:\\?\|(?P<wiki_alias>[^\[\]\n]*))?\]\]"
EMBED = r"!\[\[(?P<embed_target>[^\[\]|\n]+?)(?:\\?\|(?P<embed_options>[^\[\]\n]*))?\]\]"
# A tag starts at the start of the text or after whitespace (so `C#`, `a#b` and URL
# fragments are none); whether it holds a non-digit is checked by tag_name.
INLINE_TAG = r"(?<!\S)#(?P<tag_text>[\w/-]+)"

_SIZE = re.compile(r"^\s*(\d{1,5})(?:\s*x\s*(\d{1,5}))?\s*$")
_CALLOUT_LINE = re.compile(r"^\[!(?P<type>[A-Za-z0-9_-]+)\](?P<fold>[+-]?)[ \t]*(?P<title>[^\n]*)(?:\n|$)")

# Obsidian's callout types and their aliases, each mapped to the class its colours hang on.
CALLOUT_TYPES = {
    "note": "note",
    "abstract": "abstract",
    "summary": "abstract",
    "tldr": "abstract",
    "info": "info",
    "todo": "todo",
    "tip": "tip",
    "hint": "tip",
    "important": "tip",
    "success": "success",
    "check": "success",
    "done": "success",
    "question": "question",
    "help": "question",
    "faq": "question",
    "warning": "warning",
    "caution": "warning",
    "attention": "warning",
    "failure": "failure",
    "fail": "failure",
    "missing": "failure",
    "danger": "danger",
    "error": "danger",
    "bug": "bug",
    "example": "example",
    "quote": "quote",
    "cite": "quote",
}


def wikilink_text(target: str, alias: str | None) -> str:
    """What a wikilink shows: its alias, else the note's name without `.md` (a link to a
    heading of the same note, `[[#Heading]]`, shows the heading)."""
    if alias and alias.strip():
        return alias.strip()
    name, _, heading = target.partition("#")
    name = name.strip()
    if name.lower().endswith(".md"):
        name = name[:-3]
    return name or heading.strip().lstrip("^")


def media_kind(path: str) -> str | None:
    """What a path's extension makes it: "image", "sound", or None (no media file)."""
    base = path.rsplit("/", 1)[-1]
    if "." not in base:
        return None
    extension = base.rsplit(".", 1)[-1].lower()
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in SOUND_EXTENSIONS:
        return "sound"
    return None


def embed_options(options: str | None) -> tuple[str | None, str | None, str | None]:
    """(alt text, width, height) of an embed's `|...` part: `300` is a width, `300x200`
    width and height, anything else alt text (`|a caption|300` gives both)."""
    if not options:
        return None, None, None
    parts = options.split("|")
    size = _SIZE.match(parts[-1])
    if size:
        parts.pop()
    alt = "|".join(parts).strip() or None
    return alt, size.group(1) if size else None, size.group(2) if size else None


def tag_name(text: str) -> str | None:
    """The Anki tag of an inline `#text`: `/` nests (`a/b` is `a::b`); a tag of digits
    only (`#1`, `#2024`) is no tag, as in Obsidian."""
    parts = [part for part in text.split("/") if part]
    if not parts or all(part.isdigit() for part in parts):
        return None
    return "::".join(parts)


def collect_tags(tokens: list[Token]) -> list[str]:
    """The Anki names of the inline tags among tokens, in order. A `#word` inside a
    link's label or an image's alt text is not a tag: it turns back into text."""
    found: list[str] = []

    def walk(items: list[Token], in_link: bool) -> None:
        for token in items:
            kind = token.get("type")
            if kind == "inline_tag":
                if in_link:
                    token["type"] = "text"
                    token.pop("attrs", None)
                else:
                    found.append(str(token["attrs"]["name"]))
                continue
            children = token.get("children")
            if isinstance(children, list):
                walk(children, in_link or kind in ("link", "image"))

    walk(tokens, False)
    return found


def rewrite_callouts(tokens: list[Token]) -> None:
    """Turn each block quote whose first line is `[!type]` (with `+`/`-` to fold it open
    or closed, and an optional title) into a callout token, before inline parsing.

    A callout token holds a `callout_title` (the title as inline Markdown) and a
    `callout_body` with the quote's other blocks; quotes and lists inside are visited
    too, so callouts nest."""
    for token in tokens:
        children = token.get("children")
        if not isinstance(children, list):
            continue
        rewrite_callouts(children)
        if token.get("type") != "block_quote" or not children:
            continue
        first = children[0]
        text = first.get("text")
        if first.get("type") != "paragraph" or not isinstance(text, str):
            continue
        m = _CALLOUT_LINE.match(text)
        if not m:
            continue
        written = m.group("type").lower()
        fold = m.group("fold")
        rest = text[m.end() :]
        body = ([{**first, "text": rest}] if rest.strip() else []) + children[1:]
        title = m.group("title").strip() or written.capitalize()
        token["type"] = "callout"
        token["attrs"] = {"kind": CALLOUT_TYPES.get(written, "note"), "fold": fold}
        token["children"] = [{"type": "callout_title", "text": title, "attrs": {"fold": fold}}]
        if body:
            token["children"].append({"type": "callout_body", "children": body})
