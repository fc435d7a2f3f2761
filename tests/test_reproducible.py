"""Reproducible builds: the same notes and lockfile give the same bytes, and
SOURCE_DATE_EPOCH sets the package time (never a note's mod)."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeClock, Project

from dlcards.build import BuildOptions, build
from dlcards.cli import main

ROOT = Path(__file__).resolve().parents[1]

NOTES = """\
---
tags: [repro]
---

### 1. What makes a build reproducible?

**Answer:** The same input gives the same bytes, whatever the clock says.

```python
def same(a: bytes, b: bytes) -> bool:
    return a == b
```

### 2. Which time does SOURCE_DATE_EPOCH set?

**Answer:** The package time: the collection's and the ids' seed.

**Discussion Points:**

- Why never a note's mod?
"""

OTHER = NOTES.replace("What makes", "What breaks").replace("Which time", "Which date")


def decks_bytes(decks: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(decks.iterdir()) if p.suffix in {".apkg", ".lock"}}


def collection(apkg: bytes) -> sqlite3.Connection:
    """The package's SQLite collection, opened in memory."""
    conn = sqlite3.connect(":memory:")
    conn.deserialize(zipfile.ZipFile(io.BytesIO(apkg)).read("collection.anki2"))
    return conn


def lock_mods(decks: Path) -> dict[str, int]:
    data = json.loads((decks / "dlcards.lock").read_text(encoding="utf-8"))
    return {n["guid"]: n["mod"] for n in data["notes"]}


@pytest.fixture
def two_decks(project: Project) -> Project:
    """other.apkg with one deck, repro.apkg with four subdecks (genanki rewrites the
    collection row once per deck, which is what leaves free pages behind)."""
    for sub in ("basics", "more", "even-more", "last"):
        project.write(f"repro/{sub}.md", NOTES.replace("build reproducible", f"{sub} build reproducible"))
    project.write("other.md", OTHER)
    return project


def test_rebuild_later_and_elsewhere_gives_identical_bytes(two_decks: Project, tmp_path: Path) -> None:
    """Building the same notes and lockfile again, an hour later and in another folder,
    gives byte-identical packages and lockfile."""
    project = two_decks
    project.build()
    first = decks_bytes(project.decks)
    copy = Project(root=tmp_path / "copy", clock=FakeClock(now=project.clock.now + 3600))
    shutil.copytree(project.root / "notes", copy.notes)
    shutil.copytree(project.decks, copy.decks)
    project.clock.advance(3600)
    project.build()
    copy.build()
    assert decks_bytes(project.decks) == first
    assert decks_bytes(copy.decks) == first


