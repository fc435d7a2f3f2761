"""Packaging stage: notes into .apkg files.

The only stage that writes decks. A package is a zip holding an Anki collection
(SQLite, the legacy schema 11 that Anki, AnkiMobile and AnkiDroid all import, the one
genanki writes), a `media` index and the media files. Anki updates a note only when the
package's mod is strictly newer, so each note carries its own mod and the note types
their own, all decided by the identity stage: one timestamp for everything would
either never apply edits or overwrite the user's own edits on every import.

The collection is written the way a bulk load should be: the note types and decks as
JSON once, then every note and every card with one `executemany` each, in one
transaction, then the indexes. (genanki writes row by row and rewrites the whole decks
JSON once per deck, which is quadratic in the number of decks.)

A package holds the note types its notes use ("dlcards Q&A", "dlcards Cloze", each
with the permanent `"id"` keys of its fields and templates): Anki imports a note type
with the notes that use it, so one that no note uses would only add bytes. A basic
note has one card; a cloze note one card per distinct cloze number in its Text field
(`{{c1::..}}` and `{{c2::..}}`: ords 0 and 1), counted as Anki counts them. Anki's
importer adds a note's cards from the package as they are, never generating or
removing one (a re-import adds the cards a note gained), so a missing card would
never appear and a surplus one would be an empty card.

Media: the union of the notes' media files, sorted by name, go in as entries "0",
"1", ... with `media` mapping each to its name, their bytes read when the package is
made. Names carry content hashes (media.py), so a name is its content.

`render_package` makes a package in memory; the same notes and lockfile give the
same bytes:

* the zip holds its entries in a fixed order (collection.anki2, media, then "0",
  "1", ...) with fixed times and attributes;
* the SQLite collection is built in memory with a fixed page size and then vacuumed,
  so its pages hold the rows alone: no free pages, nothing that depends on how the
  rows got there;
* note and card ids count up from the package time in a fixed order (deck by deck,
  in name order; notes in the order given; each note's cards after it);
* the package time (the collection's crt and mod, and the seed of the note and card
  ids, which Anki reads as creation times) is the newest note or note type mod, or
  SOURCE_DATE_EPOCH when the caller passes one (clamped to the years a zip can
  hold); with one, the zip entries carry that time too. Note, card and note type
  mods never follow it: a note's mod is what Anki's update rule compares, and its
  cards carry the same.

`stage_package` writes a rendered package next to its target and `write_package`
puts it in place later (see atomic.py): the build renders one package at a time,
so memory follows the largest deck, and still replaces the lockfile before any
package.

`read_package_notes` reads back the notes a package holds: a question that left the
notes since the last build is kept in the lockfile with the content that build gave it.

Byte-identical output assumes the same versions of the libraries that make it
(SQLite, zlib, and the Markdown and highlighting libraries that shape the fields): a
different SQLite writes its version into the file header.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import sqlite3
import time
import zipfile
import zlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from .atomic import StagedFile, commit_staged, discard_staged, stage_file
from .errors import OutputError
from .model import MediaFile, Note
from .notetype import BASIC, CLOZE, NOTE_TYPES, NoteType, css

# Part of every package's inputs digest (build.package_inputs): change it whenever the
# same notes would give other bytes, so no build takes an old package for current.
PACKAGE_FORMAT = 2

# Deflate level of the collection (the README's Speed section has the measurements):
# mostly HTML, it shrinks 4.3x at level 1 and 5.1x at level 6, and level 1 takes a
# third of level 6's time, which every rebuild of a changed deck pays.
DEFLATE_LEVEL = 1

_ZipTime = tuple[int, int, int, int, int, int]
_ZIP_TIME: _ZipTime = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_ZIP_FIRST = 315_532_800  # 1980-01-01T00:00:00Z
_ZIP_LAST = 4_354_819_198  # 2107-12-31T23:59:58Z, the latest
_PAGE_SIZE = 4096  # SQLite's default, pinned: a build of SQLite may choose another

# Anki's legacy collection (schema 11), as genanki and Anki's own legacy exporter write
# it: the tables, then the indexes (created after the rows are in: a bulk load).
_TABLES = """
CREATE TABLE col (
    id              integer primary key,
    crt             integer not null,
    mod             integer not null,
    scm             integer not null,
    ver             integer not null,
    dty             integer not null,
    usn             integer not null,
    ls              integer not null,
    conf            text not null,
    models          text not null,
    decks           text not null,
    dconf           text not null,
    tags            text not null
);
CREATE TABLE notes (
    id              integer primary key,   /* 0 */
    guid            text not null,         /* 1 */
    mid             integer not null,      /* 2 */
    mod             integer not null,      /* 3 */
    usn             integer not null,      /* 4 */
    tags            text not null,         /* 5 */
    flds            text not null,         /* 6 */
    sfld            integer not null,      /* 7 */
    csum            integer not null,      /* 8 */
    flags           integer not null,      /* 9 */
    data            text not null          /* 10 */
);
CREATE TABLE cards (
    id              integer primary key,   /* 0 */
    nid             integer not null,      /* 1 */
    did             integer not null,      /* 2 */
    ord             integer not null,      /* 3 */
    mod             integer not null,      /* 4 */
    usn             integer not null,      /* 5 */
    type            integer not null,      /* 6 */
    queue           integer not null,      /* 7 */
    due             integer not null,      /* 8 */
    ivl             integer not null,      /* 9 */
    factor          integer not null,      /* 10 */
    reps            integer not null,      /* 11 */
    lapses          integer not null,      /* 12 */
    left            integer not null,      /* 13 */
    odue            integer not null,      /* 14 */
    odid            integer not null,      /* 15 */
    flags           integer not null,      /* 16 */
    data            text not null          /* 17 */
);
CREATE TABLE revlog (
    id              integer primary key,
    cid             integer not null,
    usn             integer not null,
    ease            integer not null,
    ivl             integer not null,
    lastIvl         integer not null,
    factor          integer not null,
    time            integer not null,
    type            integer not null
);
CREATE TABLE graves (
    usn             integer not null,
    oid             integer not null,
    type            integer not null
);
"""
_INDEXES = """
CREATE INDEX ix_notes_usn on notes (usn);
CREATE INDEX ix_cards_usn on cards (usn);
CREATE INDEX ix_revlog_usn on revlog (usn);
CREATE INDEX ix_cards_nid on cards (nid);
CREATE INDEX ix_cards_sched on cards (did, queue, due);
CREATE INDEX ix_revlog_cid on revlog (cid);
CREATE INDEX ix_notes_csum on notes (csum);
"""

# The collection's settings and its default deck options, as genanki writes them.
_CONF: dict[str, Any] = {
    "activeDecks": [1],
    "addToCur": True,
    "collapseTime": 1200,
    "curDeck": 1,
    "curModel": str(BASIC.id),
    "dueCounts": True,
    "estTimes": True,
    "newBury": True,
    "newSpread": 0,
    "nextPos": 1,
    "sortBackwards": False,
    "sortType": "noteFld",
    "timeLim": 0,
}
_DCONF: dict[str, Any] = {
    "1": {
        "autoplay": True,
        "id": 1,
        "lapse": {"delays": [10], "leechAction": 0, "leechFails": 8, "minInt": 1, "mult": 0},
        "maxTaken": 60,
        "mod": 0,
        "name": "Default",
        "new": {
            "bury": True,
            "delays": [1, 10],
            "initialFactor": 2500,
            "ints": [1, 4, 7],
            "order": 1,
            "perDay": 20,
            "separate": True,
        },
        "replayq": True,
        "rev": {
            "bury": True,
            "ease4": 1.3,
            "fuzz": 0.05,
            "ivlFct": 1,
            "maxIvl": 36500,
            "minSpace": 1,
            "perDay": 100,
        },
        "timer": 0,
        "usn": 0,
    }
}
_SCHEMA_MOD = 1425279151690  # the collection's schema time, genanki's: Anki ignores it on import
_LATEX_PRE = (
    "\\documentclass[12pt]{article}\n\\special{papersize=3in,5in}\n\\usepackage[utf8]{inputenc}\n"
    "\\usepackage{amssymb,amsmath}\n\\pagestyle{empty}\n\\setlength{\\parindent}{0in}\n"
    "\\begin{document}\n"
)
_LATEX_POST = "\\end{document}"

# How Anki reads cloze deletions: `{{cN::` opens one (N up to 65535, in ASCII digits;
# a larger N is plain text; c0 opens one that makes no card; N above 500 is card 500),
# `}}` closes the innermost open one, deletions nest, and an opening never closed turns
# into plain text with every deletion inside it.
_CLOZE_TOKEN = re.compile(r"\{\{c([0-9]+)::|\}\}")
_MAX_CLOZE = 65535
_LAST_CARD = 499  # the highest card ord Anki gives a cloze


def deck_id(name: str) -> int:
    """Anki matches decks by name; the id only has to be stable and unique per name."""
    if name.casefold() == "default":
        return 1  # the id genanki (and Anki) give "Default"; another id would make "Default_"
    digest = hashlib.sha256(name.casefold().encode("utf-8")).digest()
    return (int.from_bytes(digest[:8], "big") & ((1 << 52) - 1)) + (1 << 40)


def cloze_ords(text: str) -> tuple[int, ...]:
    """The card ords of a cloze note whose Text field is text: one per distinct cloze
    number, as Anki counts them (c1 and c2 give 0 and 1). A text without any cloze
    still gets card 0, as Anki gives it, so no note is left without a card."""
    opened: list[tuple[int, list[int]]] = []  # open deletions (innermost last), numbers closed inside
    numbers: set[int] = set()
    for match in _CLOZE_TOKEN.finditer(text):
        if match.group(1) is not None:
            number = int(match.group(1))
            if number <= _MAX_CLOZE:
                opened.append((number, []))
        elif opened:
            number, inner = opened.pop()
            closed = [number, *inner]
            if opened:
                opened[-1][1].extend(closed)
            else:
                numbers.update(closed)
    return tuple(sorted({min(n - 1, _LAST_CARD) for n in numbers if n > 0})) or (0,)


def card_ords(note: Note) -> tuple[int, ...]:
    """The cards a note has: one for a basic note, one per cloze number for a cloze note."""
    return cloze_ords(note.fields[0]) if note.kind == CLOZE.kind else (0,)


def package_media(notes: Sequence[Note]) -> list[MediaFile]:
    """The media files of these notes, one per name, sorted by name: the zip's order."""
    files: dict[str, MediaFile] = {}
    for note in notes:
        for media in note.media:
            files.setdefault(media.name, media)
    return [files[name] for name in sorted(files)]


