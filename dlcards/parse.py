"""Parsing stage: a notes file's Markdown into questions.

Works on mistune's block tokens, never on regexes over the whole text, so headings,
labels and `---` inside fenced code or lists never split anything. Each file is read
in one of three shapes, detected per file (front matter `dlcards: {shape: ...}`
forces one):

* ``labelled``: a question is a heading whose section holds an answer label (a
  paragraph, a sub-heading, a bold label opening a list item or quote, or a
  `<details>` whose summary says Answer); the section runs to the next heading of the
  same or a higher level. Labelled shapes win: in such a file a question-like heading
  without a label is a warning and no card.
* ``body``: no labels anywhere, so each question-like heading's body is its answer;
  deeper headings belong to the answer, shallower ones are topics.
* ``bold``: questions are bold paragraphs (`**What is X?**`) or `Q:`/`A:` pairs under
  topic headings.

Hands on :class:`Question` values with Markdown fields.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from .cloze import OPENER as CLOZE_OPENER
from .cloze import is_cloze
from .errors import Problem, Severity
from .labels import (
    ID_COMMENT,
    Labels,
    clean_title,
    default_labels,
    heading_label,
    is_placeholder,
    looks_like_question,
    make_labels,
    match_label,
)
from .markdown import Token, create_markdown, parse_blocks, strip_comments
from .model import ParsedFile, Question, SourceFile
from .read import normalize_tags

SHAPES = ("labelled", "body", "bold")
_SETTINGS = ("shape", "answer_labels", "topics")

_ID_BLOCK = re.compile(r"^\s*<!--\s*id\s*:\s*([^\s>]+)\s*-->\s*$", re.IGNORECASE)
_ID_START = re.compile(r"^\s*<!--\s*id\s*:", re.IGNORECASE)
_MAX_ID = 128
_BULLET = re.compile(r"^[ \t]*(?:[*+-]|\d{1,9}[.)])[ \t]+")
_QUOTE_MARK = re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE)
_DETAILS_OPEN = re.compile(r"^\s*<details\b[^>]*>\s*<summary\b[^>]*>(.*?)</summary>", re.I | re.S)
_DETAILS_TAG = re.compile(r"<(/?)details\b", re.IGNORECASE)
_ANSWER_SUMMARY = re.compile(r"\b(?:answers?|solutions?|ans)\b", re.IGNORECASE)
_TAGS_ONLY = re.compile(r"^(?:\s*</?(?:p|br|div|span|b|strong|hr)\b[^>]*/?>\s*)*$", re.IGNORECASE)
_ADMONITION = re.compile(
    r'^(?P<mark>\?\?\?\+?|!!!)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+"(?P<title>[^"\n]*)")?[ \t]*$'
)
_ANSWER_TAB = re.compile(r'^===\+?[ \t]+"[^"\n]*\b(?:answers?|solutions?)\b[^"\n]*"[ \t]*\n', re.I | re.M)
_ANY_TAB = re.compile(r'^===\+?[ \t]+"', re.MULTILINE)
_TAB_LINE = re.compile(r'^===\+?[ \t]+"[^"\n]*"[ \t]*\n', re.MULTILINE)
_BOLD_QUESTION = re.compile(r"^(\*\*|__)(?=\S)(.+?)(?<=\S)\1[ \t]*$", re.DOTALL)
_Q_LINE = re.compile(r"^[ \t]*(?:\*\*|__)?Q[ \t]*\d*[ \t]*[:.](?:\*\*|__)?[ \t]*", re.IGNORECASE)
_A_LINE = re.compile(r"^[ \t]*(?:\*\*|__)?A[ \t]*[:.](?:\*\*|__)?[ \t]*", re.IGNORECASE)

# In a file whose front matter says `cloze: true`, a highlight is a cloze deletion.
_HIGHLIGHT = re.compile(r"==(?=\S)[^=\n]*?\S==")
_CODE_KINDS = ("block_code", "fenced_code")
# Code (fenced blocks and spans), where no cloze deletion is one.
_CODE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1|(`+)(?!`).*?(?<!`)\2(?!`)", re.DOTALL | re.MULTILINE)
_MAX_CLOZE = 500  # Anki reads a higher number as 500

_md = create_markdown(renderer=None, top_level_only=True)


@dataclass(slots=True)
class _Block:
    token: Token
    kind: str  # the token's type, asked for at every turn of every shape's loop
    start: int
    end: int
    line: int
    hidden: bool = False  # inside a collapsible answer: its headings split nothing
    absorbed: bool = False  # its text already belongs to an admonition above it


@dataclass(frozen=True, slots=True)
class _Admonition:
    """A MkDocs admonition (`??? success "View Answer"` + an indented body)."""

    title: str
    body: str  # dedented Markdown
    before: str  # with an `=== "Answer"` tab: the body before that tab
    answer: str | None  # the answer it holds, if any


@dataclass(slots=True)
class _Draft:
    """A question being assembled: its parts as Markdown pieces, with their blocks."""

    line: int
    title: str
    heading_text: str
    start: int = 0  # offset of the question in the file's body
    level: int = 7  # the question heading's level (7: not a heading)
    by_cloze: bool = False  # a question only for the cloze deletions its section holds
    parts: dict[str, list[str]] = field(
        default_factory=lambda: {"prompt": [], "answer": [], "discussion": []}
    )
    blocks: dict[str, list[_Block]] = field(
        default_factory=lambda: {"prompt": [], "answer": [], "discussion": []}
    )

    def add(self, part: str, text: str, block: _Block) -> None:
        self.parts[part].append(text)
        self.blocks[part].append(block)


def parse_file(source: SourceFile) -> ParsedFile:
    """Every question of one notes file, and the warnings it deserves."""
    return _FileParser(source).parse()


class _FileParser:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Obsidian `%%comments%%` are gone before anything reads the file: a heading
        # inside one is no question. Newlines stay, so every line keeps its number.
        body = strip_comments(source.body)
        tokens, _ = parse_blocks(_md, body)
        self.text = body if body.endswith("\n") else body + "\n"
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        starts: list[int] = []
        for token in tokens:
            # Every rule stamps its tokens (markdown.py); were one ever missed, joining it
            # to the previous block keeps each piece of text in exactly one place.
            starts.append(int(token.get("_pos", starts[-1] if starts else 0)))
        self.blocks = [
            _Block(
                token=t,
                kind=str(t["type"]),
                start=s,
                end=starts[i + 1] if i + 1 < len(starts) else len(self.text),
                line=self._line(s),
            )
            for i, (t, s) in enumerate(zip(tokens, starts, strict=True))
        ]
        self.labels, self.forced_shape = self._settings()
        self.cloze_highlights = self._cloze_setting()
        self._heading_starts: list[tuple[int, int, str]] | None = None
        self._block_at_line = {b.line: n for n, b in reversed(list(enumerate(self.blocks)))}
        self.details_end = self._mark_collapsible()
        self.admonitions = self._mark_admonitions()

    # -- settings and helpers -------------------------------------------------------

    def _settings(self) -> tuple[Labels, str | None]:
        self.topics: str | None = None
        config = self.source.meta.get("dlcards")
        if config is None:
            return default_labels(), None
        if not isinstance(config, dict):
            self._problem(Severity.ERROR, 1, "front matter 'dlcards' must be a mapping, e.g. {shape: body}")
            return default_labels(), None
        for key in config:
            if key not in _SETTINGS:
                close = difflib.get_close_matches(str(key), _SETTINGS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(_SETTINGS)})"
                self._problem(Severity.ERROR, 1, f"unknown dlcards setting {key!r}{hint}")
        topics = config.get("topics")
        if topics is not None and topics not in ("subdecks", "tags"):
            self._problem(Severity.ERROR, 1, f"topics must be 'subdecks' or 'tags', not {topics!r}")
        elif topics is not None:
            self.topics = str(topics)
        shape = config.get("shape")
        if shape is not None and shape not in (*SHAPES, "auto"):
            self._problem(
                Severity.ERROR, 1, f"unknown shape {shape!r}: use one of {', '.join(SHAPES)} or auto"
            )
            shape = None
        words = config.get("answer_labels", [])
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            self._problem(Severity.ERROR, 1, "'answer_labels' must be a list of words")
            words = []
        labels = make_labels(words) if words else default_labels()
        return labels, None if shape in (None, "auto") else str(shape)

    def _cloze_setting(self) -> bool:
        value = next((v for k, v in self.source.meta.items() if str(k).strip().lower() == "cloze"), None)
        if value is not None and not isinstance(value, bool):
            self._problem(Severity.ERROR, 1, f"front matter 'cloze' must be true or false, not {value!r}")
            return False
        return bool(value)

    def _holds_cloze(self, blocks: list[_Block]) -> bool:
        """Whether a section holds cloze deletions (outside code): it is a cloze question
        even without an answer label or a question-like heading."""
        pattern = _HIGHLIGHT if self.cloze_highlights else None
        for block in blocks:
            if block.kind in _CODE_KINDS:
                continue
            raw = _CODE.sub("", self._source(block))
            if CLOZE_OPENER.search(raw) or (pattern is not None and pattern.search(raw)):
                return True
        return False

    def _line(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) - 1 + self.source.body_line

    def _problem(self, severity: Severity, line: int, message: str) -> None:
        self.problems.append(
            Problem(severity=severity, path=self.source.display_path, line=line, message=message)
        )

    def _warn(self, line: int, message: str) -> None:
        self._problem(Severity.WARNING, line, message)

    def _source(self, block: _Block) -> str:
        return self.text[block.start : block.end]

    def _level(self, block: _Block) -> int:
        return int(block.token["attrs"]["level"])

    def _headings(self) -> list[int]:
        """Headings that can start or end a section: not labels, not inside an answer."""
        return [
            i
            for i, b in enumerate(self.blocks)
            if b.kind == "heading"
            and not b.hidden
            and heading_label(self.labels, str(b.token["text"])) is None
        ]

    def _mark_collapsible(self) -> dict[int, int]:
        """`<details><summary>Answer</summary> ... </details>`: everything inside, headings
        included, is one answer. Returns opener offset -> closer index."""
        regions: dict[int, int] = {}
        i = 0
        while i < len(self.blocks):
            block = self.blocks[i]
            if block.kind == "block_html":
                m = _DETAILS_OPEN.match(str(block.token["raw"]))
                if m and _ANSWER_SUMMARY.search(re.sub(r"<[^>]*>", "", m.group(1))):
                    depth = 0
                    for j in range(i, len(self.blocks)):
                        if self.blocks[j].kind == "block_html":
                            for tag in _DETAILS_TAG.finditer(str(self.blocks[j].token["raw"])):
                                depth += -1 if tag.group(1) else 1
                        if j > i:
                            self.blocks[j].hidden = True
                        if depth <= 0:
                            break
                    regions[block.start] = j
                    i = j
            i += 1
        return regions

    def _mark_admonitions(self) -> dict[int, _Admonition]:
        """`??? success "View Answer"` / `!!! question` + `=== "Answer"` tabs: the indented
        body is Markdown (not code), read here from the source lines."""
        found: dict[int, _Admonition] = {}
        for block in self.blocks:
            if block.kind != "paragraph" or block.hidden or block.absorbed:
                continue
            first_end = self.text.find("\n", block.start)
            m = _ADMONITION.match(self.text[block.start : first_end])
            if m is None:
                continue
            end = pos = first_end + 1
            while pos < len(self.text):
                line_end = self.text.find("\n", pos) + 1 or len(self.text)
                line = self.text[pos:line_end]
                if line.strip() and not line.startswith(("    ", "\t")):
                    break
                if line.strip():
                    end = line_end
                pos = line_end
            for other in self.blocks:
                if block.start < other.start < end:
                    other.absorbed = other.hidden = True
            body = _dedent(self.text[first_end + 1 : end])
            title = m.group("title") or m.group("kind")
            before, answer = body, None
            if _ANSWER_SUMMARY.search(title):
                before, answer = "", body
            else:
                tab = _ANSWER_TAB.search(body)
                if tab:
                    rest = body[tab.end() :]
                    stop = _ANY_TAB.search(rest)
                    before = _dedent(_TAB_LINE.sub("", body[: tab.start()]))
                    answer = _dedent(rest[: stop.start()] if stop else rest)
            found[block.start] = _Admonition(title=title, body=body, before=before, answer=answer)
        return found

    # -- labels in their several forms ----------------------------------------------

    def _label(self, block: _Block) -> tuple[str, str] | None:
        """(kind, the rest of the block as Markdown) when a block opens a part."""
        if block.hidden:
            return None
        raw = self._source(block)
        if block.kind == "heading":
            kind = heading_label(self.labels, str(block.token["text"]))
            return (kind, "") if kind else None
        if block.kind == "paragraph" and block.start in self.admonitions:
            answer = self.admonitions[block.start].answer
            return None if answer is None else ("answer", answer)
        if block.kind == "paragraph":
            found = match_label(self.labels, raw)
            return (found[0], raw[found[1] :].lstrip(" \t")) if found else None
        if block.kind == "list":
            bullet = _BULLET.match(raw)
            found = match_label(self.labels, raw[bullet.end() :], in_list=True) if bullet else None
            if bullet is None or found is None or not _emphasised(raw[bullet.end() :]):
                return None
            rest = raw[bullet.end() + found[1] :]
            if len(block.token.get("children", [])) == 1:  # one item: its text is the answer
                indent = " " * bullet.end()
                rest = re.sub(rf"^{indent}", "", rest, flags=re.MULTILINE)
                return found[0], rest.lstrip(" \t")
            return found[0], raw[: bullet.end()] + rest.lstrip(" \t")
        if block.kind == "block_quote":
            inner = _QUOTE_MARK.sub("", raw)
            found = match_label(self.labels, inner, in_list=True)
            if found is None or not _emphasised(inner):
                return None
            return found[0], inner[found[1] :].lstrip(" \t")
        if block.kind == "block_html" and block.start in self.details_end:
            opener = str(block.token["raw"])
            after = opener[_DETAILS_OPEN.match(opener).end() :]  # type: ignore[union-attr]
            return "answer", "" if _TAGS_ONLY.match(after) else after
        return None

    def _is_answer_label(self, block: _Block) -> bool:
        found = self._label(block)
        return found is not None and found[0] == "answer"

    # -- shapes ---------------------------------------------------------------------

    def parse(self) -> ParsedFile:
        shape = self.forced_shape or self._detect_shape()
        if shape == "labelled":
            drafts = self._labelled()
        elif shape == "body":
            drafts = self._body()
        else:
            drafts = self._bold()
        self._check_blocks()
        questions = []
        for draft in drafts:
            question = self._finish(draft)
            if question is not None:
                questions.append(question)
        return ParsedFile(questions=tuple(questions), problems=tuple(self.problems), shape=shape)

    def _detect_shape(self) -> str:
        if any(self._is_answer_label(b) for b in self.blocks):
            return "labelled"
        headings = self._headings()
        if any(looks_like_question(str(self.blocks[i].token["text"])) for i in headings):
            return "body"
        if self._holds_cloze(self.blocks):
            return "labelled"  # headings over cloze text: each section one cloze note
        if any(self._bold_title(b) or self._bold_items(b) for b in self.blocks):
            return "bold"
        return "labelled"

    def _labelled(self) -> list[_Draft]:
        headings = self._headings()
        has_label: dict[int, bool] = {}
        by_cloze: set[int] = set()
        for n, i in enumerate(headings):
            stop = headings[n + 1] if n + 1 < len(headings) else len(self.blocks)
            section = self.blocks[i + 1 : stop]
            has_label[i] = any(self._is_answer_label(b) for b in section)
            if not has_label[i] and self._holds_cloze([self.blocks[i], *section]):
                has_label[i] = True
                by_cloze.add(i)
        looks_like = {i: looks_like_question(str(self.blocks[i].token["text"])) for i in headings}
        is_question = dict(has_label)
        # A question heading keeps its label across deeper headings that are not
        # question-like themselves ("## 1. What does this print?" / "### Snippet" / code
        # / "**Answer:**"): those belong to its prompt.
        for n, i in enumerate(headings):
            if has_label[i] or not clean_title(str(self.blocks[i].token["text"]))[0].endswith("?"):
                continue
            level = self._level(self.blocks[i])
            deeper: list[int] = []
            for j in _after(headings, n):
                if self._level(self.blocks[j]) <= level or looks_like[j]:
                    break
                deeper.append(j)
                if has_label[j]:
                    is_question[i] = True
                    for k in deeper:
                        is_question[k] = False
                    break

        sections = []
        for n, i in enumerate(headings):
            if not is_question[i]:
                continue
            level = self._level(self.blocks[i])
            end = len(self.blocks)
            for j in _after(headings, n):
                if is_question[j] or self._level(self.blocks[j]) <= level:
                    end = j
                    break
            sections.append((i, end))

        inside = {k for start, end in sections for k in range(start, end)}
        for i in headings:
            if i not in inside and looks_like[i]:
                title, _ = clean_title(str(self.blocks[i].token["text"]))
                self._warn(
                    self.blocks[i].line,
                    f"heading {title!r} looks like a question but has no answer label "
                    "(add a '**Answer:**' line under it); no card made",
                )
        drafts = []
        for n, (start, end) in enumerate(sections):
            draft = self._draft_from_heading(start)
            draft.by_cloze = start in by_cloze
            part = "prompt"
            for block in self.blocks[start + 1 : end]:
                if block.kind == "block_html" and _ID_BLOCK.match(str(block.token["raw"])):
                    continue
                label = self._label(block)
                if label is not None and _opens(part, label[0]):
                    admonition = self.admonitions.get(block.start)
                    if admonition is not None and admonition.before.strip():
                        draft.add(part, admonition.before, block)
                    part = label[0]
                    if label[1].strip():
                        draft.add(part, label[1], block)
                    continue
                draft.add(part, self._content(block), block)
            if n == len(sections) - 1 and part == "discussion":
                _drop_epilogue(draft)
            drafts.append(draft)
        return drafts

    def _body(self) -> list[_Draft]:
        headings = self._headings()
        # Forced to this shape, every heading may be a question; detected, only those
        # that look like one.
        by_cloze = {
            i
            for n, i in enumerate(headings)
            if self.forced_shape != "body"
            and not looks_like_question(str(self.blocks[i].token["text"]))
            and self._holds_cloze(
                self.blocks[i : headings[n + 1] if n + 1 < len(headings) else len(self.blocks)]
            )
        }
        candidates = [
            i
            for i in headings
            if self.forced_shape == "body"
            or looks_like_question(str(self.blocks[i].token["text"]))
            or i in by_cloze
        ]
        if not candidates:
            return []
        # The level most questions sit at is the question level (ties: the deeper);
        # question-like headings above it are topics ("## 1. Concepts"), below it part
        # of an answer.
        counts = Counter(self._level(self.blocks[i]) for i in candidates)
        level = max(counts, key=lambda lv: (counts[lv], lv))
        drafts = []
        chosen = set(candidates)
        for n, i in enumerate(headings):
            if i not in chosen or self._level(self.blocks[i]) != level:
                continue
            end = next(
                (j for j in _after(headings, n) if self._level(self.blocks[j]) <= level), len(self.blocks)
            )
            draft = self._draft_from_heading(i)
            draft.by_cloze = i in by_cloze
            for block in self.blocks[i + 1 : end]:
                if block.kind == "block_html" and _ID_BLOCK.match(str(block.token["raw"])):
                    continue
                draft.add("answer", self._content(block), block)
            drafts.append(draft)
        return drafts

    def _bold_title(self, block: _Block) -> str | None:
        """The question of a `**What is X?**` or `Q: ...` paragraph."""
        if block.kind != "paragraph" or block.hidden:
            return None
        raw = self._source(block).strip()
        bold = _BOLD_QUESTION.match(raw)
        if bold and "?" in bold.group(2) and "\n" not in bold.group(2):
            return bold.group(2).strip()
        q = _Q_LINE.match(raw)
        if q and raw[q.end() :].strip():
            return raw[q.end() :].strip().strip("*_").strip()
        return None

    def _bold_topic(self, block: _Block) -> bool:
        if block.kind != "paragraph" or block.hidden:
            return False
        bold = _BOLD_QUESTION.match(self._source(block).strip())
        return bold is not None and "\n" not in bold.group(2) and not bold.group(2).rstrip().endswith(":")

    def _bold_items(self, block: _Block) -> list[_Draft]:
        """A list whose items ask (`- **What is X?**` + the answer indented below it, or
        `- Q: ...` with a nested `- A: ...`): one question per such item."""
        raw = self._source(block)
        first = _BULLET.match(raw)
        if block.kind != "list" or block.hidden or first is None:
            return []
        indent = len(first.group()) - len(first.group().lstrip())
        marker = re.compile(rf"^ {{{indent}}}(?:[*+-]|\d{{1,9}}[.)])[ \t]+", re.MULTILINE)
        starts = [m.start() for m in marker.finditer(raw)]
        drafts = []
        for n, start in enumerate(starts):
            item = raw[start : starts[n + 1] if n + 1 < len(starts) else len(raw)]
            head = marker.match(item)
            assert head is not None
            line_end = item.find("\n")
            line_end = len(item) if line_end < 0 else line_end
            first_line = item[head.end() : line_end].strip()
            bold = _BOLD_QUESTION.match(first_line)
            q = _Q_LINE.match(first_line)
            if bold and "?" in bold.group(2):
                title = bold.group(2).strip()
            elif q and first_line[q.end() :].strip():
                title = first_line[q.end() :].strip()
            else:
                continue
            body = re.sub(rf"^ {{1,{len(head.group())}}}", "", item[line_end + 1 :], flags=re.MULTILINE)
            answer_item = re.match(r"^[ \t]*[*+-][ \t]+" + _A_LINE.pattern.lstrip("^"), body, re.IGNORECASE)
            if answer_item:
                body = _dedent(body[answer_item.end() :])
            line = block.line + raw.count("\n", 0, start)
            draft = _Draft(line=line, title=title, heading_text=title, start=block.start)
            draft.add("answer", body, block)
            drafts.append(draft)
        return drafts

    def _bold(self) -> list[_Draft]:
        drafts: list[_Draft] = []
        current: _Draft | None = None
        for block in self.blocks:
            items = self._bold_items(block)
            if items:
                drafts.extend(items)
                current = None
                continue
            title = self._bold_title(block)
            if title is not None:
                current = _Draft(line=block.line, title=title, heading_text=title, start=block.start)
                drafts.append(current)
                continue
            if block.kind == "heading" and not block.hidden:
                current = None
            elif self._bold_topic(block):
                # A bold line that asks nothing ("**Precision-recall trade-off**") starts
                # a topic: it ends the answer before it, and its text is on no card.
                current = None
                self._warn(
                    block.line, "bold line is a topic, not a question (no '?'); its text is on no card"
                )
            elif current is not None:
                text = self._content(block)
                if not "".join(current.parts["answer"]).strip() and block.kind == "paragraph":
                    a = _A_LINE.match(text)
                    if a:
                        text = text[a.end() :]
                current.add("answer", text, block)
        return drafts

    # -- assembling ------------------------------------------------------------------

    def _draft_from_heading(self, index: int) -> _Draft:
        block = self.blocks[index]
        text = str(block.token["text"])
        return _Draft(
            line=block.line,
            title=clean_title(text)[0],
            heading_text=text,
            start=block.start,
            level=self._level(block),
        )

    def _content(self, block: _Block) -> str:
        """A block's Markdown as it goes on a card (a collapsible answer loses its tags)."""
        raw = self._source(block)
        if block.absorbed:
            return ""
        if block.start in self.admonitions and block.kind == "paragraph":
            admonition = self.admonitions[block.start]
            quoted = re.sub(r"^", "> ", admonition.body.rstrip("\n"), flags=re.MULTILINE)
            return f"> **{admonition.title}**\n>\n{quoted}\n\n"
        if block.kind == "block_html" and block.hidden and _DETAILS_TAG.search(raw):
            before = raw[: _DETAILS_TAG.search(raw).start()]  # type: ignore[union-attr]
            return "" if _TAGS_ONLY.match(before) else before
        if block.kind in ("block_html", "paragraph") and _TAGS_ONLY.match(raw.strip()):
            return "\n"  # a bare <br/> or <p> separator shows nothing
        return raw

    def _finish(self, draft: _Draft) -> Question | None:
        for part in ("discussion", "answer", "prompt"):
            # A `---` or `<br/>` after a question separates it from the next one.
            while draft.blocks[part] and (
                draft.blocks[part][-1].kind in ("thematic_break", "blank_line")
                or not draft.parts[part][-1].strip()
            ):
                draft.blocks[part].pop()
                draft.parts[part].pop()
        title_cloze = bool(CLOZE_OPENER.search(_CODE.sub("", draft.title)))
        if not any(p.strip() for p in draft.parts["answer"]) and (draft.by_cloze or title_cloze):
            # A cloze section without an answer label: its text is the cloze text.
            draft.parts["answer"], draft.parts["prompt"] = draft.parts["prompt"], []
            draft.blocks["answer"], draft.blocks["prompt"] = draft.blocks["prompt"], []
        answer = "".join(draft.parts["answer"]).strip()
        if not re.sub(r"[*_`~\s]", "", draft.title):
            self._warn(draft.line, "question heading is empty; no card made")
            return None
        question = self._question(draft, answer)
        if draft.by_cloze or title_cloze:
            if not is_cloze(question):
                # Its "deletions" were in math or code: not a question after all (one
                # with a question-like heading is warned about when it has no answer).
                return None if draft.by_cloze or self._answer_missing(draft, answer) else question
            numbers = [int(n) for n in CLOZE_OPENER.findall(_CODE.sub("", f"{draft.title}\n{answer}"))]
            wrong = sorted({n for n in numbers if not 1 <= n <= _MAX_CLOZE})
            if wrong:
                at = self.text.find(f"{{{{c{wrong[0]}::", draft.start)
                self._problem(
                    Severity.ERROR,
                    self._line(at) if at >= 0 else draft.line,
                    f"cloze numbers run from c1 to c{_MAX_CLOZE} (Anki makes no proper card for "
                    f"{', '.join(f'c{n}' for n in wrong)})",
                )
                return None
            return question
        return None if self._answer_missing(draft, answer) else question

    def _answer_missing(self, draft: _Draft, answer: str) -> bool:
        """Whether a question has no answer (or a placeholder one): warned, no card."""
        if not answer:
            self._warn(draft.line, f"question {draft.title!r} has an empty answer; no card made")
            return True
        if is_placeholder(answer):
            self._warn(draft.line, f"question {draft.title!r} has a placeholder answer; no card made")
            return True
        return False

    def _question(self, draft: _Draft, answer: str) -> Question:
        deck, tags = self.source.deck, self.source.tags
        topic = self._topic(draft) if self.topics else None
        if topic and self.topics == "subdecks":
            deck = f"{deck}::{topic.replace('::', ':')}"
        elif topic:
            tags = normalize_tags([*tags, re.sub(r"[^\w-]+", "_", topic).strip("_")])
        return Question(
            path=self.source.path,
            display_path=self.source.display_path,
            line=draft.line,
            deck=deck,
            tags=tags,
            title=draft.title,
            prompt="".join(draft.parts["prompt"]).strip(),
            answer=answer,
            discussion="".join(draft.parts["discussion"]).strip(),
            explicit_id=self._explicit_id(draft),
            cloze_highlights=self.cloze_highlights,
            prompt_line=_part_line(draft, "prompt"),
            answer_line=_part_line(draft, "answer"),
            discussion_line=_part_line(draft, "discussion"),
        )

    def _topic(self, draft: _Draft) -> str | None:
        """The heading a question sits under (`## Part 2: Estimation`), as plain text."""
        if self._heading_starts is None:
            self._heading_starts = [
                (b.start, self._level(b), str(b.token["text"]))
                for b in self.blocks
                if b.kind == "heading" and not b.hidden
            ]
        n = bisect.bisect_left(self._heading_starts, (draft.start,))
        for _, level, text in reversed(self._heading_starts[:n]):
            if level < draft.level:
                title = re.sub(r"[*_`]", "", clean_title(text)[0]).strip()
                return title or None
        return None

    def _explicit_id(self, draft: _Draft) -> str | None:
        m = ID_COMMENT.search(draft.heading_text)
        if m is None:
            for block in (b for part in draft.blocks.values() for b in part):
                if block.kind == "block_html":
                    m = _ID_BLOCK.match(str(block.token["raw"]))
                    if m:
                        break
        if m is None:
            m = self._id_under(draft.line)
        if m is None:
            return None
        value = m.group(1)
        if len(value) > _MAX_ID or not value.isprintable():
            self._warn(draft.line, f"id {value[:40]!r} is not a usable id; ignored")
            return None
        return value

    def _id_under(self, line: int) -> re.Match[str] | None:
        """An id comment directly under the question's heading (it is skipped as content)."""
        n = self._block_at_line.get(line)
        if n is None:
            return None
        for after in self.blocks[n + 1 : n + 3]:
            if after.kind == "block_html":
                return _ID_BLOCK.match(str(after.token["raw"]))
            if after.kind != "blank_line":
                return None
        return None

    def _check_blocks(self) -> None:
        for block in self.blocks:
            if block.kind == "block_code" and block.token.get("style") == "fenced":
                body = self._source(block).rstrip("\n").split("\n")
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


