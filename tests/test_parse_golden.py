"""Golden tests for the reading and parsing stages (and rendering, for some fixtures).

Each ``tests/fixtures/parse/**/NAME.md`` has a ``NAME.json`` beside it holding what
a user expects from it: the file's front matter, every question (line, deck, tags,
title, prompt, answer, discussion, explicit id) and every warning as
``path:line: message`` in line order. Fixtures named in ``RENDERED`` also pin the
card's HTML fields. The fixture's path under ``fixtures/parse`` is its path under the
notes root, so folders there become parent decks.

To regenerate after an intended change, run with ``DLCARDS_UPDATE_GOLDEN=1`` and
review the diff of the JSON files: that diff is the behaviour change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dlcards.parse import parse_file
from dlcards.read import read_source
from dlcards.render import render_card

FIXTURES = Path(__file__).parent / "fixtures" / "parse"
UPDATE = os.environ.get("DLCARDS_UPDATE_GOLDEN") == "1"

# Fixtures whose expected JSON also holds the rendered card fields.
RENDERED = {
    "example-shape.md",
    "fences.md",
    "indented-code.md",
    "labels.md",
    "math-escapes.md",
    "render.md",
    "shape-collapsible.md",
    "whitespace-lines.md",
}

NAMES = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.md"))


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def _mixed(data: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lines[:-1])) + lines[-1]


BOM = b"\xef\xbb\xbf"
VARIANTS = {
    "crlf": _crlf,
    "bom": lambda data: BOM + data,
    "bom-crlf": lambda data: BOM + _crlf(data),
    "mixed": _mixed,
}


def parse_result(data: bytes, rel: str) -> dict[str, Any]:
    """What the JSON of one fixture holds, computed from the file's bytes."""
    display = f"notes/{rel}"
    source, problems = read_source(data, path=rel, display_path=display)
    assert source is not None, [str(p) for p in problems]
    assert problems == []
    parsed = parse_file(source)
    questions = []
    for q in parsed.questions:
        assert (q.path, q.display_path) == (rel, display)
        entry: dict[str, Any] = {
            "line": q.line,
            "deck": q.deck,
            "tags": list(q.tags),
            "title": q.title,
            "prompt": q.prompt,
            "answer": q.answer,
            "discussion": q.discussion,
            "explicit_id": q.explicit_id,
        }
        if rel in RENDERED:
            card = render_card(q)
            entry["rendered"] = {"front": card.front, "back": card.back, "discussion": card.discussion}
        questions.append(entry)
    warnings = []
    # In file order, as the build reports them (the parser's own order is not pinned).
    for p in sorted(parsed.problems, key=lambda p: (p.line, p.message)):
        assert p.severity.value == "warning", str(p)
        warnings.append(f"{p.path}:{p.line}: {p.message}")
    # default=repr: a date that YAML turned into an object would show up as one.
    meta = json.loads(json.dumps(dict(source.meta), default=repr))
    return {"meta": meta, "shape": parsed.shape, "questions": questions, "warnings": warnings}


TOP_KEYS = ("meta", "shape", "questions", "warnings")
QUESTION_KEYS = ("line", "deck", "tags", "title", "prompt", "answer", "discussion", "explicit_id", "rendered")


def _ordered(d: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    return {k: d[k] for k in sorted(d, key=lambda k: (order.index(k) if k in order else len(order), k))}


def as_json(result: dict[str, Any]) -> str:
    """The JSON text a result is stored and compared as: fixed key order, so diffs read well."""
    result = _ordered(result, TOP_KEYS)
    if isinstance(result.get("questions"), list):
        result["questions"] = [_ordered(q, QUESTION_KEYS) for q in result["questions"]]
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def _json_path(rel: str) -> Path:
    return FIXTURES / (rel[: -len(".md")] + ".json")


def _expected(rel: str) -> dict[str, Any]:
    path = _json_path(rel)
    if not path.exists():
        pytest.fail(f"{path.name} is missing: run with DLCARDS_UPDATE_GOLDEN=1 and review it")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def test_fixtures_are_found() -> None:
    """The fixture folder holds the golden fixtures, each .md with its .json."""
    assert len(NAMES) >= 8
    for rel in NAMES:
        assert UPDATE or _json_path(rel).exists(), rel
    for json_file in FIXTURES.rglob("*.json"):
        assert json_file.with_suffix(".md").exists(), f"{json_file.name} has no .md beside it"


@pytest.mark.parametrize("rel", NAMES)
def test_golden(rel: str) -> None:
    """Parsing (and, where pinned, rendering) a fixture gives exactly its JSON."""
    actual = as_json(parse_result((FIXTURES / rel).read_bytes(), rel))
    if UPDATE:
        _json_path(rel).write_text(actual, encoding="utf-8")
    assert actual == as_json(_expected(rel))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("rel", NAMES)
def test_golden_line_endings_and_bom(rel: str, variant: str) -> None:
    """CRLF, mixed line endings and a UTF-8 BOM give the same result as the LF file."""
    data = (FIXTURES / rel).read_bytes()
    assert b"\r" not in data and not data.startswith(BOM), "fixtures are stored as LF without BOM"
    expected = as_json(parse_result(data, rel))
    assert as_json(parse_result(VARIANTS[variant](data), rel)) == expected


def test_example_shape_keeps_the_quirks_of_real_notes() -> None:
    """example-shape.md still has the quirks it exists for (editors tend to 'fix' them)."""
    data = (FIXTURES / "example-shape.md").read_bytes()
    lines = data.decode("utf-8").split("\n")
    assert not data.endswith(b"\n"), "no final newline"
    assert sum(1 for line in lines if line and not line.strip()) >= 3, "whitespace-only lines"
    assert sum(1 for line in lines if line.startswith("### 1. ")) == 2, "two '### 1.' headings"
    assert not any(line.startswith("### 2.") for line in lines), "no '### 2.' heading"
    assert any(line.startswith("### 3. **") and line.endswith("**") for line in lines), "bold titles"
    assert any(line.startswith("    - ") for line in lines), "nested list indented by four spaces"
    assert "**Benefits:**" in lines and "**Discussion Points:**" in lines
    assert any(":" in line and line.startswith("**") and line.endswith(".**") for line in lines)
    assert any(" time: 2024-" in line for line in lines[:9]), "dates in front matter keys with spaces"
    assert "—" in data.decode("utf-8"), "non-ASCII punctuation"


def test_whitespace_fixture_keeps_its_whitespace_only_lines() -> None:
    """whitespace-lines.md still has its wide whitespace-only lines (editors tend to strip them)."""
    lines = (FIXTURES / "whitespace-lines.md").read_text(encoding="utf-8").split("\n")
    for blank in (" " * 8, "\t", " \t ", "  ", "\t "):
        assert blank in lines, repr(blank)
