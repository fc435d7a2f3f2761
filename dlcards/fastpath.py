"""The rebuild that has nothing to do: answered from a record, without reading a note.

A build that wrote nothing (every note unchanged, no package and no lockfile
rewritten) leaves the world exactly as it found it. Run again on the same inputs it
would make the same decisions from the same lockfile and report the same thing:
that build is a pure function of what it read. So such a build records a snapshot of
everything it read, and the next build that finds the same snapshot returns the
recorded report at once.

A build that wrote something records too, when it can prove the build after it would
write nothing: it makes that build's decisions from the notes it read and the
lockfile it wrote (build.py), and records them only if they give back that very
lockfile and the packages it made. The snapshot is then the one taken after its
writes, and only if the notes did not change while it ran.

The snapshot holds:

* the content of every file under the notes folder and the attachments folders
  (Markdown and media alike: a new picture may change what a reference finds), and
  their names;
* the build's options and the versions of dlcards and of every library that shapes
  the output;
* the lockfile's bytes, and the size, modification and change times and inode of the
  lockfile and of every package (dlcards replaces them by renaming, so a rewrite
  changes the inode; a change in place changes the change time, which no one can set
  back).

The clock is checked too: a lockfile whose changes lie ahead of the clock is for the
ordinary path to refuse (the record keeps the lockfile's newest mod, which the
lockfile's digest pins).

Any difference, and the build takes the ordinary path. A symlink, a file that cannot
be read, or anything odd under the notes makes no snapshot at all (the ordinary path
knows how to report it). The record lives in the cache folder, is checksummed, and is
ignored when it does not read back exactly (its first line is the SHA-256 of the rest):
safe to delete, never trusted blindly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import Problem, Severity
from .model import BuildOptions, BuildReport, Departed, PackageSummary

RECORD_FORMAT = 6
_SKIPPED_DIRS = frozenset({".git"})
# The libraries that shape what a build writes. An upgrade rewrites their files, which
# the snapshot sees without importing them (the point is to answer before any import).
_LIBRARIES = ("dlcards", "mistune", "pygments", "nh3", "yaml", "genanki")


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    inputs: str  # digest of the options, versions and every file under the notes
    lock: str  # digest of the lockfile's bytes ("" without one)
    # Output files: path -> (size, mtime, ctime, inode), all -1 when missing.
    outputs: tuple[tuple[str, tuple[int, int, int, int]], ...]


_MISSING = (-1, -1, -1, -1)


def replay(options: BuildOptions, now: float) -> tuple[BuildReport | None, Snapshot | None]:
    """The report of the last build that wrote nothing, when nothing has changed since
    (None otherwise), and the snapshot taken to decide it (for the build to reuse)."""
    if options.cache_dir is None:
        return None, None
    snapshot = take_snapshot(options)
    if snapshot is None:
        return None, None
    return recorded_report(options.cache_dir, options.decks_dir, options.output, snapshot, now), snapshot


def take_snapshot(options: BuildOptions) -> Snapshot | None:
    """What a build reads, in one digest; None when the notes hold anything unusual."""
    notes_dir, decks_dir, output, attachments = (
        options.notes_dir,
        options.decks_dir,
        options.output,
        options.attachments,
    )
    settings = (
        options.notes_display,
        options.decks_display,
        options.source_date_epoch,
        sorted(options.deck_names.items()),
        options.default_tags,
    )
    h = hashlib.sha256()
    h.update(f"{RECORD_FORMAT}\x00{__version__}\x00{_code_fingerprint()}\x00{settings!r}\x00".encode())
    for n, root in enumerate((notes_dir, *attachments)):
        h.update(f"root {n} {os.path.realpath(root)}\x00".encode())
        if n > 0 and not os.path.lexists(root):
            h.update(b"missing\x00")  # an attachments folder not made yet
        elif not _hash_tree(root, h):
            return None
    try:
        lock = (decks_dir / "dlcards.lock").read_bytes()
    except FileNotFoundError:
        lock = b""
    except OSError:
        return None
    paths: set[Path] = {output} if output is not None else set()
    for place in [decks_dir] + ([output.parent] if output is not None else []):
        try:
            names = os.listdir(place)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        paths.update(place / name for name in names if name.endswith(".apkg") or name == "dlcards.lock")
    outputs: list[tuple[str, tuple[int, int, int, int]]] = []
    for path in sorted(paths):
        try:
            info = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            outputs.append((str(path), _MISSING))
            continue
        except OSError:
            return None
        outputs.append((str(path), (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)))
    return Snapshot(
        inputs=h.hexdigest(),
        lock=hashlib.sha256(lock).hexdigest() if lock else "",
        outputs=tuple(outputs),
    )


def _code_fingerprint() -> str:
    """Where each library's files are and when they were written (dlcards' own files
    all, as a working copy changes under the same version)."""
    import importlib.util

    parts = []
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin is None:
            parts.append(f"{name}=?")
            continue
        files = [origin]
        if name == "dlcards":
            folder = os.path.dirname(origin)
            files = [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".py")]
        for path in files:
            try:
                info = os.stat(path)
            except OSError:
                parts.append(f"{path}=?")
                continue
            parts.append(f"{path}={info.st_size},{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _hash_tree(root: Path, h: Any) -> bool:
    """Fold every file under root (names and contents) into h; False when something
    there is unusual (a link, a special file, an unreadable one) or root is missing."""
    real = os.path.realpath(root)  # a root may itself be a link (the settings allow one)
    if not os.path.isdir(real):
        return False
    for folder, dirs, files in os.walk(real, onerror=_raise):
        dirs.sort()
        for d in list(dirs):
            if d in _SKIPPED_DIRS:
                dirs.remove(d)
            elif os.path.islink(os.path.join(folder, d)):
                return False
        for name in sorted(files):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, real)
            try:
                info = os.stat(path, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    return False
                with open(path, "rb") as f:
                    content = hashlib.file_digest(f, "sha256").hexdigest()  # in pieces, however large
            except OSError:
                return False
            h.update(f"{rel}\x00{content}\x00".encode("utf-8", "surrogateescape"))
    return True


def _raise(error: OSError) -> None:
    raise error


def _record_path(cache_dir: Path, snapshot_key: str) -> Path:
    return cache_dir / "builds" / f"{snapshot_key}.json"


def _key(decks_dir: Path, output: Path | None) -> str:
    place = f"{os.path.realpath(decks_dir)}\x00{os.path.realpath(output) if output else ''}"
    return hashlib.sha256(place.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def recorded_report(
    cache_dir: Path, decks_dir: Path, output: Path | None, snapshot: Snapshot, now: float
) -> BuildReport | None:
    """The recorded report of a build that writes nothing, if nothing has changed since."""
    try:
        raw = _record_path(cache_dir, _key(decks_dir, output)).read_bytes()
        checksum, _, payload = raw.partition(b"\n")
        if checksum != _checksum(payload):
            return None
        body = json.loads(payload)
        if body["format"] != RECORD_FORMAT or [body["inputs"], body["lock"]] != [
            snapshot.inputs,
            snapshot.lock,
        ]:
            return None
        if [[name, list(sig)] for name, sig in snapshot.outputs] != body["outputs"]:
            return None
        if body["latest_mod"] > now:
            return None  # the clock is behind the lockfile: the ordinary path says so
        return _report_from(body["report"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def record_report(
    cache_dir: Path,
    decks_dir: Path,
    output: Path | None,
    snapshot: Snapshot,
    report: BuildReport,
    latest_mod: int,
) -> None:
    """Keep the report of a build that writes nothing, for the next one like it
    (latest_mod: the newest mod of the lockfile it reads)."""
    if report.rematches or report.moves or report.stale_packages:
        return  # such a build wrote something: it is no report of a build that writes nothing
    body = {
        "format": RECORD_FORMAT,
        "inputs": snapshot.inputs,
        "lock": snapshot.lock,
        "latest_mod": latest_mod,
        "outputs": [[name, list(sig)] for name, sig in snapshot.outputs],
        "report": _report_data(report),
    }
    path = _record_path(cache_dir, _key(decks_dir, output))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(body).encode()
        tmp.write_bytes(_checksum(payload) + b"\n" + payload)
        os.replace(tmp, path)


def _checksum(payload: bytes) -> bytes:
    # Over the bytes as written: checked before anything is decoded.
    return hashlib.sha256(payload).hexdigest().encode()


def _report_data(report: BuildReport) -> dict[str, Any]:
    return {
        "packages": [
            [p.filename, p.notes, p.new, p.updated, p.unchanged, p.removed] for p in report.packages
        ],
        "warnings": [[w.severity.value, w.path, w.line, w.message, w.col] for w in report.warnings],
        "departed": [[d.guid, d.deck, d.path, d.title, d.tagged] for d in report.departed],
        "removed_search": report.removed_search,
        "statuses": [list(s) for s in report.statuses],
    }


def _report_from(data: dict[str, Any]) -> BuildReport:
    return BuildReport(
        packages=tuple(
            PackageSummary(filename=f, notes=n, new=new, updated=u, unchanged=un, removed=r)
            for f, n, new, u, un, r in data["packages"]
        ),
        warnings=tuple(
            Problem(severity=Severity(s), path=p, line=line, message=m, col=c)
            for s, p, line, m, c in data["warnings"]
        ),
        departed=tuple(
            Departed(guid=g, deck=d, path=p, title=t, tagged=bool(tagged))
            for g, d, p, t, tagged in data["departed"]
        ),
        removed_search=str(data["removed_search"]),
        statuses=tuple((str(g), str(s)) for g, s in data["statuses"]),
    )
