"""Cloze deletions: which questions are cloze notes, and how their markers reach Anki.

A question is a cloze question when its title, prompt or answer holds a deletion
`{{c<N>::text}}` (or `{{c<N>::text::hint}}`) outside code, or, with front matter
`cloze: true`, a `==highlight==` outside code: each such highlight becomes its own
deletion, numbered after the highest explicit one, in order through the note
(highlights inside or around an explicit deletion stay highlights).

The markers are plain text to mistune, so Markdown inside a deletion renders, and
nh3 leaves braces alone. What Anki's cloze parser must not see inside the Text field
(it reads the field's HTML as text) is a `}}`, `{{` or `::` that is not a marker: in
math `}}` is written `} }` (the same TeX, as Anki's manual advises), in code and in
a highlight's text the pair is split by an empty `<span></span>`, which shows nothing
(so is a highlight's last `}` from the `}}` that closes its deletion).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .markdown import Token, parse_inline_tokens, parse_tokens, strip_comments
from .model import Question

_MARKER = re.compile(r"\{\{c([0-9]+)::|\}\}")  # ASCII digits only, as Anki reads them
OPENER = re.compile(r"\{\{c([0-9]+)::")  # a deletion's opening, with its number
_DOUBLED = re.compile(r"([{}:])(?=\1)")
_TEX_CLOSE = re.compile(r"\}(?=\})")
_CODE_AND_MATH = frozenset({"codespan", "block_code", "inline_math", "display_math", "block_math"})
EMPTY_SPAN = "<span></span>"


def might_hold_cloze(markdown: str, highlights: bool) -> bool:
    """False when a text certainly holds no deletion (a quick look, before any parsing)."""
    return "{{c" in markdown or (highlights and "==" in markdown)


def is_cloze(question: Question) -> bool:
    """Whether the question becomes a cloze note (see the module docstring)."""
    texts = (question.title, question.prompt, question.answer)
    if not any(might_hold_cloze(t, question.cloze_highlights) for t in texts):
        return False
    title, prompt, answer = (strip_comments(t) for t in texts)
    parts = [parse_inline_tokens(title)[0], parse_tokens(prompt)[0], parse_tokens(answer)[0]]
    return any(number_clozes(parts, highlights=question.cloze_highlights))


@dataclass(slots=True)
class _Scan:
    highlights: bool
    open: list[int] = field(default_factory=list)  # numbers of the deletions open here
    found: bool = False  # a whole deletion, opened and closed
    highest: int = 0  # the highest number of a whole deletion
    marks: list[Token] = field(default_factory=list)  # highlights that become deletions

    def read(self, text: str) -> None:
        for m in _MARKER.finditer(text):
            if m[1] is not None:
                self.open.append(int(m[1]))
            elif self.open:
                self.found = True
                self.highest = max(self.highest, self.open.pop())

    def walk(self, tokens: list[Token]) -> None:
        run: list[str] = []  # text that reaches the field in one piece
        for token in tokens:
            kind = token.get("type")
            if kind == "text":
                run.append(str(token.get("raw", "")))
                continue
            if kind == "softbreak":
                run.append("\n")
                continue
            self.read("".join(run))
            run = []
            if kind in _CODE_AND_MATH:
                continue
            if kind == "mark" and self.highlights and not self.open and not _holds_opener(token):
                self.marks.append(token)
                continue
            children = token.get("children")
            if isinstance(children, list):
                self.walk(children)
        self.read("".join(run))


def _holds_opener(token: Token) -> bool:
    if token.get("type") == "text" and OPENER.search(str(token.get("raw", ""))):
        return True
    children = token.get("children")
    return isinstance(children, list) and any(_holds_opener(child) for child in children)


def _protect_text(tokens: list[Token]) -> None:
    """A highlight's text becomes `cloze_text`, which the renderer writes with its
    `}}`, `{{` and `::` split (inside a deletion they would end it or start a hint)."""
    for token in tokens:
        if token.get("type") == "text":
            token["type"] = "cloze_text"
        children = token.get("children")
        if isinstance(children, list):
            _protect_text(children)


def number_clozes(parts: Sequence[list[Token]], *, highlights: bool) -> tuple[bool, ...]:
    """Which parts (title, prompt, answer tokens) hold a deletion outside code.

    With highlights, each `mark` token that becomes a deletion gets its number as the
    attribute `cloze` (in place), and its text is marked for protection."""
    scans = []
    for tokens in parts:
        scan = _Scan(highlights=highlights)
        scan.walk(tokens)
        scans.append(scan)
    number = max(scan.highest for scan in scans)
    for scan in scans:
        for mark in scan.marks:
            number += 1
            mark["attrs"] = {"cloze": number}
            _protect_text(mark.get("children", []))
    return tuple(scan.found or bool(scan.marks) for scan in scans)


def protect_tex(tex: str) -> str:
    """TeX whose `}}` cannot end a deletion: `} }` means the same to MathJax."""
    return _TEX_CLOSE.sub("} ", tex)


def split_markers(html_text: str) -> str:
    """HTML (code, or a highlight's text) whose `{{`, `}}` and `::` Anki cannot take for
    markers, shown the same: an empty span stands between the two characters."""
    return _DOUBLED.sub(r"\1" + EMPTY_SPAN, html_text)
