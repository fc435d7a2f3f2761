"""Test helper: import built packages into a real Anki collection and look inside.

Uses the `anki` package (Anki's own Rust importer) with the options Anki desktop
pre-fills for a new profile, and reads a package's notes straight from its SQLite
file, to compare what dlcards wrote with what Anki stored.
"""

from __future__ import annotations

import sqlite3
import tempfile
import zipfile
from pathlib import Path

from anki import import_export_pb2
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

_IF_NEWER = import_export_pb2.ImportAnkiPackageUpdateCondition.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER
DESKTOP_DEFAULTS = ImportAnkiPackageOptions(
    merge_notetypes=False,
    update_notes=_IF_NEWER,
    update_notetypes=_IF_NEWER,
    with_scheduling=False,
    with_deck_configs=False,
)


def open_collection(path: Path) -> Collection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return Collection(str(path))


def import_packages(col: Collection, packages: list[Path]) -> int:
    """Import each package; the number of notes Anki reported as conflicting or rejected."""
    trouble = 0
    for package in packages:
        log = col.import_anki_package(
            ImportAnkiPackageRequest(package_path=str(package), options=DESKTOP_DEFAULTS)
        ).log
        trouble += (
            len(log.conflicting)
            + len(log.first_field_match)
            + len(log.missing_notetype)
            + len(log.missing_deck)
            + len(log.empty_first_field)
        )
    return trouble


def check_database(col: Collection) -> list[str]:
    """What Anki's "Check Database" finds wrong (it may repair it in place)."""
    return list(col._backend.check_database())


def collection_notes(col: Collection) -> dict[str, list[str]]:
    """Every note's fields by guid, as Anki stored them."""
    return {str(guid): str(flds).split("\x1f") for guid, flds in col.db.all("select guid, flds from notes")}


def package_notes(package: Path) -> dict[str, list[str]]:
    """Every note's fields by guid, as dlcards wrote them into the package."""
    return {guid: fields for guid, (fields, _) in _package_rows(package).items()}


def package_tags(package: Path) -> dict[str, list[str]]:
    """Every note's tags by guid, as dlcards wrote them into the package."""
    return {guid: tags for guid, (_, tags) in _package_rows(package).items()}


def _package_rows(package: Path) -> dict[str, tuple[list[str], list[str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(package) as zf:
            zf.extract("collection.anki2", tmp)
        conn = sqlite3.connect(Path(tmp) / "collection.anki2")
        try:
            rows = conn.execute("select guid, flds, tags from notes").fetchall()
        finally:
            conn.close()
    return {str(guid): (str(flds).split("\x1f"), str(tags).split()) for guid, flds, tags in rows}
