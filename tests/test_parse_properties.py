"""Property tests for reading, parsing and rendering notes files (hypothesis).

Two kinds of input: arbitrary text, and documents assembled from Markdown-ish
building blocks (headings, every label spelling, fences holding fake structure,
lists, blank and whitespace-only lines, rules, tables, math, id comments), joined
with LF, CRLF or a mix. A third strategy writes N well-formed questions in the
shapes real notes use and knows exactly what the parser must find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dlcards.model import ParsedFile, SourceFile
from dlcards.parse import parse_file
from dlcards.read import read_source
from dlcards.render import render_card

SETTINGS = settings(
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BOM = b"\xef\xbb\xbf"

# --- building blocks -------------------------------------------------------------------

VOCABULARY = [
    "cache", "index", "tree", "graph", "lock", "queue", "thread", "page", "hash", "vector",
    "tensor", "layer", "model", "store", "token", "batch", "kernel", "socket", "heap", "loss",
]  # fmt: skip
word = st.sampled_from(VOCABULARY)


def phrase(min_size: int = 1, max_size: int = 6) -> st.SearchStrategy[str]:
    return st.lists(word, min_size=min_size, max_size=max_size).map(" ".join)


NUMBERING = ["", "1. ", "12. ", "3) ", "Q1: ", "Q: ", "q7: "]
WRAPPING = [("", ""), ("**", "**"), ("*", "*"), ("__", "__")]
ANSWER_LABELS = [
    "**Answer:**", "**Answer**:", "Answer:", "**A:**", "**a:**", "**ANSWER:**", "__Answer:__", "answer:",
]  # fmt: skip
DISCUSSION_LABELS = ["**Discussion Points:**", "**Discussion:**", "Discussion:", "**discussion points:**"]
ANSWER_HEADING = "Answer"
DISCUSSION_HEADING = "Discussion"
OTHER_BOLD_LABELS = ["**Benefits:**", "**How it works:**", "**Limitations:**", "**Example: a cache.**"]
WHITESPACE_LINES = ["", "", "  ", "\t", "    ", "        ", " \t "]


def heading_line(level: int, numbering: str, wrap: tuple[str, str], title: str) -> str:
    return f"{'#' * level} {numbering}{wrap[0]}{title}{wrap[1]}"


fake_structure = st.sampled_from(
    [
        "### 9. A fake question?",
        "# Not a heading",
        "**Answer:**",
        "Answer: not a label",
        "**Discussion Points:**",
        "---",
        "<!-- id: fake -->",
    ]
)


@st.composite
def fence(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from(["```", "~~~", "````"]))
    info = draw(st.sampled_from(["", "python", "markdown", "text", "nosuchlanguage"]))
    body = draw(st.lists(st.one_of(fake_structure, phrase()), max_size=4))
    return "\n".join([marker + info, *body, marker])


@st.composite
def list_block(draw: st.DrawFn) -> str:
    ordered = draw(st.booleans())
    lines = []
    for n in range(draw(st.integers(1, 4))):
        bullet = f"{n + 1}." if ordered else "-"
        bold = draw(st.sampled_from(["", "**Point:** "]))
        lines.append(f"{bullet} {bold}{draw(phrase())}")
        if draw(st.booleans()):
            lines.append(f"    - {draw(phrase())}")
    return "\n".join(lines)


def paragraph() -> st.SearchStrategy[str]:
    return phrase(2, 10).map(lambda s: s[0].upper() + s[1:] + ".")


heading_block = st.builds(
    heading_line,
    st.integers(1, 6),
    st.sampled_from(NUMBERING),
    st.sampled_from(WRAPPING),
    st.one_of(phrase(), phrase().map(lambda s: s + "?"), st.text(max_size=12)),
)
question_block = st.builds(
    lambda heading, label, body: f"{heading}\n\n{label}\n\n{body}",
    heading_block,
    st.sampled_from([*ANSWER_LABELS, "#### Answer"]),
    paragraph(),
)

markdownish_block = st.one_of(
    question_block,
    heading_block,
    st.sampled_from(ANSWER_LABELS + DISCUSSION_LABELS + OTHER_BOLD_LABELS),
    st.sampled_from(ANSWER_LABELS).flatmap(lambda label: paragraph().map(lambda p: f"{label} {p}")),
    st.sampled_from(["#### Answer", "### Discussion", "## answer"]),
    st.sampled_from(WHITESPACE_LINES),
    fence(),
    list_block(),
    paragraph(),
    st.text(max_size=30),
    st.sampled_from(
        [
            "---",
            "***",
            "> quoted text",
            "<!-- id: some-slug -->",
            "<div>raw <b>html</b></div>",
            "| a | b |\n|---|---|\n| 1 | 2 |",
            "$$\nx^2\n$$",
            "Costs $5 and $10, area $\\pi r^2$.",
            "Setext heading\n---",
            "Setext heading?\n===",
            "    indented code\n    ### 4. not a heading?",
            "> quote\n> **Answer:** quoted",
        ]
    ),
)


@st.composite
def markdownish(draw: st.DrawFn) -> str:
    """A document of random building blocks, LF line endings."""
    blocks = draw(st.lists(markdownish_block, max_size=25))
    separators = draw(st.lists(st.sampled_from(["\n", "\n\n", "\n  \n"]), min_size=len(blocks)))
    text = "".join(b + s for b, s in zip(blocks, separators[: len(blocks)], strict=True))
    if draw(st.booleans()):
        text = text.rstrip("\n")
    if draw(st.booleans()):
        text = "---\ntags: [a, b]\nCreated time: 2024-01-01T10:00\n---\n" + text
    return text


any_text = st.one_of(st.text(), markdownish())

# --- helpers ---------------------------------------------------------------------------


def lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def crlf(text: str) -> str:
    return lf(text).replace("\n", "\r\n")


def mixed(text: str) -> str:
    """Every other line ending CRLF, the rest LF."""
    lines = text.split("\n")
    return "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines[:-1])) + lines[-1]


def read(data: bytes, path: str = "topic/some-notes.md") -> SourceFile | None:
    source, problems = read_source(data, path=path, display_path=f"notes/{path}")
    assert (source is None) == bool(problems)
    return source


def summary(parsed: ParsedFile) -> tuple[Any, ...]:
    return (
        parsed.questions,
        tuple((p.severity, p.path, p.line, p.message) for p in parsed.problems),
    )


_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")


def is_heading_start(lines: list[str], index: int) -> bool:
    """Whether lines[index] starts an ATX heading or the text of a setext heading."""
    if _ATX.match(lines[index]):
        return True
    for k in range(index + 1, len(lines)):
        if not lines[k].strip():
            return False
        if _SETEXT_UNDERLINE.match(lines[k]):
            return True
    return False


NUMBERING_PREFIX = re.compile(r"^(?:\d+[.)]|q\d*[ \t]*[:)])(?:\s|$)", re.IGNORECASE)

# --- properties ------------------------------------------------------------------------


def parse_text(text: str, newline: str) -> tuple[list[str], SourceFile | None, ParsedFile | None]:
    """The file's lines (LF, no BOM) and what reading and parsing it with `newline` endings gave."""
    text = lf(text.removeprefix("\ufeff"))
    data = mixed(text) if newline == "mixed" else text.replace("\n", newline)
    source = read(data.encode("utf-8", "surrogatepass"))
    return text.split("\n"), source, parse_file(source) if source is not None else None


