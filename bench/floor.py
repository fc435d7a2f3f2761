"""The floor: what any notes-to-.apkg tool must spend, with no Markdown at all.

Reads every .md file's bytes, splits each into questions on the `\\n### ` marker (no
parsing: the heading line is the question, the rest of the section the answer),
inserts one row per question into an SQLite table with the columns of Anki's notes
table in one transaction, and writes that database, zipped the way dlcards zips its
packages (deflate at dlcards' level, with a `media` entry), to one `.apkg` per top-level
deck, which dlcards derives from the first folder under the notes folder.

Left out on purpose, because no build can skip less: Markdown, HTML, highlighting,
the lockfile, Anki's other tables (cards, col, ...). Run as a script, so its time
includes Python's start-up like every dlcards case:

    python bench/floor.py --notes NOTES --decks OUT [--level N]

bench.py passes dlcards' own deflate level (dlcards.package.DEFLATE_LEVEL), so the
floor always zips as the builds it is compared with do.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sqlite3
import zipfile
from collections import defaultdict
from pathlib import Path

MARKER = "\n### "
_NOTES_TABLE = """
CREATE TABLE notes (
    id integer PRIMARY KEY, guid text NOT NULL, mid integer NOT NULL, mod integer NOT NULL,
    usn integer NOT NULL, tags text NOT NULL, flds text NOT NULL, sfld integer NOT NULL,
    csum integer NOT NULL, flags integer NOT NULL, data text NOT NULL
)
"""
_MODEL_ID = 1764100800001  # any fixed note type id: the floor makes no note type
_MOD = 1_764_100_800
DEFLATE_LEVEL = 1  # dlcards.package.DEFLATE_LEVEL when this was written; bench.py passes the current one


def find_files(notes_dir: Path) -> dict[str, list[Path]]:
    """Every .md file under notes_dir, grouped by top-level deck (first path part)."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for dirpath, dirnames, filenames in os.walk(notes_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".md"):
                path = Path(dirpath) / name
                top = path.relative_to(notes_dir).parts[0]
                groups[top.removesuffix(".md")].append(path)
    return groups


def split_questions(text: str) -> list[tuple[str, str]]:
    """(heading line, rest of section) per `### ` heading; what precedes the first is dropped."""
    sections = text.split(MARKER)[1:]
    questions = []
    for section in sections:
        question, _, answer = section.partition("\n")
        questions.append((question, answer))
    return questions


def render_deck(notes_dir: Path, files: list[Path], first_id: int, level: int) -> tuple[bytes, int]:
    """The zipped SQLite database of one deck's questions, and how many rows it holds."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(_NOTES_TABLE)
        rows = []
        note_id = first_id
        for path in files:
            source = path.relative_to(notes_dir).as_posix()
            for question, answer in split_questions(path.read_bytes().decode("utf-8")):
                guid = hashlib.sha256(f"{source}\x1f{question}".encode()).hexdigest()[:10]
                csum = int(hashlib.sha1(question.encode()).hexdigest()[:8], 16)  # as Anki computes it
                flds = "\x1f".join((question, answer, "", source, guid))
                rows.append((note_id, guid, _MODEL_ID, _MOD, -1, " interview ", flds, question, csum, 0, ""))
                note_id += 1
        with conn:  # one transaction
            conn.executemany("INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        collection = conn.serialize()
    finally:
        conn.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("collection.anki2", collection, compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
        zf.writestr("media", b"{}", compress_type=zipfile.ZIP_DEFLATED, compresslevel=level)
    return buffer.getvalue(), len(rows)


def run_floor(notes_dir: Path, decks_dir: Path, level: int = DEFLATE_LEVEL) -> int:
    """Write one .apkg per top-level deck into decks_dir; the number of questions written."""
    decks_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for top, files in sorted(find_files(notes_dir).items()):
        data, count = render_deck(notes_dir, files, first_id=_MOD * 1000 + total, level=level)
        (decks_dir / f"{top}.apkg").write_bytes(data)
        total += count
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--notes", type=Path, required=True, help="notes folder to read")
    parser.add_argument("--decks", type=Path, required=True, help="folder for the .apkg files")
    parser.add_argument("--level", type=int, default=DEFLATE_LEVEL, help="deflate level (dlcards' own)")
    args = parser.parse_args(argv)
    total = run_floor(args.notes, args.decks, args.level)
    print(f"{args.decks}: {total} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
