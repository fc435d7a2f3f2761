"""Files written now and put in place later: a build's packages, one at a time.

A build makes each package, then replaces the lockfile, then puts the packages in
place (build.py says why in that order). Holding every package in memory until the
lockfile is written would make memory grow with the whole vault; instead each one
is written, as soon as it is made, to a temporary file beside its target
(`.NAME.XXXXXXXX.dlcards-tmp`, flushed to disk) and renamed over the target after
the lockfile. A rename is atomic, so a reader, or a build killed at any moment,
finds the old file or the new one. A killed build leaves its temporary files
behind, and the next build removes them (atomic.remove_leftovers, which knows the
same names).

A target that already holds exactly the new bytes is left alone: nothing is
written, so it keeps its inode and time stamp and file watchers see no change.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError

_TMP_SUFFIX = ".dlcards-tmp"  # atomic.remove_leftovers clears files named .NAME.*.dlcards-tmp


@dataclass(frozen=True, slots=True, kw_only=True)
class StagedFile:
    """New content for target: in tmp, or None when target already holds it."""

    target: Path
    tmp: Path | None
    sha256: str  # of the new content


def stage_file(target: Path, data: bytes) -> StagedFile:
    """Write data beside target and flush it to disk; target itself is not touched."""
    digest = hashlib.sha256(data).hexdigest()
    if _holds(target, data):
        return StagedFile(target=target, tmp=None, sha256=digest)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a deck is an ordinary file
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
        raise
    return StagedFile(target=target, tmp=tmp, sha256=digest)


def commit_staged(staged: StagedFile) -> None:
    """Rename the staged file over its target and flush the folder (so the rename
    survives a power cut); nothing to do when the target already held the content."""
    if staged.tmp is None:
        return
    try:
        os.replace(staged.tmp, staged.target)
    except OSError as exc:
        discard_staged(staged)
        raise OutputError(f"{staged.target}: cannot write ({exc.strerror or exc})") from None
    _sync_folder(staged.target.parent)


def discard_staged(staged: StagedFile) -> None:
    """Remove a staged file that will not be put in place (already gone is fine)."""
    if staged.tmp is not None:
        with contextlib.suppress(OSError):
            staged.tmp.unlink()


def _holds(target: Path, data: bytes) -> bool:
    try:
        return target.stat().st_size == len(data) and target.read_bytes() == data
    except OSError:
        return False  # missing or unreadable: write it


def _sync_folder(folder: Path) -> None:
    # Best effort, as in atomic.py: some file systems cannot flush a folder (and
    # Windows cannot open one); the rename is done anyway.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
