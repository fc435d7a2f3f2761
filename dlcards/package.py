"""Packaging stage: notes into .apkg files, through genanki.

The only stage that writes decks. genanki stamps one timestamp on every note and
on the note type; Anki updates a note only when the package's mod is strictly newer,
so that would either never apply edits or overwrite the user's own edits on every
import. Here each note carries its own mod and the note type its own, both decided
by the identity stage.

A package is made in memory (`render_package`) and written whole (`write_package`),
and the same notes and lockfile give the same bytes:

* the zip holds its entries in a fixed order with fixed times and attributes;
* the SQLite collection is built in memory with a fixed page size and then vacuumed,
  so its pages hold the rows alone: no free pages with leftovers of genanki's
  intermediate writes, nothing that depends on how the rows got there;
* the package time (the collection's crt and mod, and the seed of the note and card
  ids, which Anki reads as creation times) is the newest note or note type mod, or
  SOURCE_DATE_EPOCH when the caller passes one (clamped to the years a zip can
  hold); with one, the zip entries carry that time too. Note, card and note type
  mods never follow it: a note's mod is what Anki's update rule compares, and its
  card carries the same.

`read_package_notes` reads back the notes a package holds: a question that left the
notes since the last build is kept in the lockfile with the content that build gave it.

Byte-identical output assumes the same versions of the libraries that make it
(SQLite, zlib, genanki, and the Markdown and highlighting libraries that shape the
fields): a different SQLite writes its version into the file header.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import sqlite3
import time
import warnings
import zipfile
import zlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import genanki

from .atomic import write_atomic
from .errors import OutputError
from .model import Note
from .notetype import BACK, FIELDS, FRONT, MODEL_ID, MODEL_NAME, TEMPLATE_ID, TEMPLATE_NAME, css

_ZipTime = tuple[int, int, int, int, int, int]
_ZIP_TIME: _ZipTime = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_ZIP_FIRST = 315_532_800  # 1980-01-01T00:00:00Z
_ZIP_LAST = 4_354_819_198  # 2107-12-31T23:59:58Z, the latest
_PAGE_SIZE = 4096  # SQLite's default, pinned: a build of SQLite may choose another


class _Model(genanki.Model):  # type: ignore[misc]
    def __init__(self, mod: int) -> None:
        super().__init__(
            model_id=MODEL_ID,
            name=MODEL_NAME,
            # "id" keys pass through genanki into the note type: they are permanent.
            fields=[{"name": f.name, "id": f.id} for f in FIELDS],
            templates=[{"name": TEMPLATE_NAME, "id": TEMPLATE_ID, "qfmt": FRONT, "afmt": BACK}],
            css=css(),
            sort_field_index=0,
        )
        self.mod = mod

    def to_json(self, timestamp: float, deck_id: int) -> dict[str, Any]:
        data: dict[str, Any] = super().to_json(timestamp, deck_id)
        data["mod"] = self.mod
        return data


class _Note(genanki.Note):  # type: ignore[misc]
    def __init__(self, model: _Model, note: Note) -> None:
        super().__init__(model=model, fields=list(note.fields), tags=list(note.tags), guid=note.guid)
        self.mod = note.mod

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        # genanki stamps the note and its card with the time passed here: the note's own.
        super().write_to_db(cursor, self.mod, deck_id, id_gen)

    def _check_invalid_html_tags_in_fields(self) -> None:
        # Our fields are HTML we rendered ourselves; the check only costs time.
        return None


def deck_id(name: str) -> int:
    """Anki matches decks by name; the id only has to be stable and unique per name."""
    if name.casefold() == "default":
        return 1  # the id genanki (and Anki) give "Default"; another id would make "Default_"
    digest = hashlib.sha256(name.casefold().encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") & ((1 << 52) - 1)) + (1 << 40)


def render_package(
    notes: Sequence[Note], *, notetype_mod: int, source_date_epoch: int | None = None
) -> bytes:
    """The bytes of one .apkg holding notes (in their decks); the same input, the same bytes."""
    model = _Model(notetype_mod)
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
        decks[note.deck].add_note(_Note(model, note))
    if source_date_epoch is None:
        # Package-level times follow the notes, not the clock.
        when = max([n.mod for n in notes] + [notetype_mod])
        zip_time = _ZIP_TIME
    else:
        when = min(max(source_date_epoch, _ZIP_FIRST), _ZIP_LAST)
        t = time.gmtime(when)
        zip_time = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    package = genanki.Package([decks[name] for name in sorted(decks)])
    # In memory: a build killed here leaves no temporary database anywhere.
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            package.write_to_db(conn.cursor(), when, itertools.count(when * 1000))
        # genanki writes the crt and mod of the collection it was copied from (2014).
        conn.execute("UPDATE col SET crt = ?, mod = ?", (when, when * 1000))
        conn.commit()
        conn.execute("VACUUM")
        collection = conn.serialize()
    finally:
        conn.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        _add(zf, "collection.anki2", collection, zip_time)
        _add(zf, "media", json.dumps({}).encode(), zip_time)
    return buffer.getvalue()


def read_package_notes(
    package: Path, guids: Collection[str]
) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The fields and tags of the notes with these guids in a package dlcards wrote;
    none for a package that is missing or unreadable (the caller checks what it gets
    against the lockfile's content hashes, so a package from elsewhere is harmless)."""
    if not guids:
        return {}
    try:
        with zipfile.ZipFile(package) as zf:
            collection = zf.read("collection.anki2")
    except (OSError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return {}
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(collection)
        rows = conn.execute("SELECT guid, flds, tags FROM notes").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    wanted = set(guids)
    return {
        str(guid): (tuple(str(flds).split("\x1f")), tuple(str(tags).split()))
        for guid, flds, tags in rows
        if guid in wanted
    }


def write_package(target: Path, data: bytes) -> None:
    """Write a rendered package to target, atomically."""
    write_atomic(target, data)


def delete_package(target: Path) -> None:
    """Remove a package the build no longer makes."""
    try:
        target.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{target}: cannot remove ({exc.strerror or exc})") from None


def _add(zf: zipfile.ZipFile, name: str, data: bytes, date_time: _ZipTime) -> None:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever system builds it (Python picks 0 on Windows)
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compresslevel=6)
