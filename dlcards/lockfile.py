"""The lockfile (decks/dlcards.lock): every note's guid and mod, kept between builds.

It is the memory that makes re-imports update in place, so it is committed with the
notes, written atomically, read strictly, and never silently replaced: a lockfile
that does not parse, does not fit the schema, or does not match its checksum stops
the build with a hint. Readable JSON with a stable order, so its diffs say what changed.

The "checksum" is the SHA-256 of everything else in the file, as canonical JSON
(sorted keys, no spaces): re-indenting the file keeps it valid, while a hand edit, a
half-resolved merge or a damaged byte that still parses is caught. Lockfiles of
format 1, written before there was a checksum, are read without one and get one on
the next build.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import write_atomic
from .errors import LockfileError

LOCK_NAME = "dlcards.lock"
_PACKAGE_NAME = re.compile(r"^[^./\\][^/\\]*\.apkg$")
_MAX_MOD = 10**10  # seconds; a larger number is milliseconds or garbage
FORMAT = 2
_LEGACY_FORMATS = (1,)  # no checksum yet
_CHECKSUM_KEY = "checksum"


@dataclass(frozen=True, slots=True, kw_only=True)
class LockEntry:
    guid: str
    deck: str
    path: str
    title: str
    explicit_id: str | None
    hash: str
    mod: int
    removed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class NotetypeState:
    hash: str
    mod: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    entries: tuple[LockEntry, ...] = ()
    notetype: NotetypeState | None = None
    packages: tuple[str, ...] = ()


def load_lock(path: Path, display: str) -> Lock:
    """The lockfile at path; an empty Lock when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(display, f"cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockfileError(display, f"is not valid JSON ({exc.msg})", line=exc.lineno) from None
    try:
        lock = _from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LockfileError(display, f"does not look like a dlcards lockfile ({exc})") from None
    if _format(data) not in _LEGACY_FORMATS and data[_CHECKSUM_KEY] != lock_checksum(data):
        raise LockfileError(
            display,
            'its "checksum" does not match its content, so it was damaged or edited by hand '
            "(a merge conflict resolved line by line?) and cannot be trusted",
        )
    return lock


def lock_checksum(data: Mapping[str, Any]) -> str:
    """The checksum of a lockfile's JSON content: everything but the checksum itself."""
    content = {key: value for key, value in data.items() if key != _CHECKSUM_KEY}
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dump_lock(lock: Lock) -> str:
    """The lockfile's text: entries ordered by file, then question, then guid."""
    entries = sorted(lock.entries, key=lambda e: (e.removed, e.path, e.title.casefold(), e.guid))
    data: dict[str, Any] = {
        "dlcards_lock": FORMAT,
        _CHECKSUM_KEY: "",
        "notetype": None if lock.notetype is None else {"hash": lock.notetype.hash, "mod": lock.notetype.mod},
        "packages": sorted(lock.packages),
        "notes": [
            {
                "guid": e.guid,
                "deck": e.deck,
                "path": e.path,
                "question": e.title,
                **({"id": e.explicit_id} if e.explicit_id is not None else {}),
                "hash": e.hash,
                "mod": e.mod,
                **({"removed": True} if e.removed else {}),
            }
            for e in entries
        ],
    }
    data[_CHECKSUM_KEY] = lock_checksum(data)
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def save_lock(path: Path, lock: Lock) -> None:
    write_atomic(path, dump_lock(lock).encode("utf-8"))


def _from_json(data: Any) -> Lock:
    if not isinstance(data, dict) or _format(data) not in (FORMAT, *_LEGACY_FORMATS):
        raise ValueError(f'expected a JSON object with "dlcards_lock": {FORMAT}')
    if _format(data) == FORMAT and not isinstance(data.get(_CHECKSUM_KEY), str):
        raise ValueError(f'expected a "{_CHECKSUM_KEY}" text')
    notetype = None
    if data.get("notetype") is not None:
        nt = data["notetype"]
        notetype = NotetypeState(hash=_str(nt["hash"]), mod=_int(nt["mod"]))
    raw_packages = data.get("packages", [])
    if not isinstance(raw_packages, list):
        raise TypeError("'packages' must be a list")
    packages = tuple(_str(p) for p in raw_packages)
    for name in packages:
        # The build deletes packages it no longer makes: only ever its own files.
        if not _PACKAGE_NAME.match(name):
            raise ValueError(f"{name!r} is not a package name dlcards writes")
    entries = []
    seen: set[str] = set()
    if not isinstance(data["notes"], list):
        raise TypeError("'notes' must be a list")
    for raw in data["notes"]:
        if not isinstance(raw, dict):
            raise TypeError(f"each note must be an object, got {raw!r}")
        explicit = raw.get("id")
        removed = raw.get("removed", False)
        if not isinstance(removed, bool):
            raise TypeError(f"'removed' must be true or false, got {removed!r}")
        entry = LockEntry(
            guid=_str(raw["guid"]),
            deck=_str(raw["deck"]),
            path=_str(raw["path"]),
            title=_str(raw["question"]),
            explicit_id=None if explicit is None else _str(explicit),
            hash=_str(raw["hash"]),
            mod=_int(raw["mod"]),
            removed=removed,
        )
        if not entry.guid or entry.guid in seen:
            raise ValueError(f"guid {entry.guid!r} is empty or appears twice")
        seen.add(entry.guid)
        entries.append(entry)
    return Lock(entries=tuple(entries), notetype=notetype, packages=packages)


def _format(data: dict[str, Any]) -> int | None:
    value = data.get("dlcards_lock")
    return value if type(value) is int else None  # not true, not 1.0


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_MOD:
        raise TypeError(f"expected a whole number, got {value!r}")
    return value
