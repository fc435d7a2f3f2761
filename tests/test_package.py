"""The packaging stage: what a package holds, proven through Anki's own importer.

Cloze notes get one card per cloze number, as Anki counts them; media files land in
the collection's media folder; many decks all arrive; the same notes give the same
bytes, media included; a media file that cannot be read is an error naming it; and a
build that stops before putting its packages in place leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import random
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from anki.collection import Collection
from anki.notes import NoteId
from anki_import import check_database, import_packages, open_collection
from conftest import Project

from dlcards import build as build_module
from dlcards.build import package_inputs
from dlcards.errors import OutputError
from dlcards.model import MediaFile, Note
from dlcards.notetype import CLOZE_MODEL_ID, CLOZE_MODEL_NAME, MODEL_ID
from dlcards.package import cloze_ords, render_package

MOD = 1_800_000_000


def note(
    guid: str,
    first: str,
    *,
    second: str = "an answer",
    kind: str = "basic",
    deck: str = "Deck",
    media: tuple[MediaFile, ...] = (),
) -> Note:
    return Note(
        guid=guid,
        mod=MOD,
        deck=deck,
        fields=(first, second, "", "notes/x.md", guid),
        tags=("t",),
        status="new",
        question=None,
        kind=kind,
        media=media,
    )


def write(path: Path, notes: list[Note]) -> Path:
    path.write_bytes(render_package(notes, notetype_mod=MOD))
    return path


@pytest.fixture
def col(tmp_path: Path) -> Iterator[Collection]:
    collection = open_collection(tmp_path / "anki" / "collection.anki2")
    yield collection
    collection.close(downgrade=False)


def nid(col: Collection, guid: str) -> NoteId:
    assert col.db is not None
    found = col.db.scalar("select id from notes where guid = ?", guid)
    assert found, f"no note {guid} in the collection"
    return NoteId(found)


# ---------------------------------------------------------------------------
# cloze notes
# ---------------------------------------------------------------------------


def test_cloze_note_gets_one_card_per_cloze_number_and_renders_its_deletion(
    col: Collection, tmp_path: Path
) -> None:
    """Through Anki's importer: c1/c2 make two cards, a repeated number one, nested ones
    each their own, a lone c3 only card 3; every card hides its own deletion as [...];
    the basic note beside them keeps one card; no note type conflicts."""
    notes = [
        note("two", "Paris is the {{c1::capital}} of {{c2::France}}.", kind="cloze"),
        note("again", "{{c1::a}} and {{c1::b}}", kind="cloze"),
        note("nested", "{{c1::outer {{c2::inner}} text}}", kind="cloze"),
        note("third", "only {{c3::three}}", kind="cloze"),
        note("basic", "What is a sort field?"),
    ]
    assert import_packages(col, [write(tmp_path / "c.apkg", notes)]) == 0
    expected = {"two": [0, 1], "again": [0], "nested": [0, 1], "third": [2], "basic": [0]}
    for guid, ords in expected.items():
        anki_note = col.get_note(nid(col, guid))
        cards = sorted(anki_note.cards(), key=lambda c: c.ord)
        assert [c.ord for c in cards] == ords, guid
        if guid == "basic":
            assert anki_note.mid == MODEL_ID
            continue
        assert anki_note.mid == CLOZE_MODEL_ID
        # Anki's own count of the cloze numbers agrees with the cards the package made.
        assert sorted(n - 1 for n in anki_note.cloze_numbers_in_fields()) == ords
        for card in cards:
            hidden = re.findall(r'data-ordinal="(\d+)">\[\.\.\.\]', card.question())
            assert hidden and set(hidden) == {str(card.ord + 1)}, (guid, card.ord, hidden)
    names = sorted(n.name for n in col.models.all_names_and_ids())
    assert CLOZE_MODEL_NAME in names and not [n for n in names if n.endswith("+")]
    assert check_database(col) == []


def test_reimported_cloze_note_is_updated_in_place_and_gains_its_new_card(
    col: Collection, tmp_path: Path
) -> None:
    """A newer package of the same cloze note updates it (same note, same first cards,
    a third card for a new c3) and makes no "+" copy of the note type."""
    first = note("cz", "{{c1::a}} {{c2::b}}", kind="cloze")
    import_packages(col, [write(tmp_path / "1.apkg", [first])])
    before = {c.ord: c.id for c in col.get_note(nid(col, "cz")).cards()}
    edited = replace(first, fields=("{{c1::a}} {{c2::b}} {{c3::c}}", *first.fields[1:]), mod=MOD + 60)
    assert import_packages(col, [write(tmp_path / "2.apkg", [edited])]) == 0
    after = col.get_note(nid(col, "cz"))
    assert after.fields[0] == "{{c1::a}} {{c2::b}} {{c3::c}}"
    cards = {c.ord: c.id for c in after.cards()}
    assert sorted(cards) == [0, 1, 2] and {o: cards[o] for o in before} == before
    assert col.note_count() == 1
    assert not [n.name for n in col.models.all_names_and_ids() if n.name.endswith("+")]


def test_cloze_numbers_are_counted_as_anki_counts_them(col: Collection, tmp_path: Path) -> None:
    """Unclosed, nested, c0, overlong numbers, stray braces: for random texts made of
    these, the package's cards are exactly Anki's cloze numbers (card 0 when none, and
    card 500 for every number above it)."""
    import_packages(col, [write(tmp_path / "c.apkg", [note("cz", "{{c1::x}}", kind="cloze")])])
    probe = col.get_note(nid(col, "cz"))
    opens = ["{{c1::", "{{c2::", "{{c0::", "{{c07::", "{{c65535::", "{{c65536::"]
    tokens = [*opens, "}}", "}", "{{", "::", "x", "\n"]
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(tokens) for _ in range(rng.randrange(1, 12)))
        probe.fields[0] = text
        numbers = probe.cloze_numbers_in_fields()
        # Anki makes card 500 (ord 499) for any number above it (test_review_fastpath.py
        # shows the empty card a higher ord would be).
        assert cloze_ords(text) == (tuple(sorted({min(n - 1, 499) for n in numbers})) or (0,)), repr(text)


# ---------------------------------------------------------------------------
# media
# ---------------------------------------------------------------------------


def media_notes(folder: Path) -> tuple[list[Note], dict[str, bytes]]:
    (folder / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n a diagram")
    (folder / "sound.mp3").write_bytes(b"ID3 a sound")
    png = MediaFile(name="diagram-0123456789abcdef.png", path=folder / "diagram.png")
    mp3 = MediaFile(name="sound-fedcba9876543210.mp3", path=folder / "sound.mp3")
    notes = [
        note("img", f'Look: <img src="{png.name}">', second=f"[sound:{mp3.name}]", media=(mp3, png)),
        note("again", f'Same picture <img src="{png.name}">', media=(png,)),
    ]
    return notes, {png.name: b"\x89PNG\r\n\x1a\n a diagram", mp3.name: b"ID3 a sound"}


def test_media_files_land_in_the_collection_and_the_media_check_is_clean(
    col: Collection, tmp_path: Path
) -> None:
    """Each media file once, as "0", "1", ... by name, with the `media` index naming
    them; after import they are in the media folder with their bytes, and Anki's media
    check finds nothing missing and nothing unused."""
    notes, files = media_notes(tmp_path)
    package = write(tmp_path / "m.apkg", notes)
    with zipfile.ZipFile(package) as zf:
        assert zf.namelist() == ["collection.anki2", "media", "0", "1"]
        assert json.loads(zf.read("media")) == {"0": sorted(files)[0], "1": sorted(files)[1]}
    assert import_packages(col, [package]) == 0
    folder = Path(col.media.dir())
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    report = col.media.check()
    assert (list(report.missing), list(report.unused)) == ([], [])


def test_same_notes_with_media_give_identical_bytes(tmp_path: Path) -> None:
    """Two packages of the same notes are byte-identical, media included, whatever order
    a note lists its files in; another file's content (so another name) changes them."""
    notes, _ = media_notes(tmp_path)
    first = render_package(notes, notetype_mod=MOD)
    shuffled = [replace(n, media=tuple(reversed(n.media))) for n in notes]
    assert render_package(shuffled, notetype_mod=MOD) == first
    assert render_package(notes, notetype_mod=MOD) == first
    sound = notes[0].media[0]
    renamed = [replace(notes[0], media=(replace(sound, name="x" + sound.name), notes[0].media[1])), notes[1]]
    assert render_package(renamed, notetype_mod=MOD) != first
    infos = zipfile.ZipFile(io.BytesIO(first)).infolist()
    assert [(i.date_time, i.create_system, i.external_attr >> 16) for i in infos] == [
        ((1980, 1, 1, 0, 0, 0), 3, 0o644)
    ] * 4


