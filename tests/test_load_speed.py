"""Reading the lockfile and the render cache: what was written comes back equal, every
malformed lockfile is refused with a message that names the problem, and a doubtful
cache entry is a miss, never trusted and never a crash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from dlcards.cache import RenderCache
from dlcards.errors import LockfileError, Problem, Severity
from dlcards.lockfile import (
    LOCK_NAME,
    Lock,
    LockEntry,
    NotetypeState,
    RemovedNote,
    dump_lock,
    load_lock,
    lock_checksum,
)
from dlcards.model import Card, ParsedFile, Question

KEY = "ab" + "0" * 62

# ---------------------------------------------------------------------------
# lockfile
# ---------------------------------------------------------------------------

EVERY_KIND_OF_ENTRY = (
    LockEntry(
        guid="a1",
        deck="ML::Basics",
        path="ml/basics.md",
        title='What is "overfitting"?',
        explicit_id=None,
        hash="h1",
        mod=1_700_000_000,
        removed=False,
    ),
    LockEntry(
        guid="b2",
        deck="ML",
        path="ml/ünï.md",
        title="Same heading",
        prompt="```py\nprint(1)\n```",
        explicit_id="my-id",
        hash="h2",
        mod=1_700_000_001,
        removed=False,
        field_hashes=("q", "a", "d", "s", "i"),
        tags_hash="t",
        media=(("img-1.png", "ml/img.png"),),
    ),
    LockEntry(
        guid="c3",
        deck="ML",
        path="ml/gone.md",
        title="A {{c1::cloze}}",
        explicit_id=None,
        hash="h3",
        mod=1_700_000_002,
        removed=True,
        kind="cloze",
        field_hashes=("t", "e", "d", "s", "i"),
        tags_hash="t",
        removed_note=RemovedNote(fields=("A {{c1::cloze}}", "", "", "ml/gone.md", ""), tags=("ml", "x")),
    ),
)


def test_a_lockfile_with_every_kind_of_note_loads_as_written(tmp_path: Path) -> None:
    """Every optional part of a note comes back equal, and dumping it again gives the same text."""
    lock = Lock(
        entries=EVERY_KIND_OF_ENTRY,
        notetype=NotetypeState(hash="n", mod=1_700_000_000),
        packages=("ml.apkg",),
    )
    path = tmp_path / LOCK_NAME
    path.write_text(dump_lock(lock), encoding="utf-8")
    loaded = load_lock(path, "decks/dlcards.lock")
    assert loaded == lock
    assert loaded.origin is not None and loaded.origin.lock == lock
    assert dump_lock(loaded) == path.read_text(encoding="utf-8")


def _note() -> dict[str, Any]:
    fields = dict.fromkeys(["Question", "Answer", "Discussion", "Source", "ID"], "f")
    return {
        "guid": "g",
        "deck": "D",
        "path": "p.md",
        "question": "Q?",
        "hash": "h",
        "mod": 5,
        "field_hashes": fields,
        "tags_hash": "t",
    }


def _removed(note: dict[str, Any]) -> dict[str, Any]:
    fields = dict.fromkeys(["Question", "Answer", "Discussion", "Source", "ID"], "")
    return {**note, "removed": True, "removed_note": {"fields": fields, "tags": []}}


def _without(key: str) -> Any:
    return lambda note: {k: v for k, v in note.items() if k != key}


def _with(key: str, value: Any) -> Any:
    return lambda note: {**note, key: value}


MALFORMED_NOTES = {
    "not an object": (lambda note: ["g"], "each note must be an object"),
    **{
        f"no {key}": (_without(key), repr(key)) for key in ("guid", "deck", "path", "question", "hash", "mod")
    },
    **{
        f"{key} not text": (_with(key, 1), "expected text, got 1")
        for key in ("guid", "deck", "path", "question", "hash", "prompt", "id", "tags_hash")
    },
    "mod text": (_with("mod", "5"), "expected a whole number, got '5'"),
    "mod true": (_with("mod", True), "expected a whole number, got True"),
    "mod negative": (_with("mod", -1), "expected a whole number, got -1"),
    "mod in milliseconds": (_with("mod", 1_700_000_000_000), "expected a whole number"),
    "mod fraction": (_with("mod", 1.5), "expected a whole number, got 1.5"),
    "removed not a flag": (_with("removed", 1), "'removed' must be true or false"),
    "unknown kind": (_with("kind", "reversed"), "'kind' must be one of basic, cloze"),
    "kind a list": (_with("kind", ["basic"]), "'kind' must be one of basic, cloze"),
    "field hash missing": (
        _with("field_hashes", dict.fromkeys(["Question", "Answer", "Discussion", "Source"], "f")),
        "'field_hashes' must have exactly the fields Question, Answer, Discussion, Source, ID",
    ),
    "field hash extra": (
        lambda note: {**note, "field_hashes": {**note["field_hashes"], "Extra": "f"}},
        "'field_hashes' must have exactly the fields",
    ),
    "field hashes of the other kind": (_with("kind", "cloze"), "must have exactly the fields Text, Extra"),
    "field hashes null": (_with("field_hashes", None), "'field_hashes' must have exactly the fields"),
    "field hash not text": (
        lambda note: {**note, "field_hashes": {**note["field_hashes"], "ID": 7}},
        "expected text, got 7",
    ),
    "media not an object": (_with("media", ["a.png"]), "'media' must map file names to paths"),
    "media null": (_with("media", None), "'media' must map file names to paths"),
    "media path not text": (_with("media", {"a.png": 1}), "expected text, got 1"),
    "removed_note on a note in the notes": (
        lambda note: {**_removed(note), "removed": False},
        "'removed_note' belongs to removed notes only",
    ),
    "removed_note without tags": (
        lambda note: {**_removed(note), "removed_note": {"fields": {}}},
        "'removed_note' must hold 'fields' and a 'tags' list",
    ),
    "removed_note without fields": (
        lambda note: {**_removed(note), "removed_note": {"tags": []}},
        "'fields'",
    ),
    "removed_note field missing": (
        lambda note: {**_removed(note), "removed_note": {"fields": {"Question": ""}, "tags": []}},
        "'removed_note.fields' must have exactly the fields",
    ),
    "removed_note tag not text": (
        lambda note: {**_removed(note), "removed_note": {**_removed(note)["removed_note"], "tags": [None]}},
        "expected text, got None",
    ),
    "empty guid": (_with("guid", ""), "guid '' is empty or appears twice"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NOTES))
def test_every_malformed_note_is_refused(tmp_path: Path, case: str) -> None:
    """A note that does not fit the schema stops the load with a message naming what is
    wrong, even when the checksum matches (a tool rewrote the file)."""
    change, message = MALFORMED_NOTES[case]
    data: dict[str, Any] = {"dlcards_lock": 4, "checksum": "", "packages": [], "notes": [change(_note())]}
    data["checksum"] = lock_checksum(data)
    path = tmp_path / LOCK_NAME
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LockfileError) as refused:
        load_lock(path, "decks/dlcards.lock")
    assert "does not look like a dlcards lockfile" in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: {**data, "notes": [_note(), _note()]}, "guid 'g' is empty or appears twice"),
        (lambda data: {**data, "packages": ["../x.apkg"]}, "is not a package name dlcards writes"),
        (lambda data: {**data, "packages": [1]}, "expected text, got 1"),
        (lambda data: {**data, "packages": "a.apkg"}, "'packages' must be a list"),
        (lambda data: {**data, "notes": {}}, "'notes' must be a list"),
        (lambda data: {**data, "notetype": {"hash": 1, "mod": 1}}, "expected text, got 1"),
        (lambda data: {**data, "notetype": {"hash": "n", "mod": "1"}}, "expected a whole number"),
    ],
)
def test_every_malformed_lockfile_is_refused(tmp_path: Path, change: Any, message: str) -> None:
    data = change({"dlcards_lock": 4, "checksum": "", "packages": [], "notes": [_note()]})
    data["checksum"] = lock_checksum(data)
    path = tmp_path / LOCK_NAME
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LockfileError, match="does not look like a dlcards lockfile") as refused:
        load_lock(path, "decks/dlcards.lock")
    assert message in str(refused.value)


def test_a_note_edited_without_its_checksum_is_refused(tmp_path: Path) -> None:
    data: dict[str, Any] = {"dlcards_lock": 4, "checksum": "", "packages": [], "notes": [_note()]}
    data["checksum"] = lock_checksum(data)
    data["notes"][0]["mod"] = 6
    path = tmp_path / LOCK_NAME
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(LockfileError, match='its "checksum" does not match its content'):
        load_lock(path, "decks/dlcards.lock")


# ---------------------------------------------------------------------------
# render cache
# ---------------------------------------------------------------------------


def _card(n: int, **question: Any) -> Card:
    q = Question(
        path="ml/ünï.md",
        display_path="notes/ml/ünï.md",
        line=10 * n,
        deck="ML::Ünï",
        tags=("ml", "ünï"),
        title=f'Question {n}: "quoted", with a \\ and a tab\t',
        prompt="```py\nprint('x')\n```\n" if n % 2 else "",
        answer="Line one\n\nLine two — ünï\r\n",
        discussion="" if n % 2 else "See also [[x]].",
        **question,
    )
    return Card(
        question=q,
        front=f'<p class="q">Question {n}</p>',
        back='<pre><code class="language-py">print(&quot;x&quot;)\n</code></pre>',
        discussion="",
        source="ml/ünï.md",
        kind="cloze" if n % 2 else "basic",
        tags=("inline",) if n % 2 else (),
    )


CARDS = [
    _card(1, explicit_id="my-id", cloze_highlights=True, prompt_line=11, answer_line=15, discussion_line=0),
    _card(2),
    _card(3, explicit_id=None, answer_line=33),
]
PARSED = ParsedFile(
    questions=tuple(c.question for c in CARDS),
    problems=(
        Problem(severity=Severity.WARNING, path="notes/ml/ünï.md", line=3, message="no answer", col=4),
        Problem(severity=Severity.ERROR, path="notes/ml/ünï.md", line=0, message='a "quote"'),
    ),
    shape="bold",
)


def _entry_file(folder: Path) -> Path:
    (path,) = (p for p in folder.rglob("*") if p.is_file())
    return path


def test_a_cache_entry_gives_back_every_field(tmp_path: Path) -> None:
    """Texts with quotes, newlines, tabs, backslashes and non-ASCII letters, every
    question field, the problems and the shape: all equal after the round trip."""
    cache = RenderCache(tmp_path)
    cache.put(KEY, CARDS, PARSED)
    assert cache.get(KEY) == (CARDS, PARSED)


def test_a_file_without_questions_is_cached_too(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path)
    empty = ParsedFile(questions=(), shape="body")
    cache.put(KEY, [], empty)
    assert cache.get(KEY) == ([], empty)


def test_a_truncated_or_altered_cache_entry_is_a_miss(tmp_path: Path) -> None:
    """Cut anywhere or with any one byte changed, an entry is ignored, never trusted."""
    cache = RenderCache(tmp_path)
    cache.put(KEY, CARDS, PARSED)
    path = _entry_file(tmp_path)
    good = path.read_bytes()
    for cut in range(0, len(good), 7):
        path.write_bytes(good[:cut])
        assert cache.get(KEY) is None, cut
    for at in [*range(0, len(good), 5), len(good) - 1]:
        path.write_bytes(good[:at] + bytes([good[at] ^ 0x01]) + good[at + 1 :])
        assert cache.get(KEY) is None, at
    path.write_bytes(good + b"\n")
    assert cache.get(KEY) is None
    path.write_bytes(good)
    assert cache.get(KEY) == (CARDS, PARSED)


def test_another_keys_entry_or_a_foreign_file_is_a_miss(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path)
    cache.put(KEY, CARDS, PARSED)
    path = _entry_file(tmp_path)
    other = "cd" + "1" * 62
    cache.put(other, CARDS[:1], PARSED)
    other_path = next(p for p in tmp_path.rglob("*") if p.is_file() and p != path)
    path.write_bytes(other_path.read_bytes())
    assert cache.get(KEY) is None
    for foreign in (b"", b"\n", b"\xff\xfe\x00", json.dumps({"sha256": "0", "payload": "{}"}).encode()):
        path.write_bytes(foreign)
        assert cache.get(KEY) is None


def _sealed(rest: bytes) -> bytes:
    """An entry whose checksum matches, whatever its content."""
    return hashlib.sha256(rest).hexdigest().encode("ascii") + b"\n" + rest


def _head(**changes: Any) -> bytes:
    head = {"key": KEY, "shape": "labelled", "problems": [], "cards": [], "lengths": [], **changes}
    return json.dumps(head).encode() + b"\n"


@pytest.mark.parametrize(
    "rest",
    [
        b"",
        b"not json\n",
        b"[]\n",
        b"null\n",
        b"[" * 100_000 + b"\n",
        _head(key="0" * 64),
        _head(shape=None)[:-2],
        _head(lengths=[3]) + b"ab",
        _head(lengths=[3]) + b"abcd",
        _head(lengths=[-1, 4]) + b"abc",
        _head(lengths=["3"]) + b"abc",
        _head(lengths=[1.5, 1.5]) + b"abc",
        _head(cards=[[[], []]], lengths=[0] * 12),
        _head(cards=[5], lengths=[]),
        _head(cards=[[[], [], 1, None, False, 0, 0, 0, "extra"]], lengths=[0] * 12),
        _head(cards=[[None, [], 1, None, False, 0, 0, 0]], lengths=[0] * 12),
        _head(problems=[{"severity": "fatal", "path": "p", "line": 1, "message": "m", "col": 1}]),
        _head(problems=[["warning"]]),
        _head(problems=5),
    ],
)
def test_a_malformed_entry_with_a_matching_checksum_is_a_miss(tmp_path: Path, rest: bytes) -> None:
    """A checksum only shows the bytes are as written: what they hold is still checked,
    and an entry that does not hold cards is a miss, never a crash."""
    cache = RenderCache(tmp_path)
    cache.put(KEY, CARDS, PARSED)
    _entry_file(tmp_path).write_bytes(_sealed(rest))
    assert cache.get(KEY) is None
