"""The build's fast paths held to the ordinary one: fieldstore.py, the streamed render
stage, the record a writing build leaves for the next one, render cache format 4.
The first tests each pin a defect these paths once had (named in the docstring)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fastpath import _options

from dlcards import build as build_module
from dlcards import fieldstore
from dlcards.build import build, collect_cards
from dlcards.cache import RenderCache
from dlcards.errors import DlcardsError, OutputError
from dlcards.model import BuildReport, Card, ParsedFile, Question

QUESTION = "## {title}\n\n{id}**Answer:** {answer}\n"
_READS: list[bool] = []
_SOUND_CARDS = build_module.sound_cards


def _counting(*args: object, **kwargs: object) -> object:
    _READS.append(True)
    return _SOUND_CARDS(*args, **kwargs)  # type: ignore[arg-type]


def _build(project: Project, monkeypatch: pytest.MonkeyPatch, **changes: object) -> tuple[BuildReport, bool]:
    """test_fastpath._build without stacking a wrapper per call: the report, and
    whether the notes were read (False: answered from the record)."""
    monkeypatch.setattr(build_module, "sound_cards", _counting)
    _READS.clear()
    project.clock.advance()
    report = build(_options(project, **changes), clock=project.clock, wait=project.clock.wait)
    return report, bool(_READS)


def _tree(decks: Path) -> dict[str, str]:
    """Every file under the decks folder (and an --output beside it), by content."""
    return {
        str(p.relative_to(decks.parent)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(decks.parent.rglob("*"))
        if p.is_file() and p.suffix in (".apkg", ".lock")
    }


def _package_tags(package: Path) -> list[str]:
    data = zipfile.ZipFile(package).read("collection.anki2")
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(data)
        return [str(row[0]) for row in conn.execute("SELECT tags FROM notes")]
    finally:
        conn.close()


# Defects these paths once had.


def test_a_full_disk_under_the_field_store_is_a_clear_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk under the field store is an OutputError. FieldStore writes through a
    buffer, so ENOSPC surfaces at the next seek or at close; closing the store used to
    raise a bare OSError over the OutputError (a traceback in the CLI)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("the full disk is /dev/full, which only Linux and some BSDs have")

    def full(folder: Path | None) -> BinaryIO:
        return open("/dev/full", "w+b")  # closed by FieldStore

    monkeypatch.setattr(fieldstore, "_temporary_file", full)
    project.write("a.md", QUESTION.format(title="What is full?", id="", answer="A disk."))
    with pytest.raises(OutputError, match="No space left"):
        build(_options(project), clock=project.clock, wait=project.clock.wait)


def test_reordered_tags_give_the_package_a_build_without_a_cache_gives(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reordered tags remake the package. The content hash sorts the tags while the
    package keeps their order, so package_inputs must digest the tags as well: without
    them a build with a cache kept the old package, and the decks depended on the
    build's history."""
    text = "---\ntags: [{tags}]\n---\n" + QUESTION.format(title="What is T?", id="", answer="T.")
    project.write("a.md", text.format(tags="pp, qq"))
    _build(project, monkeypatch)
    project.write("a.md", text.format(tags="qq, pp"))
    cached, _ = _build(project, monkeypatch)
    kept = (project.decks / "a.apkg").read_bytes()
    ordinary, _ = _build(project, monkeypatch, cache_dir=None)  # writes " qq pp "
    assert cached == ordinary
    assert _package_tags(project.decks / "a.apkg") == [" qq pp "]
    (project.decks / "a.apkg").write_bytes(kept)
    assert _package_tags(project.decks / "a.apkg") == [" qq pp "]  # the cached build's: " pp qq "