def test_package_inputs_follow_media_names_and_note_kind(tmp_path: Path) -> None:
    """The digest that lets a rebuild skip a package changes with a media file's name
    (its content) and with a note's kind, and with nothing else here."""
    notes, _ = media_notes(tmp_path)
    base = package_inputs(notes, MOD, None)
    assert package_inputs(list(notes), MOD, None) == base
    other_media = [replace(notes[0], media=notes[0].media[:1]), notes[1]]
    assert package_inputs(other_media, MOD, None) != base
    as_cloze = [replace(notes[0], kind="cloze"), notes[1]]
    assert package_inputs(as_cloze, MOD, None) != base


@pytest.mark.parametrize("broken", ["missing", "folder"])
def test_unreadable_media_file_is_an_output_error_naming_it(tmp_path: Path, broken: str) -> None:
    """A media file gone (or turned into a folder) by packaging time: OutputError with its path and name."""
    path = tmp_path / "gone.png"
    if broken == "folder":
        path.mkdir()
    media = MediaFile(name="gone-0123456789abcdef.png", path=path)
    with pytest.raises(OutputError, match=r"gone\.png: cannot read media file gone-0123456789abcdef\.png"):
        render_package([note("n", '<img src="gone-0123456789abcdef.png">', media=(media,))], notetype_mod=MOD)