def _part_line(draft: _Draft, part: str) -> int:
    """The file line where a part's text begins (0 when the part is empty)."""
    for text, block in zip(draft.parts[part], draft.blocks[part], strict=True):
        rest = text.lstrip()
        if rest:
            return block.line + text[: len(text) - len(rest)].count("\n")
    return 0


def _after(items: list[int], n: int) -> Iterator[int]:
    """items[n + 1:], without copying it (the loops that use it usually stop early)."""
    return (items[m] for m in range(n + 1, len(items)))


def _dedent(text: str) -> str:
    """One level of indentation (four spaces or a tab) off every line."""
    return re.sub(r"^(?: {1,4}|\t)", "", text, flags=re.MULTILINE)


def _emphasised(text: str) -> bool:
    """Labels inside lists and quotes count only when marked up (`**Answer**:`, `` `Ans:` ``):
    a plain "Solution: ..." bullet is ordinary content."""
    return text.lstrip()[:1] in ("*", "_", "`")


def _opens(current: str, label: str) -> bool:
    # The answer label opens the answer once; the discussion label only follows it.
    return (current == "prompt" and label == "answer") or (current == "answer" and label == "discussion")


def _drop_epilogue(draft: _Draft) -> None:
    """Paragraphs after the last list of the file's last discussion speak of the file."""
    blocks, texts = draft.blocks["discussion"], draft.parts["discussion"]
    lists = [k for k, b in enumerate(blocks) if b.kind == "list"]
    if not lists:
        return
    cut = lists[-1] + 1
    dropped = [b for b in blocks[cut:] if b.kind != "blank_line"]
    if dropped and all(b.kind == "paragraph" for b in dropped):
        del texts[cut:]
        del blocks[cut:]
