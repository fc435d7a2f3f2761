"""`dlcards watch`: a rebuild per change, surviving a half-written file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dlcards.build import BuildOptions
from dlcards.errors import BuildFailed
from dlcards.model import BuildReport
from dlcards.watch import Outcome, watch_builds

GOOD = "### What is watching?\n\n**Answer:** Rebuilding on every save.\n"


def test_rebuilds_after_each_change_and_survives_a_broken_save(tmp_path: Path) -> None:
    """Initial build, an error for a half-written save, then a good build after the fix."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "w.md").write_text(GOOD, encoding="utf-8")
    options = BuildOptions(notes_dir=notes, decks_dir=tmp_path / "decks")
    results: list[tuple[Outcome, tuple[str, ...]]] = []
    arrived = threading.Condition()
    stop = threading.Event()

    def on_result(outcome: Outcome, changed: tuple[str, ...]) -> None:
        with arrived:
            results.append((outcome, changed))
            arrived.notify_all()

    def wait_for(count: int) -> None:
        with arrived:
            assert arrived.wait_for(lambda: len(results) >= count, timeout=30), results

    thread = threading.Thread(
        target=watch_builds,
        kwargs={
            "options": options,
            "clock": time.time,
            "wait": time.sleep,
            "on_result": on_result,
            "stop": stop,
            "debounce_ms": 100,
        },
        daemon=True,
    )
    thread.start()
    try:
        wait_for(1)
        time.sleep(0.5)  # let the watcher settle before the first change
        (notes / "w.md").write_bytes(b"---\ntags: [unfinished\n")  # saved half-written
        wait_for(2)
        (notes / "w.md").write_text(GOOD.replace("every save", "each save"), encoding="utf-8")
        wait_for(3)
        (tmp_path / "decks" / "other.txt").write_text("not notes", encoding="utf-8")
        time.sleep(1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    first, broken, fixed = (r[0] for r in results[:3])
    assert isinstance(first, BuildReport) and first.packages[0].new == 1
    assert isinstance(broken, BuildFailed)
    assert "notes/w.md" in str(broken.problems[0]) or "w.md" in str(broken.problems[0])
    assert isinstance(fixed, BuildReport) and fixed.packages[0].updated == 1
    assert results[1][1] == (str(notes / "w.md"),)
    assert len(results) == 3  # a change outside the notes triggers nothing
