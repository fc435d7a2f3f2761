"""Writing into decks/ safely: a whole file or none of it, and one build at a time.

`write_atomic` writes a temporary file in the target's folder, flushes it to disk,
renames it over the target and flushes the folder (so the rename survives a power
cut): a reader, or a build killed at any moment, finds the old file or the new one,
never half of one. A killed build may leave its temporary file behind
(`.NAME.XXXXXXXX.dlcards-tmp`); `remove_leftovers` clears them.

`hold_build_lock` keeps two builds of one project apart with an OS file lock on
decks/.dlcards.build-lock, held for the whole build. The OS drops the lock when the
process ends, however it ends, so a killed build never leaves the project locked.
The lock file itself is never deleted: deleting it would let a waiting build and a
new one lock two different files at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError

BUILD_LOCK_NAME = ".dlcards.build-lock"
_TMP_SUFFIX = ".dlcards-tmp"


def write_atomic(target: Path, data: bytes) -> None:
    """Replace target with data, all at once; a file that already holds data is left alone."""
    commit_staged(stage_file(target, data))


# Staged files: written now, put in place later. A build makes each package and writes
# it beside its target (`.NAME.XXXXXXXX.dlcards-tmp`, flushed to disk) as soon as it is
# made, then replaces the lockfile, then renames the packages into place (build.py says
# why in that order): memory holds one package at a time, never the whole vault's. A
# rename is atomic, so a reader, or a build killed at any moment, finds the old file or
# the new one; a killed build's temporary files are removed by the next (remove_leftovers).
# A target that already holds exactly the new bytes is left alone: it keeps its inode
# and time stamp, and file watchers see no change.


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


def remove_leftovers(folder: Path, target_name: str | None = None) -> None:
    """Delete the temporary files a killed build left in folder (all of them, or only
    those of target_name). Call it holding the build lock, so no build is writing them."""
    prefix = "." if target_name is None else f".{target_name}."
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return  # no folder, no leftovers
    for name in names:
        if name.startswith(prefix) and name.endswith(_TMP_SUFFIX):
            with contextlib.suppress(OSError):
                (folder / name).unlink()


@contextlib.contextmanager
def hold_build_lock(folder: Path, on_busy: Callable[[], None]) -> Iterator[None]:
    """Hold the build lock of folder; if another build holds it, call on_busy and wait."""
    path = folder / BUILD_LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the build lock ({exc.strerror or exc})") from None
    try:
        try:
            if not _lock(fd, blocking=False):
                on_busy()
                _lock(fd, blocking=True)
        except OSError as exc:
            raise OutputError(f"{path}: cannot lock ({exc.strerror or exc})") from None
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


if sys.platform == "win32":  # pragma: no cover - exercised only on Windows
    import msvcrt

    def _lock(fd: int, *, blocking: bool) -> bool:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not blocking:
                    return False
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for ~10 s, then raises
                return True

    def _sync_folder(folder: Path) -> None:
        return None  # Windows cannot open a folder to flush it; its renames are journaled

else:
    import fcntl

    def _lock(fd: int, *, blocking: bool) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _sync_folder(folder: Path) -> None:
        # Best effort: some file systems cannot flush a folder; the rename is done anyway.
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
