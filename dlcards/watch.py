"""Watching: rebuild whenever a notes file changes (watchfiles lives here).

Each rebuild's outcome goes to a callback: a report, or the error the notes have
right now. A file caught half-written is just an error for one round; the next save
rebuilds. Only Markdown files (and the config) trigger a rebuild, never the decks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .build import Clock, Wait, build
from .errors import DlcardsError
from .model import BuildOptions, BuildReport

Outcome = BuildReport | DlcardsError


def watch_builds(
    options: BuildOptions,
    *,
    clock: Clock,
    wait: Wait,
    on_result: Callable[[Outcome, tuple[str, ...]], None],
    stop: threading.Event,
    debounce_ms: int = 300,
    also_watch: tuple[Path, ...] = (),
) -> None:
    """Build once, then again after every change under the notes folder, until stop is set."""
    import watchfiles

    def relevant(change: Any, path: str) -> bool:
        return path.lower().endswith(".md") or Path(path) in also_watch

    on_result(_outcome(options, clock, wait), ())
    for changes in watchfiles.watch(
        options.notes_dir,
        *also_watch,
        watch_filter=relevant,
        debounce=debounce_ms,
        stop_event=stop,
        raise_interrupt=False,
    ):
        changed = tuple(sorted({path for _, path in changes}))
        on_result(_outcome(options, clock, wait), changed)


def _outcome(options: BuildOptions, clock: Clock, wait: Wait) -> Outcome:
    try:
        return build(options, clock=clock, wait=wait)
    except DlcardsError as exc:
        return exc
