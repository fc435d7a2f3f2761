"""Memory follows the largest deck, not the vault: a build keeps each card's fields in
its FieldStore and reads a package's back only to make that package."""

from __future__ import annotations

import random
import tempfile
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlcards.build import build, sound_cards
from dlcards.errors import OutputError
from dlcards.fieldstore import FieldStore
from dlcards.identify import CardDigest, content_hash, field_digests
from dlcards.lockfile import LOCK_NAME, load_lock
from dlcards.model import BuildOptions, Note
from dlcards.package import read_package_notes

# Any text a field can hold (content_hash encodes UTF-8, which has no lone surrogates).
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(
    fields=st.tuples(_TEXT, _TEXT, _TEXT, _TEXT),
    tags=st.lists(_TEXT, max_size=4).map(tuple),
    kind=st.sampled_from(["basic", "cloze"]),
    guid=_TEXT,
)
def test_a_card_digest_gives_the_content_hash(
    fields: tuple[str, str, str, str], tags: tuple[str, ...], kind: str, guid: str
) -> None:
    """What identity computes from a stored card is exactly what it computes from the
    fields themselves: a lockfile written either way holds the same hashes."""
    digest = CardDigest(fields, tags, kind)
    assert digest.content_hash(guid) == content_hash((*fields, guid), tags, kind)
    assert digest.content_hash(guid) == content_hash((*fields, guid), tags, kind)  # asked again


def write_vault(notes: Path, decks: int, questions: int = 3) -> None:
    """decks top-level decks, each one file of questions with long answers (plain code
    blocks: cheap to render, and their HTML is most of what a build holds)."""
    rng = random.Random(decks)
    for d in range(decks):
        parts = []
        for q in range(questions):
            words = " ".join(f"w{rng.randrange(10**6)}" for _ in range(6000))
            parts.append(f"## Deck {d} question {q}?\n\n**Answer:**\n\n```\n{words}\n```\n")
        folder = notes / f"deck-{d:02d}"
        folder.mkdir(parents=True)
        (folder / "notes.md").write_text("\n".join(parts), encoding="utf-8")


def peak_of_build(tmp_path: Path, decks: int) -> int:
    # The stages a build imports on its way, before counting: their code is no card's.
    import dlcards.parse
    import dlcards.render  # noqa: F401

    root = tmp_path / f"vault-{decks}"
    write_vault(root / "notes", decks)
    options = BuildOptions(notes_dir=root / "notes", decks_dir=root / "decks", cache_dir=root / "cache")
    tracemalloc.start()
    try:
        report = build(options, clock=lambda: 1_800_000_000.0, wait=lambda _: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.packages) == decks
    return peak


def test_memory_follows_the_largest_deck_not_the_vault(tmp_path: Path) -> None:
    """Four times the decks (each the size of the others) costs little more memory:
    one deck's fields are in memory at a time. Holding every card's fields at once
    made the larger vault's peak about three times the smaller's."""
    small = peak_of_build(tmp_path, decks=4)
    large = peak_of_build(tmp_path, decks=16)
    assert large < 1.5 * small, (small, large)


def test_the_cards_of_a_build_hold_no_fields(tmp_path: Path) -> None:
    """With a store, sound_cards hands on cards whose fields (and whose question's
    answer and discussion Markdown) are in the store, not in the card."""
    write_vault(tmp_path / "notes", decks=2, questions=2)
    options = BuildOptions(notes_dir=tmp_path / "notes", decks_dir=tmp_path / "decks")
    full, _ = sound_cards(options)
    with FieldStore(tmp_path / "cache") as store:
        slim, _ = sound_cards(options, store=store)
        assert [c.question.title for c in slim] == [c.question.title for c in full]
        for card, whole in zip(slim, full, strict=True):
            assert (card.front, card.back, card.discussion, card.source) == ("", "", "", "")
            assert (card.question.answer, card.question.discussion) == ("", "")
            assert card.stored is not None
            note = Note(
                guid="G", mod=1, deck="d", fields=(), tags=(), status="new", question=None, stored=card.stored
            )
            (filled,) = store.filled([note])
            assert filled.fields == (whole.front, whole.back, whole.discussion, whole.source, "G")
            assert filled.stored is None


@pytest.mark.parametrize("text", ["plain", "ünïcode ✓ 😀", "", "a\x1fb", "\u2028line"])
def test_the_store_gives_back_what_it_kept(tmp_path: Path, text: str) -> None:
    write_vault(tmp_path / "notes", decks=1, questions=1)
    options = BuildOptions(notes_dir=tmp_path / "notes", decks_dir=tmp_path / "decks")
    (card,), _ = sound_cards(options)
    card = replace(card, front=text, back=text * 2, discussion="", source=text[::-1])
    with FieldStore() as store:
        kept = [store.keep(card), store.keep(replace(card, front="other"))]
        notes = [
            Note(guid=g, mod=1, deck="d", fields=(), tags=(), status="new", question=None, stored=k.stored)
            for g, k in zip("AB", kept, strict=True)
        ]
        inline = replace(notes[0], fields=("x", "y", "", "s", "C"), stored=None)
        first, second, third = store.filled([notes[1], notes[0], inline])
    assert first.fields == ("other", text * 2, "", text[::-1], "B")
    assert second.fields == (text, text * 2, "", text[::-1], "A")
    assert third is inline


def test_the_lockfile_digests_the_fields_the_packages_hold(tmp_path: Path) -> None:
    """A new or changed note's field digests come from its fields read back from the
    store: they are the digests of what its package holds."""
    write_vault(tmp_path / "notes", decks=2, questions=2)
    options = BuildOptions(notes_dir=tmp_path / "notes", decks_dir=tmp_path / "decks")
    build(options, clock=lambda: 1_800_000_000.0, wait=lambda _: None)
    lock = load_lock(tmp_path / "decks" / LOCK_NAME, "lock")
    held = {}
    for package in lock.packages:
        held.update(read_package_notes(tmp_path / "decks" / package, {e.guid for e in lock.entries}))
    assert len(held) == len(lock.entries) == 4
    for entry in lock.entries:
        fields, tags = held[entry.guid]
        assert (entry.field_hashes, entry.tags_hash) == field_digests(fields, tags)
        assert entry.hash == content_hash(fields, tags, entry.kind)


def test_a_cache_folder_that_cannot_hold_the_store_falls_back_to_the_system_one(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    with FieldStore(blocked / "cache") as store:
        write_vault(tmp_path / "notes", decks=1, questions=1)
        options = BuildOptions(notes_dir=tmp_path / "notes", decks_dir=tmp_path / "decks")
        (card,), _ = sound_cards(options, store=store)
        assert card.stored is not None and "<pre" in card.stored.fields()[1]


def test_no_temporary_file_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    write_vault(tmp_path / "notes", decks=1, questions=1)
    options = BuildOptions(
        notes_dir=tmp_path / "notes", decks_dir=tmp_path / "decks", cache_dir=tmp_path / "c"
    )
    with pytest.raises(OutputError, match="No space left on device"):
        build(options, clock=lambda: 1_800_000_000.0, wait=lambda _: None)
    assert not (tmp_path / "decks").exists()
