"""Packaging stage: notes into .apkg files, through genanki.

The only stage that writes decks. genanki stamps one timestamp on every note and
on the note type; Anki updates a note only when the package's mod is strictly newer,
so that would either never apply edits or overwrite the user's own edits on every
import. Here each note carries its own mod and the note type its own, both decided
by the identity stage. The zip is written with fixed entry times and order, so the
same notes and lockfile give the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import genanki

from .atomic import atomic_path
from .model import Note
from .notetype import BACK, FIELDS, FRONT, MODEL_ID, MODEL_NAME, TEMPLATE_ID, TEMPLATE_NAME, css

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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


def write_package(target: Path, notes: Sequence[Note], notetype_mod: int) -> None:
    """Write one .apkg holding notes (in their decks), atomically."""
    model = _Model(notetype_mod)
    decks: dict[str, genanki.Deck] = {}
    for note in notes:
        if note.deck not in decks:
            decks[note.deck] = genanki.Deck(deck_id(note.deck), note.deck)
        decks[note.deck].add_note(_Note(model, note))
    # Package-level times (collection, card and note ids) follow the notes, not the clock.
    timestamp = max([n.mod for n in notes] + [notetype_mod])
    package = genanki.Package([decks[name] for name in sorted(decks)])
    with tempfile.TemporaryDirectory(prefix="dlcards-") as tmpdir:
        db_path = Path(tmpdir) / "collection.anki2"
        conn = sqlite3.connect(db_path)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                package.write_to_db(conn.cursor(), timestamp, itertools.count(timestamp * 1000))
            conn.commit()
        finally:
            conn.close()
        with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w") as zf:
            _add(zf, "collection.anki2", db_path.read_bytes())
            _add(zf, "media", json.dumps({}).encode())


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compresslevel=6)
