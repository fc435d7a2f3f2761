"""The lockfile (decks/dlcards.lock): every note's guid and mod, kept between builds.

It is the memory that makes re-imports update in place, so it is committed with the
notes, written atomically, read strictly, and never silently replaced: a lockfile
that does not parse, does not fit the schema, or does not match its checksum stops
the build with a hint. Readable JSON with a stable order, so its diffs say what changed.

The "checksum" is the SHA-256 of everything else in the file, as canonical JSON
(sorted keys, no spaces): re-indenting the file keeps it valid, while a hand edit, a
half-resolved merge or a damaged byte that still parses is caught.

Formats, each still read (and written as the newest on the next build):

1. guid, deck, path, question, hash and mod of every note; no checksum.
2. adds the checksum.
3. adds, per note, a short digest of each field and of the tags ("field_hashes",
   "tags_hash": what `dlcards plan` compares to say which fields an update changes),
   and, for a question that left the notes, the content it last had
   ("removed_note"): Anki never deletes on import, so later builds keep emitting it,
   tagged as removed, until `dlcards forget`. Only removed notes carry their
   content: the fields of every note would make the lockfile as large as the notes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path
from typing import Any

from .atomic import hold_build_lock, write_atomic
from .errors import DlcardsError, LockfileError
from .notetype import NOTE_TYPES

LOCK_NAME = "dlcards.lock"
_PACKAGE_NAME = re.compile(r"^[^./\\][^/\\]*\.apkg$")
_MAX_MOD = 10**10  # seconds; a larger number is milliseconds or garbage
FORMAT = 4  # 4: cloze notes ("kind"); a dlcards that predates them refuses the file
_UNCHECKED_FORMATS = (1,)  # written before there was a checksum
_FORMATS = (1, 2, 3, FORMAT)
_CHECKSUM_KEY = "checksum"
_FIELD_NAMES = {kind: tuple(f.name for f in t.fields) for kind, t in NOTE_TYPES.items()}
# json.dumps(x, ensure_ascii=False) makes an encoder on every call: a tenth of a second
# over 10,000 notes, one a line. The same output, from one encoder; without the check
# for circular references, which JSON data and a lockfile's dicts cannot have.
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
_canonical = json.JSONEncoder(
    ensure_ascii=False, check_circular=False, sort_keys=True, separators=(",", ":")
).encode


@dataclass(frozen=True, slots=True, kw_only=True)
class RemovedNote:
    """What a note held when its question left the notes (before it was tagged removed)."""

    fields: tuple[str, ...]  # in the note type's field order
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LockEntry:
    guid: str
    deck: str
    path: str
    title: str
    explicit_id: str | None
    hash: str  # of the content the last build emitted
    mod: int
    removed: bool
    # Short digests of each field (in field order) and of the tags the last build
    # emitted; None in entries of lockfiles before format 3 until the next build.
    field_hashes: tuple[str, ...] | None = None
    tags_hash: str | None = None
    # Only for a removed question: its content, so the build can keep emitting it.
    removed_note: RemovedNote | None = None
    # The Markdown between a question's heading and its answer label, when it has
    # one: part of what identifies it (many quiz files reuse one heading text,
    # "What's the output?", with a different snippet under each).
    prompt: str | None = None
    kind: str = "basic"  # the note type: "basic" or "cloze" (a note never switches)
    # The media files its fields refer to: (name, path under the notes root).
    media: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NotetypeState:
    hash: str
    mod: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    entries: tuple[LockEntry, ...] = ()
    notetype: NotetypeState | None = None
    packages: tuple[str, ...] = ()
    # The file this lock continues, when it was loaded from one (and handed on by the
    # identity stage): what lets save_lock leave an unchanged lockfile without dumping
    # it again. Not part of the lock's value.
    origin: LockOrigin | None = field(default=None, compare=False, repr=False)

    def latest_mod(self) -> int:
        """The newest mod it records (0 for none)."""
        return max([e.mod for e in self.entries] + [self.notetype.mod if self.notetype else 0])


@dataclass(frozen=True, slots=True, kw_only=True)
class LockOrigin:
    """A lockfile as load_lock read it: its format, the SHA-256 of its bytes, its content."""

    format: int
    sha256: str
    lock: Lock


class NotRemovedError(DlcardsError):
    """`forget` was asked for a note the lockfile does not hold as removed."""


def load_lock(path: Path, display: str) -> Lock:
    """The lockfile at path; an empty Lock when there is none yet."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
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
    if _format(data) not in _UNCHECKED_FORMATS and data[_CHECKSUM_KEY] != lock_checksum(data):
        raise LockfileError(
            display,
            'its "checksum" does not match its content, so it was damaged or edited by hand '
            "(a merge conflict resolved line by line?) and cannot be trusted",
        )
    return replace(lock, origin=LockOrigin(format=data["dlcards_lock"], sha256=_digest(raw), lock=lock))