newlines = st.sampled_from(["\n", "\r\n", "mixed"])


@SETTINGS
@given(any_text, newlines)
def test_any_text_reads_parses_and_renders_without_raising(text: str, newline: str) -> None:
    """Any text reads, parses and renders without raising; each question has a title and an answer."""
    lines, _, parsed = parse_text(text, newline)
    if parsed is None:
        return
    for q in parsed.questions:
        assert q.title.strip() == q.title and q.title
        assert q.answer.strip() == q.answer and q.answer
        card = render_card(q)
        assert card.back
        # Control characters are dropped from fields, so only a visible title promises a front.
        assert card.front or not any(ch.isprintable() and not ch.isspace() for ch in q.title)
    for problem in parsed.problems:
        assert 1 <= problem.line <= len(lines)
        assert problem.path == "notes/topic/some-notes.md"


@SETTINGS
@given(any_text, newlines)
def test_question_lines_point_at_their_heading(text: str, newline: str) -> None:
    """A question's line is within the file and is the first line of a heading."""
    lines, _, parsed = parse_text(text, newline)
    for q in parsed.questions if parsed else ():
        assert 1 <= q.line <= len(lines)
        assert is_heading_start(lines, q.line - 1), (q.line, lines[q.line - 1])


@SETTINGS
@given(any_text)
def test_titles_never_keep_a_numbering_prefix(text: str) -> None:
    """No title starts with `1.`, `1)`, `Q1:` or `Q:` numbering."""
    _, _, parsed = parse_text(text, "\n")
    for q in parsed.questions if parsed else ():
        assert not NUMBERING_PREFIX.match(q.title), q.title