def render_package(
    notes: Sequence[Note], *, notetype_mod: int, source_date_epoch: int | None = None
) -> bytes:
    """The bytes of one .apkg holding notes (in their decks); the same input, the same bytes.

    Raises OutputError when a media file cannot be read."""
    if source_date_epoch is None:
        # Package-level times follow the notes, not the clock.
        when = max([n.mod for n in notes] + [notetype_mod])
        zip_time = _ZIP_TIME
    else:
        when = min(max(source_date_epoch, _ZIP_FIRST), _ZIP_LAST)
        t = time.gmtime(when)
        zip_time = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    media = package_media(notes)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        _add(zf, "collection.anki2", _collection(notes, notetype_mod, when), zip_time)
        index = {str(n): m.name for n, m in enumerate(media)}
        _add(zf, "media", json.dumps(index).encode(), zip_time)
        for n, file in enumerate(media):
            # Stored, as Anki's own exporter stores media: images and sounds are
            # compressed already, deflating them again costs time and saves nothing.
            _add(zf, str(n), _read_media(file), zip_time, compress=False)
    return buffer.getvalue()


def stage_package(target: Path, data: bytes) -> StagedFile:
    """Write a rendered package beside target (flushed to disk), to be put in place by
    write_package; nothing to put in place when target already holds these bytes."""
    return stage_file(target, data)