def lock_checksum(data: Mapping[str, Any]) -> str:
    """The checksum of a lockfile's JSON content: everything but the checksum itself."""
    content = {key: value for key, value in data.items() if key != _CHECKSUM_KEY}
    return "sha256:" + hashlib.sha256(_canonical(content).encode("utf-8")).hexdigest()


def dump_lock(lock: Lock) -> str:
    """The lockfile's text: entries ordered by file, then question, then guid."""
    data: dict[str, Any] = {
        "dlcards_lock": FORMAT,
        _CHECKSUM_KEY: "",
        "notetype": None if lock.notetype is None else {"hash": lock.notetype.hash, "mod": lock.notetype.mod},
        "packages": sorted(lock.packages),
        "notes": [_entry_json(e) for e in sorted(lock.entries, key=entry_order)],
    }
    data[_CHECKSUM_KEY] = lock_checksum(data)
    # One note a line: a diff shows exactly the notes that changed, and it is written
    # with json's fast encoder (an indented dump of 10,000 notes takes a second).
    head = ",\n".join(
        f" {json.dumps(key)}: {_encode(value)}" for key, value in data.items() if key != "notes"
    )
    notes = ",\n".join(f"  {_encode(note)}" for note in data["notes"])
    return "{\n" + head + ',\n "notes": [' + (f"\n{notes}\n ]" if notes else "]") + "\n}\n"


def entry_order(entry: LockEntry) -> tuple[bool, str, str, str]:
    """The lockfile's order of entries: notes still in the notes first, by file and question."""
    return (entry.removed, entry.path, entry.title.casefold(), entry.guid)


def save_lock(path: Path, lock: Lock) -> None:
    """Write the lockfile; one that already holds this lock is left alone, untouched.

    A lock equal to the one loaded from a file of the current format, where that file
    still has the bytes it was loaded from, is not even dumped (a third of a second at
    10,000 notes, paid by every build with nothing to change). A lockfile of an older
    format is always written: the build upgrades it."""
    if _holds(path, lock):
        return
    write_atomic(path, dump_lock(lock).encode("utf-8"))