# ---------------------------------------------------------------------------
# the collection
# ---------------------------------------------------------------------------


def test_collection_has_genankis_schema_and_one_card_row_per_card(tmp_path: Path) -> None:
    """The tables and indexes are exactly those genanki creates (the legacy schema 11
    every Anki imports); notes and cards hold one row each, cards after their note."""
    from genanki.apkg_schema import APKG_SCHEMA  # the reference, not a use

    def schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
        rows = conn.execute("select type, name, sql from sqlite_master order by type, name").fetchall()
        return [(t, n, " ".join(sql.split())) for t, n, sql in rows]

    reference = sqlite3.connect(":memory:")
    reference.executescript(APKG_SCHEMA)
    notes = [note("b", "Why?"), note("c", "{{c1::a}} {{c2::b}}", kind="cloze")]
    conn = sqlite3.connect(":memory:")
    conn.deserialize(
        zipfile.ZipFile(io.BytesIO(render_package(notes, notetype_mod=MOD))).read("collection.anki2")
    )
    assert schema(conn) == schema(reference)
    ids = conn.execute(
        "select n.guid, c.ord, n.id, c.id from cards c join notes n on n.id = c.nid order by c.id"
    )
    assert [(g, o, c - n) for g, o, n, c in ids] == [("b", 0, 1), ("c", 0, 1), ("c", 1, 2)]
    (models,) = conn.execute("select models from col").fetchone()
    assert {m["name"]: m["type"] for m in json.loads(models).values()} == {
        "dlcards Q&A": 0,
        "dlcards Cloze": 1,
    }


# ---------------------------------------------------------------------------
# decks
# ---------------------------------------------------------------------------


def test_every_one_of_many_decks_arrives_in_anki(col: Collection, tmp_path: Path) -> None:
    """300 decks (subdecks included) in one package: the decks JSON names each once,
    and after import every note's card is in its own deck."""
    decks = [f"Top {n % 7}::Sub {n}" for n in range(300)]
    notes = [note(f"g{n}", f"Question {n}?", deck=deck) for n, deck in enumerate(decks)]
    package = write(tmp_path / "d.apkg", notes)
    conn = sqlite3.connect(":memory:")
    conn.deserialize(zipfile.ZipFile(package).read("collection.anki2"))
    names = [d["name"] for d in json.loads(conn.execute("select decks from col").fetchone()[0]).values()]
    assert sorted(names) == sorted(["Default", *decks])
    assert import_packages(col, [package]) == 0
    present = {d.name for d in col.decks.all_names_and_ids()}
    assert set(decks) <= present
    for n, deck in enumerate(decks):
        (card,) = col.get_note(nid(col, f"g{n}")).cards()
        assert col.decks.name(card.did) == deck


# ---------------------------------------------------------------------------
# the build's staged writes
# ---------------------------------------------------------------------------


def test_build_stopped_before_its_packages_are_in_place_leaves_no_temporary_file(
    project: Project,
) -> None:
    """Packages are written beside their targets before the lockfile; when the lockfile
    cannot be written, the build fails, the old files stay, and no staged file is left."""
    project.write("a.md", "### Why?\n\n**Answer:** Because.\n")
    project.build()
    before = {p.name: p.read_bytes() for p in project.decks.iterdir()}
    project.write("a.md", "### Why?\n\n**Answer:** Because, edited.\n")
    project.clock.advance()

    def refuse(path: Path, lock: object) -> None:
        raise OutputError(f"{path}: cannot write (disk full)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_module, "save_lock", refuse)
        with pytest.raises(OutputError, match="disk full"):
            project.build()
    assert {p.name: p.read_bytes() for p in project.decks.iterdir()} == before