@SETTINGS
@given(any_text)
@example("## 1. First?\n\n**Answer:** one\n\n## 2. Second?\n\n**Answer:**\n\nLook:\n\n    x = 1\n")
@example("## 1. First?\n\n**Answer:** one\n\n## 2. Second?\n        \n**Answer:** two\n")
@example("000000000000\n=\n**ANSWER:**000000000000")
def test_question_parts_come_from_their_own_section(text: str) -> None:
    """Prompt, answer and discussion are disjoint pieces of the file after their own heading."""
    lines, source, parsed = parse_text(text, "\n")
    if parsed is None or source is None:
        return
    assert sum(len(q.prompt) + len(q.answer) + len(q.discussion) for q in parsed.questions) <= len(
        source.body
    )
    for q in parsed.questions:
        heading = lines[q.line - 1]
        # Only a heading line whose text is nowhere else in the file can tell (an answer
        # may hold the same text: "000\n=\n**Answer:**000").
        if source.body.count(heading) == 1:
            parts = (q.prompt + "\n" + q.answer + "\n" + q.discussion).split("\n")
            assert heading not in parts, f"a part of {q.title!r} repeats its own heading line"


@SETTINGS
@given(any_text)
def test_parsing_is_invariant_under_crlf_and_bom(text: str) -> None:
    """LF, CRLF and a UTF-8 BOM in front give the same questions and warnings."""
    text = lf(text).lstrip("\ufeff")
    data = text.encode("utf-8", "surrogatepass")
    base = read(data)
    variants = [crlf(text).encode("utf-8", "surrogatepass"), BOM + data]
    if base is None:
        for variant in variants:
            assert read(variant) is None
        return
    expected = summary(parse_file(base))
    for variant in variants:
        source = read(variant)
        assert source is not None
        assert summary(parse_file(source)) == expected


# --- well-formed questions -------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    line: int
    title: str
    answer_marker: str
    discussion_marker: str | None