def test_another_process_time_zone_and_hash_seed_give_identical_bytes(two_decks: Project) -> None:
    """`dlcards build` in a process with another time zone, locale and hash seed rewrites
    the decks with the very same bytes (no set order, local time or clock leaks in)."""
    project = two_decks
    project.clock.now = time.time() - 600  # the real clock of the CLI must not be behind the lockfile
    project.build()
    first = decks_bytes(project.decks)
    for tz, seed in (("UTC", "1"), ("Asia/Kolkata", "4242")):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": tz, "PYTHONHASHSEED": seed, "LC_ALL": "C"}
        env.pop("SOURCE_DATE_EPOCH", None)
        proc = subprocess.run(
            [sys.executable, "-m", "dlcards", "build"],
            cwd=project.root,
            capture_output=True,
            text=True,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
        assert decks_bytes(project.decks) == first


def test_collection_holds_no_free_pages(two_decks: Project) -> None:
    """The SQLite collection is compact (vacuumed, 4096-byte pages): no free page keeps
    leftovers of genanki's intermediate writes, so its bytes follow from its rows alone."""
    project = two_decks
    project.build()
    db = zipfile.ZipFile(project.decks / "repro.apkg").read("collection.anki2")
    (page_size,) = struct.unpack(">H", db[16:18])
    (pages,) = struct.unpack(">I", db[28:32])
    (free_pages,) = struct.unpack(">I", db[36:40])
    assert (page_size, free_pages) == (4096, 0)
    assert len(db) == pages * page_size
    conn = collection(project.decks.joinpath("repro.apkg").read_bytes())
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert len(json.loads(conn.execute("SELECT decks FROM col").fetchone()[0])) == 5  # Default and four


def test_zip_entries_have_fixed_order_times_and_attributes(two_decks: Project) -> None:
    """Without SOURCE_DATE_EPOCH the zip holds collection.anki2 then media, dated
    1980-01-01, Unix attributes 0644, deflated."""
    project = two_decks
    project.build()
    infos = zipfile.ZipFile(project.decks / "other.apkg").infolist()
    assert [
        (i.filename, i.date_time, i.create_system, i.external_attr >> 16, i.compress_type) for i in infos
    ] == [
        ("collection.anki2", (1980, 1, 1, 0, 0, 0), 3, 0o644, zipfile.ZIP_DEFLATED),
        ("media", (1980, 1, 1, 0, 0, 0), 3, 0o644, zipfile.ZIP_DEFLATED),
    ]


def test_package_time_defaults_to_the_newest_mod(two_decks: Project) -> None:
    """Without SOURCE_DATE_EPOCH the collection's crt/mod and the id seed are the newest
    mod in the package (from the lockfile), not the clock."""
    project = two_decks
    project.build()
    newest = max(lock_mods(project.decks).values())
    col = collection((project.decks / "other.apkg").read_bytes())
    assert col.execute("SELECT crt, mod FROM col").fetchone() == (newest, newest * 1000)
    assert col.execute("SELECT min(id) FROM notes").fetchone() == (newest * 1000,)


def test_source_date_epoch_sets_package_time_but_not_note_mods(two_decks: Project) -> None:
    """SOURCE_DATE_EPOCH sets the collection's crt/mod, the note and card id seed and the
    zip entry times; note, card and note type mods stay the lockfile's."""
    project = two_decks
    epoch = 1_700_000_001  # 2023-11-14 22:13:21 UTC
    options = BuildOptions(notes_dir=project.notes, decks_dir=project.decks, source_date_epoch=epoch)
    build(options, clock=project.clock, wait=project.clock.wait)
    mods = lock_mods(project.decks)
    assert set(mods.values()) == {int(project.clock.now)}
    apkg = (project.decks / "other.apkg").read_bytes()
    col = collection(apkg)
    assert col.execute("SELECT crt, mod FROM col").fetchone() == (epoch, epoch * 1000)
    assert col.execute("SELECT min(id) FROM notes").fetchone() == (epoch * 1000,)
    assert all(mods[guid] == mod for guid, mod in col.execute("SELECT guid, mod FROM notes"))
    assert {m for (m,) in col.execute("SELECT mod FROM cards")} == {int(project.clock.now)}
    (models,) = col.execute("SELECT models FROM col").fetchone()
    assert [m["mod"] for m in json.loads(models).values()] == [int(project.clock.now)]
    assert [i.date_time for i in zipfile.ZipFile(io.BytesIO(apkg)).infolist()] == [
        (2023, 11, 14, 22, 13, 20)
    ] * 2

    # The same epoch later, with the same lockfile: the same bytes.
    first = decks_bytes(project.decks)
    project.clock.advance(3600)
    build(options, clock=project.clock, wait=project.clock.wait)
    assert decks_bytes(project.decks) == first


def test_source_date_epoch_before_1980_is_clamped(two_decks: Project) -> None:
    """A SOURCE_DATE_EPOCH earlier than a zip can date (1980) is clamped to 1980-01-01."""
    project = two_decks
    options = BuildOptions(notes_dir=project.notes, decks_dir=project.decks, source_date_epoch=0)
    build(options, clock=project.clock, wait=project.clock.wait)
    col = collection((project.decks / "other.apkg").read_bytes())
    assert col.execute("SELECT crt FROM col").fetchone() == (315_532_800,)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    Path("notes").mkdir()
    Path("notes/other.md").write_text(OTHER, encoding="utf-8")
    return CliRunner()


def test_cli_passes_source_date_epoch_from_the_environment(runner: CliRunner) -> None:
    """`SOURCE_DATE_EPOCH=N dlcards build` sets the package time to N; an empty value is unset."""
    result = runner.invoke(main, ["build"], env={"SOURCE_DATE_EPOCH": "1700000001"})
    assert result.exit_code == 0, result.output
    col = collection(Path("decks/other.apkg").read_bytes())
    assert col.execute("SELECT crt FROM col").fetchone() == (1_700_000_001,)
    result = runner.invoke(main, ["build"], env={"SOURCE_DATE_EPOCH": ""})
    assert result.exit_code == 0, result.output
    newest = max(lock_mods(Path("decks")).values())
    assert collection(Path("decks/other.apkg").read_bytes()).execute("SELECT crt FROM col").fetchone() == (
        newest,
    )


@pytest.mark.parametrize("value", ["yesterday", "-1", "1.5"])
def test_malformed_source_date_epoch_is_a_usage_error(runner: CliRunner, value: str) -> None:
    """A SOURCE_DATE_EPOCH that is not a whole number of seconds exits 2, naming the variable,
    and writes nothing."""
    result = runner.invoke(main, ["build"], env={"SOURCE_DATE_EPOCH": value})
    assert result.exit_code == 2
    assert "(env var: 'SOURCE_DATE_EPOCH')" in result.stderr
    assert not Path("decks").exists()


def test_rebuild_leaves_files_with_unchanged_bytes_untouched(two_decks: Project) -> None:
    """A rebuild does not rewrite a package or lockfile whose bytes would not change: the
    same file stays in place (same inode), so file watchers and syncing see no change."""
    project = two_decks
    project.build()
    before = {p.name: p.stat().st_ino for p in project.decks.iterdir()}
    project.clock.advance(3600)
    project.write("other.md", OTHER + "\n### 3. One more?\n\n**Answer:** Yes.\n")
    project.build()
    after = {p.name: p.stat().st_ino for p in project.decks.iterdir()}
    assert after["repro.apkg"] == before["repro.apkg"]
    assert after["other.apkg"] != before["other.apkg"]
    assert after["dlcards.lock"] != before["dlcards.lock"]