def write_package(target: Path, staged: StagedFile) -> None:
    """Put a staged package in place at target, atomically."""
    if staged.target != target:
        raise ValueError(f"{staged.target} was staged, not {target}")
    commit_staged(staged)


def discard_package(staged: StagedFile) -> None:
    """Drop a staged package that will not be put in place (the build stopped)."""
    discard_staged(staged)


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


def delete_package(target: Path) -> None:
    """Remove a package the build no longer makes."""
    try:
        target.unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"{target}: cannot remove ({exc.strerror or exc})") from None


def _collection(notes: Sequence[Note], notetype_mod: int, when: int) -> bytes:
    """The SQLite collection of these notes, vacuumed, as bytes."""
    decks = {name: deck_id(name) for name in sorted({n.deck for n in notes})}
    # Deck by deck in name order, notes in the order given (a stable sort); ids count up
    # from the package time, each note's cards right after it.
    ordered = sorted(notes, key=lambda n: n.deck)
    cards = [card_ords(n) for n in ordered]
    starts = itertools.accumulate((1 + len(c) for c in cards), initial=when * 1000)
    note_ids = list(itertools.islice(starts, len(cards)))
    # Rows are made as SQLite takes them: a deck's joined fields never sit in memory twice.
    note_rows = (
        (
            note_id,
            note.guid,
            NOTE_TYPES[note.kind].id,
            note.mod,
            -1,  # usn: not synced
            f" {' '.join(note.tags)} ",
            "\x1f".join(note.fields),
            note.fields[0],  # sort field; Anki recomputes it and the checksum on import
            0,  # csum
            0,  # flags
            "",  # data
        )
        for note, note_id in zip(ordered, note_ids, strict=True)
    )
    # A new card: type, queue, due, ivl, factor, reps, lapses, left, odue, odid, flags
    # all 0, stamped with its note's mod.
    card_rows = (
        (note_id + 1 + n, note_id, decks[note.deck], ord_, note.mod, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "")
        for note, note_id, ords in zip(ordered, note_ids, cards, strict=True)
        for n, ord_ in enumerate(ords)
    )
    first_deck = next(iter(decks.values()), 1)
    kinds = {n.kind for n in notes}
    models = {
        str(t.id): _notetype_json(t, notetype_mod, first_deck) for t in (BASIC, CLOZE) if t.kind in kinds
    }
    deck_json = {"1": _deck_json(1, "Default")}
    deck_json.update({str(did): _deck_json(did, name) for name, did in decks.items()})

    # In memory: a build killed here leaves no temporary database anywhere.
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode = OFF")  # nothing to roll back into: a failure discards it all
        conn.executescript(_TABLES)
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO col VALUES (1, ?, ?, ?, 11, 0, 0, 0, ?, ?, ?, ?, '{}')",
            (
                when,
                when * 1000,
                _SCHEMA_MOD,
                json.dumps(_CONF),
                json.dumps(models),
                json.dumps(deck_json),
                json.dumps(_DCONF),
            ),
        )
        conn.executemany("INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", note_rows)
        conn.executemany(
            "INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", card_rows
        )
        conn.execute("COMMIT")
        conn.executescript(_INDEXES)
        conn.execute("VACUUM")
        return conn.serialize()
    finally:
        conn.close()