@st.composite
def well_formed_file(draw: st.DrawFn) -> tuple[str, list[Expected]]:
    """A notes file of N questions in the shapes real notes use, and what it holds."""
    lines: list[str] = []  # one entry per line of the file
    expected: list[Expected] = []

    def add(*blocks: str) -> None:
        for block in blocks:
            lines.extend(block.split("\n"))

    def blank() -> None:
        add(draw(st.sampled_from(WHITESPACE_LINES)))

    if draw(st.booleans()):
        add("---", "Created by: Someone", "Created time: 2023-12-11T23:15", "tags:", "  - x", "---")
    if draw(st.booleans()):
        add("  ", "")
    if draw(st.booleans()):
        add("# Notes on systems", "", draw(paragraph()), "")
    n = draw(st.integers(0, 6))
    level = draw(st.integers(2, 4))
    for k in range(n):
        title = draw(phrase(2, 8)) + draw(st.sampled_from(["?", ".", ""]))
        numbering = draw(st.sampled_from(NUMBERING))
        wrap = draw(st.sampled_from(WRAPPING))
        line = len(lines) + 1
        add(heading_line(level, numbering, wrap, title))
        blank()
        if draw(st.booleans()):
            add(draw(paragraph()), "")
        answer_marker = f"answermarker{k}"
        label_style = draw(st.sampled_from(["own", "inline", "heading"]))
        if label_style == "own":
            add(draw(st.sampled_from(ANSWER_LABELS)), "", f"{answer_marker} {draw(paragraph())}")
        elif label_style == "inline":
            add(f"{draw(st.sampled_from(ANSWER_LABELS))} {answer_marker} {draw(paragraph())}")
        else:
            add(f"{'#' * (level + 1)} {ANSWER_HEADING}", "", f"{answer_marker} {draw(paragraph())}")
        extras = ["para", "list", "fence", "indented", "label", "sub"]
        for extra in draw(st.lists(st.sampled_from(extras), max_size=4)):
            blank()
            if extra == "para":
                add(draw(paragraph()))
            elif extra == "list":
                add(draw(list_block()))
            elif extra == "fence":
                add(draw(fence()))
            elif extra == "indented":
                add("    for item in items:", "        print(item)")
            elif extra == "label":
                add(draw(st.sampled_from(OTHER_BOLD_LABELS)), "", draw(list_block()))
            elif level < 6:
                add(f"{'#' * (level + 1)} {draw(phrase(1, 3))}", "", draw(paragraph()))
        discussion_marker = None
        if draw(st.booleans()):
            discussion_marker = f"discussionmarker{k}"
            blank()
            label = draw(st.sampled_from([*DISCUSSION_LABELS, "heading"]))
            add(f"{'#' * (level + 1)} {DISCUSSION_HEADING}" if label == "heading" else label)
            add("", f"- {discussion_marker} {draw(phrase())}", f"- {draw(phrase())}")
        clean = title.strip()
        expected.append(Expected(line, clean, answer_marker, discussion_marker))
        blank()
    if expected and draw(st.booleans()):
        # After a discussion's last list this is the file's epilogue; without one, answer.
        add("", "Closingword ends the file. " + draw(paragraph()))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text += "\n"
    return text, expected


@SETTINGS
@given(well_formed_file(), st.sampled_from(["\n", "\r\n"]), st.booleans())
@example(
    case=(
        "## 1. First?\n\n**Answer:**\n\nanswermarker0 One.\n"
        "        \n**Discussion:**\n\n- discussionmarker0 a\n",
        [Expected(1, "First?", "answermarker0", "discussionmarker0")],
    ),
    newline="\n",
    bom=False,
)
def test_n_well_formed_questions_give_exactly_n_questions(
    case: tuple[str, list[Expected]], newline: str, bom: bool
) -> None:
    """A file of N well-formed questions yields exactly those N, in order, where they are."""
    text, expected = case
    data = (BOM if bom else b"") + text.replace("\n", newline).encode("utf-8")
    source = read(data)
    assert source is not None
    parsed = parse_file(source)
    assert [q.title for q in parsed.questions] == [e.title for e in expected]
    assert [q.line for q in parsed.questions] == [e.line for e in expected]
    assert parsed.problems == ()
    for q, e in zip(parsed.questions, expected, strict=True):
        others = [o.answer_marker for o in expected if o is not e]
        assert not any(m + " " in q.prompt + q.answer + q.discussion for m in others), q
        assert q.answer.startswith(e.answer_marker), q.answer
        assert "marker" not in q.prompt
        assert "discussionmarker" not in q.answer
        assert "Closingword" not in q.prompt + q.discussion
        if e.discussion_marker is None:
            assert q.discussion == ""
        else:
            assert q.discussion.startswith(f"- {e.discussion_marker}"), q.discussion
    if parsed.questions and "Closingword" in text:
        last, last_expected = parsed.questions[-1], expected[-1]
        assert ("Closingword" in last.answer) == (last_expected.discussion_marker is None), last
        render_card(q)