def _holds(path: Path, lock: Lock) -> bool:
    """Whether the file at path, as it is now, is the lockfile of this lock."""
    origin = lock.origin
    if origin is None or origin.format != FORMAT:
        return False
    loaded = origin.lock
    if (lock.notetype, lock.packages) != (loaded.notetype, loaded.packages):
        return False
    if len(lock.entries) != len(loaded.entries):
        return False
    # The file lists entries in entry_order; the build hands them on in notes order.
    if tuple(sorted(lock.entries, key=entry_order)) != loaded.entries:
        return False
    try:
        return _digest(path.read_bytes()) == origin.sha256
    except OSError:
        return False


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forget_removed(
    decks_dir: Path,
    guids: Collection[str] | None = None,
    *,
    decks_display: str = "decks",
    on_busy: Callable[[], None] = lambda: None,
) -> list[LockEntry]:
    """Drop removed questions from the lockfile (all of them, or those with the given
    guids) and return what was dropped; the next build no longer emits them.

    For after the user deleted their notes in Anki. Holds the build lock, so no build
    runs meanwhile, and replaces the lockfile atomically (or leaves it alone when
    there is nothing to drop). A guid that is not a removed question is an error,
    and then nothing is dropped."""
    lock_path = decks_dir / LOCK_NAME
    display = f"{decks_display}/{LOCK_NAME}"
    if not lock_path.is_file():  # also: no decks folder to create a build lock in
        _check_wanted(Lock(), guids, display)
        return []
    with hold_build_lock(decks_dir, on_busy):
        lock = load_lock(lock_path, display)
        _check_wanted(lock, guids, display)
        wanted = None if guids is None else set(guids)
        dropped = [e for e in lock.entries if e.removed and (wanted is None or e.guid in wanted)]
        if dropped:
            gone = {e.guid for e in dropped}
            kept = tuple(e for e in lock.entries if e.guid not in gone)
            save_lock(lock_path, replace(lock, entries=kept))
    return sorted(dropped, key=entry_order)


def _check_wanted(lock: Lock, guids: Collection[str] | None, display: str) -> None:
    if guids is None:
        return
    entries = {e.guid: e for e in lock.entries}
    for guid in guids:
        entry = entries.get(guid)
        if entry is None:
            raise NotRemovedError(f"{display}: no note with id {guid!r}; nothing was forgotten")
        if not entry.removed:
            raise NotRemovedError(
                f"{display}: note {guid!r} ({entry.path}: {entry.title}) is still in your notes; "
                "only questions removed from the notes can be forgotten; nothing was forgotten"
            )


def _entry_json(e: LockEntry) -> dict[str, Any]:
    data: dict[str, Any] = {
        "guid": e.guid,
        "deck": e.deck,
        "path": e.path,
        "question": e.title,
        **({"prompt": e.prompt} if e.prompt else {}),
        **({"id": e.explicit_id} if e.explicit_id is not None else {}),
        "hash": e.hash,
        "mod": e.mod,
    }
    names = _FIELD_NAMES[e.kind]
    if e.kind != "basic":
        data["kind"] = e.kind
    if e.field_hashes is not None:
        data["field_hashes"] = dict(zip(names, e.field_hashes, strict=True))
    if e.tags_hash is not None:
        data["tags_hash"] = e.tags_hash
    if e.media:
        data["media"] = dict(e.media)
    if e.removed:
        data["removed"] = True
    if e.removed_note is not None:
        data["removed_note"] = {
            "fields": dict(zip(names, e.removed_note.fields, strict=True)),
            "tags": list(e.removed_note.tags),
        }
    return data


def _from_json(data: Any) -> Lock:
    if not isinstance(data, dict) or _format(data) not in _FORMATS:
        raise ValueError(f'expected a JSON object with "dlcards_lock": {FORMAT}')
    if _format(data) not in _UNCHECKED_FORMATS and not isinstance(data.get(_CHECKSUM_KEY), str):
        raise ValueError(f'expected a "{_CHECKSUM_KEY}" text')
    notetype = None
    if data.get("notetype") is not None:
        nt = data["notetype"]
        notetype = NotetypeState(hash=_str(nt["hash"]), mod=_int(nt["mod"]))
    raw_packages = data.get("packages", [])
    if not isinstance(raw_packages, list):
        raise TypeError("'packages' must be a list")
    packages = _texts(tuple(raw_packages))
    for name in packages:
        # The build deletes packages it no longer makes: only ever its own files.
        if not _PACKAGE_NAME.match(name):
            raise ValueError(f"{name!r} is not a package name dlcards writes")
    entries = []
    seen: set[str] = set()
    if not isinstance(data["notes"], list):
        raise TypeError("'notes' must be a list")
    for raw in data["notes"]:
        entry = _entry(raw)
        if not entry.guid or entry.guid in seen:
            raise ValueError(f"guid {entry.guid!r} is empty or appears twice")
        seen.add(entry.guid)
        entries.append(entry)
    return Lock(entries=tuple(entries), notetype=notetype, packages=packages)