def _notetype_json(notetype: NoteType, mod: int, did: int) -> dict[str, Any]:
    """A note type as the legacy collection holds it, with its permanent field and
    template ids (Anki keeps "id" keys: they let it rename a field in place)."""
    return {
        "css": css(),
        "did": did,
        "flds": [
            {
                "name": field.name,
                "id": field.id,
                "ord": n,
                "font": "Liberation Sans",
                "media": [],
                "rtl": False,
                "size": 20,
                "sticky": False,
            }
            for n, field in enumerate(notetype.fields)
        ],
        "id": str(notetype.id),
        "latexPost": _LATEX_POST,
        "latexPre": _LATEX_PRE,
        "latexsvg": False,
        "mod": mod,
        "name": notetype.name,
        "req": [[0, "all", [0]]],  # a card needs the first field (Anki computes its own)
        "sortf": 0,
        "tags": [],
        "tmpls": [
            {
                "name": notetype.template_name,
                "id": notetype.template_id,
                "qfmt": notetype.front,
                "afmt": notetype.back,
                "ord": 0,
                "bafmt": "",
                "bqfmt": "",
                "bfont": "",
                "bsize": 0,
                "did": None,
            }
        ],
        "type": 1 if notetype.kind == CLOZE.kind else 0,
        "usn": -1,
        "vers": [],
    }


def _deck_json(did: int, name: str) -> dict[str, Any]:
    return {
        "collapsed": False,
        "conf": 1,
        "desc": "",
        "dyn": 0,
        "extendNew": 0,
        "extendRev": 50,
        "id": did,
        "lrnToday": [0, 0],
        "mod": 0,
        "name": name,
        "newToday": [0, 0],
        "revToday": [0, 0],
        "timeToday": [0, 0],
        "usn": -1,
    }


def _read_media(media: MediaFile) -> bytes:
    try:
        return media.path.read_bytes()
    except OSError as exc:
        raise OutputError(
            f"{media.path}: cannot read media file {media.name} ({exc.strerror or exc})"
        ) from None


def _add(zf: zipfile.ZipFile, name: str, data: bytes, date_time: _ZipTime, *, compress: bool = True) -> None:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever system builds it (Python picks 0 on Windows)
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compresslevel=DEFLATE_LEVEL if compress else None)
