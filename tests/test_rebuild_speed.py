"""What keeps a rebuild cheap, pinned by behaviour (speed itself lives in bench/)."""

from __future__ import annotations

import gc
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mistune
import nh3
import pygments
import pytest
from click.testing import CliRunner
from conftest import Project
from hypothesis import given
from hypothesis import strategies as st

from dlcards import lockfile
from dlcards.cache import _VERSIONS
from dlcards.cli import main
from dlcards.identify import content_hash, identity_text
from dlcards.lockfile import FORMAT, LOCK_NAME, dump_lock, load_lock, lock_checksum, save_lock
from dlcards.read import decode_text

NOTES = (
    "### What is a batch?\n\n**Answer:** A slice of the data.\n\n"
    "### What is an epoch?\n\n**Answer:** One pass.\n"
)


def built(project: Project) -> Path:
    project.write("ml.md", NOTES)
    project.build()
    return project.decks / LOCK_NAME


def test_an_unchanged_lockfile_is_not_rewritten(project: Project) -> None:
    """A rebuild with nothing changed leaves the lockfile as it was: the same file (inode)
    and the same modification time."""
    path = built(project)
    before = path.stat()
    project.clock.advance()
    project.build()
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_changed_lockfile_is_written(project: Project) -> None:
    """An edit that changes a note replaces the lockfile with the new content."""
    path = built(project)
    before = path.read_bytes()
    project.write("ml.md", NOTES.replace("One pass.", "One pass over the data."))
    project.clock.advance()
    project.build()
    assert path.read_bytes() != before
    assert path.read_text(encoding="utf-8") == dump_lock(load_lock(path, "decks/dlcards.lock"))


def test_saving_the_lock_just_loaded_does_not_dump_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock equal to the one loaded from a current-format file that still has its bytes
    is not even dumped."""
    path = built(project)
    lock = load_lock(path, "decks/dlcards.lock")

    def no_dump(_: object) -> str:
        raise AssertionError("dumped an unchanged lock")

    monkeypatch.setattr(lockfile, "dump_lock", no_dump)
    save_lock(path, lock)


def test_a_lockfile_changed_on_disk_since_it_was_loaded_is_written(project: Project) -> None:
    """save_lock skips only when the file still holds the bytes it was loaded from."""
    path = built(project)
    lock = load_lock(path, "decks/dlcards.lock")
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=4), encoding="utf-8")
    save_lock(path, lock)
    assert path.read_text(encoding="utf-8") == dump_lock(lock)


@pytest.mark.parametrize("old_format", [1, 2, 3])
def test_an_older_lockfile_with_nothing_changed_is_upgraded(project: Project, old_format: int) -> None:
    """A lockfile of an older format is written as the current one by the next build,
    even when no note changed."""
    path = built(project)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["dlcards_lock"] = old_format
    if old_format == 1:
        del data["checksum"]
    else:
        data["checksum"] = lock_checksum(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    project.clock.advance()
    report = project.build()
    assert {s for _, s in report.statuses} == {"unchanged"}
    assert json.loads(path.read_text(encoding="utf-8"))["dlcards_lock"] == FORMAT
    assert path.read_text(encoding="utf-8") == dump_lock(load_lock(path, "decks/dlcards.lock"))


def test_content_hashes_and_identity_texts_keep_their_values() -> None:
    """Lockfiles store content hashes: they never change from one version to the next."""
    fields = ("What is <b>x</b>?", "It is “y”.", "", "notes/a.md", "GUID1")
    assert content_hash(fields, ("ml", "Basics"), "basic") == "03c9301015fc20ede08927c9edaf84c2"
    assert content_hash(("{{c1::x}}", "", "", "a.md", "G"), (), "cloze") == "2459d218d56fe11b6356a7f0b3746dd5"
    assert identity_text("What  is *X*?", None) == identity_text("what is x?", "") == "what is x?"
    assert identity_text("What is X?", "print(1)") == "what is x?\nprint(1)"


def test_the_render_cache_key_names_each_library_version() -> None:
    """An upgrade of mistune, Pygments or nh3 changes every cache key."""
    for name, module in (("mistune", mistune), ("pygments", pygments), ("nh3", nh3)):
        assert f"{name}={module.__version__}," in f"{_VERSIONS},"


def test_a_build_from_the_cache_never_loads_the_markdown_stages(tmp_path: Path) -> None:
    """When every file is in the render cache, parsing and rendering are not imported."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "ml.md").write_text(NOTES, encoding="utf-8")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dlcards.build import BuildOptions, collect_cards\n"
        "options = BuildOptions(notes_dir=Path('notes'), decks_dir=Path('decks'), cache_dir=Path('cache'))\n"
        "cards, _ = collect_cards(options)\n"
        "print(len(cards), sorted(m for m in ('dlcards.parse', 'dlcards.render') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert run() == "2 ['dlcards.parse', 'dlcards.render']"  # the first build fills the cache
    assert run() == "2 []"


def test_a_cli_build_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build pauses Python's cyclic collector and puts it back afterwards, even when
    the build fails: enabled, nothing left frozen, the same thresholds."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    Path("notes").mkdir()
    Path("notes/ml.md").write_text(NOTES, encoding="utf-8")
    state = (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold())
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold()) == state
    Path("notes/ml.md").write_text("### No answer here\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 1
    assert (gc.isenabled(), gc.get_freeze_count(), gc.get_threshold()) == state


@given(st.text(st.sampled_from(" \t\n\ra#"), max_size=30))
def test_lines_of_only_spaces_and_tabs_become_empty(text: str) -> None:
    """Reading empties every line that holds only spaces and tabs, and changes nothing
    else (the fast pattern reading uses, against the plain definition)."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    assert decode_text(text.encode(), "n.md") == re.sub(r"^[ \t]+$", "", unified, flags=re.MULTILINE)
