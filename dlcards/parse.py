"""Parsing stage: a notes file's Markdown into questions.

Works on mistune's block tokens, never on regexes over the whole text, so headings,
labels and `---` inside fenced code or lists never split anything. A question is a
heading whose section holds an answer label; the section runs to the next heading
of the same or a higher level (deeper headings that are not questions themselves
belong to the answer). Hands on :class:`Question` values with Markdown fields.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .errors import Problem, Severity
from .markdown import Token, create_markdown, parse_blocks
from .model import ParsedFile, Question, SourceFile

_ANSWER = r"answer|a"
_DISCUSSION = r"discussion(?:\s+points?)?|discussion\s+questions?|follow[- ]ups?"


def _label_paragraph(words: str) -> re.Pattern[str]:
    # `**Answer:**`, `**Answer**:`, `__Answer:__`, `*Answer:*`, `Answer:` (any case),
    # followed by anything, which then belongs to the part the label opens.
    return re.compile(
        rf"^[ \t]*(?:(?P<em>\*\*|__|\*|_)[ \t]*(?:{words})[ \t]*(?::[ \t]*(?P=em)|(?P=em)[ \t]*:)"
        rf"|(?:{words})[ \t]*:(?![^\s*_]))",
        re.IGNORECASE,
    )


_ANSWER_PARAGRAPH = _label_paragraph(_ANSWER)
_PLAIN_A = re.compile(r"^[ \t]*a[ \t]*:", re.IGNORECASE)  # `A:` alone is too common a word
_DISCUSSION_PARAGRAPH = _label_paragraph(_DISCUSSION)
_ANSWER_HEADING = re.compile(rf"^(?:{_ANSWER})$", re.IGNORECASE)
_DISCUSSION_HEADING = re.compile(rf"^(?:{_DISCUSSION})$", re.IGNORECASE)

# `1.`, `1)`, `1.2.`, `Q1:`, `Q:`, `Q1.`, `Question 7:`, also when bold (`**1.**`).
_NUMBERING = re.compile(
    r"^(\*\*|__)?[ \t]*(?:(?:q|question)[ \t]*\d*[ \t]*[:.)\-–]|\d+(?:\.\d+)*[.)])[ \t]*"
    r"(?(1)\1)(?=\s|\*|_|$)[ \t]*",
    re.IGNORECASE,
)
_WRAPPED = re.compile(r"^(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1$", re.DOTALL)
_ID_COMMENT = re.compile(r"<!--\s*id\s*:\s*([^\s>]+)\s*-->", re.IGNORECASE)
_ID_BLOCK = re.compile(r"^\s*<!--\s*id\s*:\s*([^\s>]+)\s*-->\s*$", re.IGNORECASE)
_ID_START = re.compile(r"^\s*<!--\s*id\s*:", re.IGNORECASE)
_MAX_ID = 128

_md = create_markdown(renderer=None)


@dataclass(slots=True)
class _Block:
    token: Token
    start: int
    end: int
    line: int

    @property
    def kind(self) -> str:
        return str(self.token["type"])


def parse_file(source: SourceFile) -> ParsedFile:
    """Every question of one notes file, and the warnings it deserves."""
    return _FileParser(source).parse()


def clean_title(text: str) -> tuple[str, bool]:
    """Heading text without numbering (`1.`, `1)`, `Q1:`, `Q:`) or wrapping emphasis.

    Returns the title and whether it carried numbering.
    """
    text = _ID_COMMENT.sub("", text).strip()
    numbered = False
    while True:
        before = text
        stripped = _NUMBERING.sub("", text, count=1)
        if stripped != text:
            numbered = True
            text = stripped.strip()
        wrapped = _WRAPPED.match(text)
        if wrapped and wrapped.group(1) not in wrapped.group(2):
            text = wrapped.group(2).strip()
        if text == before:
            return text, numbered


def _looks_like_question(heading_text: str) -> bool:
    """Ends with "?" or is numbered: a heading the user probably meant as a question."""
    title, numbered = clean_title(heading_text)
    return numbered or title.endswith("?")


def _label_heading_kind(text: str) -> str | None:
    plain = re.sub(r"[*_`]", "", text).strip().rstrip(":").strip()
    if _ANSWER_HEADING.match(plain):
        return "answer"
    if _DISCUSSION_HEADING.match(plain):
        return "discussion"
    return None


def _paragraph_label(text: str) -> tuple[str, int] | None:
    """("answer" | "discussion", where the rest of the paragraph starts), if it is a label."""
    for kind, pattern in (("answer", _ANSWER_PARAGRAPH), ("discussion", _DISCUSSION_PARAGRAPH)):
        m = pattern.match(text)
        if m and not (kind == "answer" and m.group("em") is None and _PLAIN_A.match(text)):
            return kind, m.end()
    return None


class _FileParser:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        tokens, _ = parse_blocks(_md, source.body)
        self.text = source.body if source.body.endswith("\n") else source.body + "\n"
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        starts: list[int] = []
        for token in tokens:
            # Every rule stamps its tokens (markdown.py); were one ever missed, joining it
            # to the previous block keeps each piece of text in exactly one place.
            starts.append(int(token.get("_pos", starts[-1] if starts else 0)))
        self.blocks = [
            _Block(
                token=t,
                start=s,
                end=starts[i + 1] if i + 1 < len(starts) else len(self.text),
                line=self._line(s),
            )
            for i, (t, s) in enumerate(zip(tokens, starts, strict=False))
        ]
        self.problems: list[Problem] = []

    def _line(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) - 1 + self.source.body_line

    def _warn(self, line: int, message: str) -> None:
        self.problems.append(
            Problem(severity=Severity.WARNING, path=self.source.display_path, line=line, message=message)
        )

    def parse(self) -> ParsedFile:
        headings = [
            i
            for i, b in enumerate(self.blocks)
            if b.kind == "heading" and _label_heading_kind(str(b.token["text"])) is None
        ]
        # A heading is a question when its own part of the file (up to the next
        # heading of any level) holds an answer label.
        has_label: dict[int, bool] = {}
        for n, i in enumerate(headings):
            stop = headings[n + 1] if n + 1 < len(headings) else len(self.blocks)
            has_label[i] = any(self._is_answer_label(b) for b in self.blocks[i + 1 : stop])
        looks_like = {i: _looks_like_question(str(self.blocks[i].token["text"])) for i in headings}
        is_question = dict(has_label)
        # A question-like heading keeps its label across deeper headings that are not
        # question-like themselves ("## 1. What does this print?" / "### Snippet" / code
        # / "**Answer:**"): those belong to its prompt.
        for n, i in enumerate(headings):
            if has_label[i] or not clean_title(str(self.blocks[i].token["text"]))[0].endswith("?"):
                continue
            level = self._level(i)
            deeper: list[int] = []
            for j in headings[n + 1 :]:
                if self._level(j) <= level or looks_like[j]:
                    break
                deeper.append(j)
                if has_label[j]:
                    is_question[i] = True
                    for k in deeper:
                        is_question[k] = False
                    break

        sections: list[tuple[int, int]] = []
        for n, i in enumerate(headings):
            if not is_question[i]:
                continue
            level = self._level(i)
            end = len(self.blocks)
            for j in headings[n + 1 :]:
                if is_question[j] or self._level(j) <= level:
                    end = j
                    break
            sections.append((i, end))

        inside = {k for start, end in sections for k in range(start, end)}
        for i in headings:
            if i in inside:
                continue
            title, _ = clean_title(str(self.blocks[i].token["text"]))
            if looks_like[i]:
                self._warn(
                    self.blocks[i].line,
                    f"heading {title!r} looks like a question but has no answer label "
                    "(add a '**Answer:**' line under it); no card made",
                )

        for block in self.blocks:
            if block.kind == "block_code" and block.token.get("style") == "fenced":
                body = self.text[block.start : block.end].rstrip("\n").split("\n")
                marker = str(block.token.get("marker", "```"))
                if len(body) < 2 or not body[-1].strip().startswith(marker[:3]):
                    self._warn(
                        block.line,
                        f"code block opened with {marker} is never closed: everything after it "
                        "is code on one card",
                    )
            elif (
                block.kind == "block_html"
                and _ID_START.match(str(block.token["raw"]))
                and not _ID_BLOCK.match(str(block.token["raw"]))
            ):
                self._warn(block.line, "an id comment must be '<!-- id: one-word-slug -->'; ignored")

        questions = []
        for n, (start, end) in enumerate(sections):
            question = self._question(start, end, last=n == len(sections) - 1)
            if question is not None:
                questions.append(question)
        return ParsedFile(questions=tuple(questions), problems=tuple(self.problems))

    def _level(self, index: int) -> int:
        return int(self.blocks[index].token["attrs"]["level"])

    def _is_answer_label(self, block: _Block) -> bool:
        if block.kind == "heading":
            return _label_heading_kind(str(block.token["text"])) == "answer"
        if block.kind == "paragraph":
            found = _paragraph_label(str(block.token["text"]))
            return found is not None and found[0] == "answer"
        return False

    def _question(self, start: int, end: int, *, last: bool) -> Question | None:
        heading = self.blocks[start]
        title, _ = clean_title(str(heading.token["text"]))
        explicit_id = self._explicit_id(str(heading.token["text"]), start, end)
        parts: dict[str, list[str]] = {"prompt": [], "answer": [], "discussion": []}
        part_blocks: dict[str, list[_Block]] = {"prompt": [], "answer": [], "discussion": []}
        part = "prompt"
        for block in self.blocks[start + 1 : end]:
            label: tuple[str, int] | None = None
            if block.kind == "heading":
                kind = _label_heading_kind(str(block.token["text"]))
                if kind is not None:
                    label = (kind, len(self.text[block.start : block.end]))
            elif block.kind == "paragraph":
                label = _paragraph_label(str(block.token["text"]))
            elif block.kind == "block_html" and _ID_BLOCK.match(str(block.token["raw"])):
                continue
            if label is not None and self._opens(part, label[0]):
                part = label[0]
                rest = self.text[block.start : block.end][label[1] :]
                if rest.strip():
                    parts[part].append(rest.lstrip(" \t"))
                    part_blocks[part].append(block)
                continue
            parts[part].append(self.text[block.start : block.end])
            part_blocks[part].append(block)

        if last and part == "discussion":
            self._drop_epilogue(parts["discussion"], part_blocks["discussion"])
        # A `---` between two questions separates them; it belongs to neither card.
        while part_blocks[part] and part_blocks[part][-1].kind in ("thematic_break", "blank_line"):
            part_blocks[part].pop()
            parts[part].pop()
        answer = "".join(parts["answer"]).strip()
        if not re.sub(r"[*_`~\s]", "", title):
            self._warn(heading.line, "question heading is empty; no card made")
            return None
        if not answer:
            self._warn(heading.line, f"question {title!r} has an empty answer; no card made")
            return None
        return Question(
            path=self.source.path,
            display_path=self.source.display_path,
            line=heading.line,
            deck=self.source.deck,
            tags=self.source.tags,
            title=title,
            prompt="".join(parts["prompt"]).strip(),
            answer=answer,
            discussion="".join(parts["discussion"]).strip(),
            explicit_id=explicit_id,
        )

    @staticmethod
    def _opens(current: str, label: str) -> bool:
        # The answer label opens the answer once; the discussion label only follows it.
        return (current == "prompt" and label == "answer") or (current == "answer" and label == "discussion")

    def _drop_epilogue(self, texts: list[str], blocks: list[_Block]) -> None:
        """Paragraphs after the last list of the file's last discussion speak of the file."""
        lists = [k for k, b in enumerate(blocks) if b.kind == "list"]
        if not lists:
            return
        cut = lists[-1] + 1
        dropped = [b for b in blocks[cut:] if b.kind != "blank_line"]
        if dropped and all(b.kind == "paragraph" for b in dropped):
            del texts[cut:]
            del blocks[cut:]

    def _explicit_id(self, heading_text: str, start: int, end: int) -> str | None:
        m = _ID_COMMENT.search(heading_text)
        if m is None:
            for block in self.blocks[start + 1 : end]:
                if block.kind == "block_html":
                    m = _ID_BLOCK.match(str(block.token["raw"]))
                    if m:
                        break
        if m is None:
            return None
        value = m.group(1)
        if len(value) > _MAX_ID or not value.isprintable():
            self._warn(self.blocks[start].line, f"id {value[:40]!r} is not a usable id; ignored")
            return None
        return value