# A note's values are checked a group at a time: a call for each value was half the
# time load_lock took for 10,000 notes.
_REQUIRED_TEXTS = itemgetter("guid", "deck", "path", "question", "hash")
_FIELD_SETS = {kind: frozenset(names) for kind, names in _FIELD_NAMES.items()}


def _entry(raw: Any) -> LockEntry:
    if not isinstance(raw, dict):
        raise TypeError(f"each note must be an object, got {raw!r}")
    removed = raw.get("removed", False)
    if not isinstance(removed, bool):
        raise TypeError(f"'removed' must be true or false, got {removed!r}")
    kind = raw.get("kind", "basic")
    if not isinstance(kind, str) or kind not in _FIELD_NAMES:
        raise ValueError(f"'kind' must be one of {', '.join(_FIELD_NAMES)}, got {kind!r}")
    field_hashes = None
    if "field_hashes" in raw:
        field_hashes = _texts(_by_field(raw["field_hashes"], "field_hashes", kind))
    removed_note = None
    if "removed_note" in raw:
        if not removed:
            raise ValueError("'removed_note' belongs to removed notes only")
        note = raw["removed_note"]
        if not isinstance(note, dict) or not isinstance(note.get("tags"), list):
            raise TypeError("'removed_note' must hold 'fields' and a 'tags' list")
        removed_note = RemovedNote(
            fields=_texts(_by_field(note["fields"], "removed_note.fields", kind)),
            tags=_texts(tuple(note["tags"])),
        )
    guid, deck, path, title, digest = _texts(_REQUIRED_TEXTS(raw))
    prompt, explicit, tags_hash = _optional_texts((raw.get("prompt"), raw.get("id"), raw.get("tags_hash")))
    media = _media(raw["media"]) if "media" in raw else ()
    return LockEntry(
        guid=guid,
        deck=deck,
        path=path,
        title=title,
        explicit_id=explicit,
        hash=digest,
        mod=_int(raw["mod"]),
        removed=removed,
        field_hashes=field_hashes,
        tags_hash=tags_hash,
        removed_note=removed_note,
        prompt=prompt,
        kind=kind,
        media=media,
    )


def _media(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise TypeError(f"'media' must map file names to paths, got {value!r}")
    return tuple((_str(name), _str(path)) for name, path in value.items())


def _by_field(value: Any, key: str, kind: str) -> tuple[Any, ...]:
    """An object keyed by the note type's field names, as a tuple in field order."""
    if not isinstance(value, dict) or value.keys() != _FIELD_SETS[kind]:
        raise ValueError(f"{key!r} must have exactly the fields {', '.join(_FIELD_NAMES[kind])}")
    return tuple(map(value.__getitem__, _FIELD_NAMES[kind]))


def _format(data: dict[str, Any]) -> int | None:
    value = data.get("dlcards_lock")
    return value if type(value) is int else None  # not true, not 1.0


def _str(value: Any) -> str:
    return _texts((value,))[0]


def _texts(values: tuple[Any, ...]) -> tuple[str, ...]:
    """values, checked to be text."""
    for value in values:
        if not isinstance(value, str):
            raise _not_text(value)
    return values


def _optional_texts(values: tuple[Any, ...]) -> tuple[str | None, ...]:
    """values, checked to be text or None (null, or not there)."""
    for value in values:
        if value is not None and not isinstance(value, str):
            raise _not_text(value)
    return values


def _not_text(value: Any) -> TypeError:
    return TypeError(f"expected text, got {value!r}")


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_MOD:
        raise TypeError(f"expected a whole number, got {value!r}")
    return value