def test_an_explicit_id_that_switched_kind_keeps_one_note(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question with an explicit id that switched between cloze and basic keeps its
    new note from then on, and switching back restores its first note. Matching used
    to keep one lockfile entry per id (the last: the removed one of the other kind), so
    every build minted a new note and lost its reviews."""
    cloze = QUESTION.format(title="What is T?", id="<!-- id: x -->\n\n", answer="The {{c1::cloze}} one.")
    project.write("a.md", cloze)
    _build(project, monkeypatch, cache_dir=None)
    project.write("a.md", cloze.replace("{{c1::cloze}}", "plain"))
    switched, _ = _build(project, monkeypatch, cache_dir=None)
    assert sorted(s for _, s in switched.statuses) == ["new", "removed"]
    again, _ = _build(project, monkeypatch, cache_dir=None)
    assert [g for g, _ in again.statuses] == [g for g, _ in switched.statuses]
    assert sorted(s for _, s in again.statuses) == ["removed", "unchanged"]
    first = next(g for g, s in switched.statuses if s == "removed")
    project.write("a.md", cloze)
    back, _ = _build(project, monkeypatch, cache_dir=None)
    assert dict(back.statuses)[first] == "updated"  # restored, its reviews with it
    assert sorted(s for _, s in back.statuses) == ["removed", "updated"]
    assert not back.warnings


# What held.

_TITLES = ("What is alpha?", "What is beta?", "What is gamma?", "How does delta work?")
_FILES = ("a.md", "b.md", "ml/c.md", "ml/sub/d.md", "zz/e.md")
_OPS = ("add", "add", "delete", "edit", "retitle", "move", "kind", "tags", "picture", "drop package")


def _write_notes(project: Project, questions: list[list[str]]) -> None:
    for path in project.notes.rglob("*.md"):
        path.unlink()
    files: dict[str, list[str]] = {}
    for where, title, answer, kind, tags, picture in questions:
        answer = f"The {{{{c1::{answer}}}}} one." if kind == "cloze" else answer + picture
        files.setdefault(where, []).append(QUESTION.format(title=title, id="", answer=answer) + tags)
    for where, bodies in files.items():
        project.write(where, "\n".join(bodies), dedent=False)


def _edits(seed: int, steps: int) -> Iterator[list[list[str]]]:
    """Notes after each of a run of random edits."""
    rnd = random.Random(seed)
    questions: list[list[str]] = []
    for _ in range(steps):
        op = rnd.choice(_OPS)
        if op == "add" or not questions:
            questions.append([rnd.choice(_FILES), rnd.choice(_TITLES), rnd.choice("xyz"), "basic", "", ""])
            continue
        q = rnd.choice(questions)
        if op == "delete":
            questions.remove(q)
        elif op == "edit":
            q[2] = rnd.choice("xyzw")
        elif op == "retitle":
            q[1] = rnd.choice(_TITLES)
        elif op == "move":
            q[0] = rnd.choice(_FILES)
        elif op == "kind":
            q[3] = "cloze" if q[3] == "basic" else "basic"
        elif op == "tags":
            q[4] = " ".join(f"#{t}" for t in rnd.sample("abc", rnd.randrange(3)))
        elif op == "picture":
            q[5] = "" if q[5] else " ![[pic.png]]"
        yield questions if op != "drop package" else [*questions, ["drop"]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10**6),
    single=st.booleans(),
    epoch=st.sampled_from([None, 1_700_000_000]),
    same_second=st.booleans(),
)
def test_after_any_edit_the_replayed_rebuild_is_the_ordinary_one(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    single: bool,
    epoch: int | None,
    same_second: bool,
) -> None:
    """After every writing build (edits, deletions, re-additions, moves between files and
    decks, kind switches, pictures, a deleted package; --output and SOURCE_DATE_EPOCH;
    builds in the same second), the next rebuild, when replayed, says what the ordinary
    path says, and the ordinary path then finds nothing to write."""
    root = project.root / f"run-{seed}-{single}-{epoch}-{same_second}"
    run = Project(root=root, clock=project.clock)
    run.notes.mkdir(parents=True, exist_ok=True)
    (run.notes / "pic.png").write_bytes(b"\x89PNG first")
    changes: dict[str, object] = {"source_date_epoch": epoch, "cache_dir": root / "cache"}
    if single:
        changes["output"] = root / "out" / "all.apkg"
    for questions in _edits(seed, 10):
        if questions and questions[-1] == ["drop"]:
            for package in run.decks.glob("*.apkg"):
                package.unlink()
            questions = questions[:-1]
        _write_notes(run, questions)
        if not questions:
            continue
        try:
            _build(run, monkeypatch, **changes)
        except DlcardsError:
            continue
        if same_second:
            run.clock.now -= 60 - 0.4  # _build advances a minute: the same second as the last
        replayed, read = _build(run, monkeypatch, **changes)
        before = _tree(run.decks)
        ordinary, _ = _build(run, monkeypatch, **{**changes, "cache_dir": None})
        if not read:
            assert replayed == ordinary
            assert _tree(run.decks) == before
        assert {s for _, s in ordinary.statuses} <= {"unchanged", "removed"}


def test_the_worker_pool_gives_the_inline_cards_in_order_and_leaves_no_process(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past 256 KB of files to render, a fork pool renders them: the same cards and
    problems as in this process, in the notes' order, and no worker left behind."""
    answer = "Some *text* with `code`, and words to fill the answer up nicely. " * 20
    for f in range(40):
        body = "".join(
            QUESTION.format(title=f"Question {f}-{q} about it?", id="", answer=answer) + "\n"
            for q in range(12)
        )
        project.write(f"f{f:02}.md", body + "## Where is the answer?\n\nNowhere.\n")
    assert sum(p.stat().st_size for p in project.notes.iterdir()) > 2 * 256 * 1024
    inline = collect_cards(_options(project, cache_dir=None, workers=1))
    pooled = collect_cards(_options(project, cache_dir=None, workers=2))
    assert pooled == inline and len(inline[0]) == 40 * 12 and inline[1]
    assert multiprocessing.active_children() == []
    # With a cache: the pool's cards are kept as they come, and read back the same.
    cache = project.root / "render-cache"
    assert collect_cards(_options(project, cache_dir=cache, workers=2)) == inline
    assert len(list(cache.rglob("*.entry"))) == 40

    def render(*args: object) -> None:
        raise AssertionError("a file the cache holds was rendered again")

    monkeypatch.setattr(build_module, "_parse_and_render", render)
    assert collect_cards(_options(project, cache_dir=cache, workers=2)) == inline


_CACHE_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # no lone surrogates


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_CACHE_TEXT, min_size=13, max_size=13), tags=st.lists(_CACHE_TEXT, max_size=3))
def test_a_render_cache_entry_gives_back_any_texts_exactly(
    tmp_path: Path, texts: list[str], tags: list[str]
) -> None:
    """Format 4 keeps texts outside its JSON, cut by their lengths: any text (newlines,
    quotes, non-BMP characters, what looks like JSON) comes back exactly."""
    path, display, deck, title, prompt, answer, discussion, *card = texts
    question = Question(
        path=path,
        display_path=display,
        line=3,
        deck=deck,
        tags=tuple(tags),
        title=title,
        prompt=prompt,
        answer=answer,
        discussion=discussion,
        explicit_id=card[5] or None,
    )
    front, back, disc, source, kind, _ = card
    cards = [
        Card(
            question=question, front=front, back=back, discussion=disc, source=source, kind=kind, tags=(kind,)
        )
    ] * 2
    parsed = ParsedFile(questions=(question, question), problems=(), shape="headings")
    cache = RenderCache(tmp_path / "render")
    cache.put("k" * 64, cards, parsed)
    assert cache.get("k" * 64) == (cards, parsed)


def test_a_writing_build_in_single_package_mode_records_the_next_report(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--output: a removed question and a kind switch, then a build in the same second:
    replayed from the writing build's record, as the ordinary path reports it."""
    output = project.root / "all.apkg"
    project.write("a.md", QUESTION.format(title="Why does the sky look blue?", id="", answer="A."))
    project.write("b.md", QUESTION.format(title="What is B?", id="", answer="{{c1::B}}."))
    _build(project, monkeypatch, output=output)
    (project.notes / "a.md").unlink()
    project.write("b.md", QUESTION.format(title="What is B?", id="", answer="B."))
    wrote, read = _build(project, monkeypatch, output=output)
    assert read and wrote.warnings
    project.clock.now -= 60  # _build advances a minute: this one is in the same second
    replayed, read = _build(project, monkeypatch, output=output)
    assert not read
    before = _tree(project.decks)
    ordinary, _ = _build(project, monkeypatch, output=output, cache_dir=None)
    assert replayed == ordinary and _tree(project.decks) == before
    assert len(ordinary.departed) == 2 and ordinary.removed_search == "tag:dlcards::removed"
