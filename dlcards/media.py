"""Media stage: the images and sounds a card refers to, resolved and named by content.

Runs after rendering (and after the render cache, so an edited image is seen even
when its note's text is unchanged). The renderer writes every local reference as
`<img src="path as written">` or `[sound:path as written]`; here each one is

* resolved: relative to the note's folder, then the notes root, then each
  attachments folder; a bare file name Obsidian-style anywhere under the notes
  root when it is found nowhere else (a unique match only);
* fenced: a reference that lands outside the notes root (and the attachments
  folders) is refused: an absolute path, `../` out of the root, or a symlink that
  points out. A deck built from someone else's notes must never carry files from the
  builder's disk. A missing file, a folder, a device or a file over the size limit is
  an error too, not a broken card;
* renamed by content: `diagram-<16 hex of its SHA-256>.png`. Anki never overwrites a
  media file that has the same name, so an edited image needs a new name to reach
  the collection, and two different `diagram.png` must not share one. The name also
  carries the change into the note's fields, so the note's mod goes up and Anki
  imports the new file with it.

Remote images (`http(s)://`) are never fetched: the renderer leaves Markdown ones as
links, and a raw `<img>` with a remote source becomes a link here.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import stat
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import Problem, Severity
from .model import Card, MediaFile, Question

MAX_MEDIA_BYTES = 100 * 1024 * 1024  # a card's file larger than this is a mistake, not a picture

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
# The sanitizer writes every attribute double-quoted, with `"` inside a value escaped:
# an alt text cannot hold a `src="..."` of its own.
_SRC = re.compile(r'(\ssrc=)"([^"]*)"', re.IGNORECASE)
_ALT = re.compile(r'\salt="([^"]*)"', re.IGNORECASE)
_SOUND = re.compile(r"\[sound:([^\]\n]+)\]")
# Code shows text, not files: `[sound:x]` inside code or pre is left alone.
_CODE = re.compile(r"<(pre|code)\b[^>]*>.*?</\1>", re.IGNORECASE | re.DOTALL)
# Anything with a scheme, or starting with two slashes either way, is somewhere else:
# browsers read `https:host/x`, `HTTPS:\\host` and `\\\\host` as web addresses too.
_ELSEWHERE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|[\\/]{2})")
_URL_NOISE = re.compile(r"[\t\r\n]")  # what a URL parser skips inside a URL
_UNSAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")

_Local = Callable[[str], "str | None"]  # a reference as written -> its media file's name, or None


@dataclass(slots=True)
class _Resolver:
    notes_dir: Path
    attachments: tuple[Path, ...]
    roots: tuple[Path, ...] = ()
    hashes: dict[tuple[Path, int, int], str] = field(default_factory=dict)
    by_name: dict[str, list[Path]] | None = None

    def __post_init__(self) -> None:
        self.roots = tuple(p.resolve() for p in (self.notes_dir, *self.attachments))

    def find(self, note_path: str, target: str) -> Path | str:
        """The file a reference names (resolved, inside a root), or why there is none."""
        if not target.strip():
            return "an empty file name"
        unquoted = urllib.parse.unquote(target)
        names = [target] if unquoted == target else [target, unquoted]
        for name in names:
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
                return "an absolute path; use a path relative to the note or the notes folder"
            if _ELSEWHERE.match(name):
                return "a URL, not a file; put the file next to the note"
        note_dir = (self.notes_dir / note_path).parent
        bases = (note_dir, self.notes_dir, *self.attachments)
        outside = False
        for name in names:
            for base in bases:
                candidate = Path(os.path.normpath(base.resolve() / name))
                # Out of every root by its `..` alone (whether or not such a file exists),
                # or by a symlink on the way: refused either way.
                if not self._inside(candidate):
                    outside = True
                    continue
                if not os.path.lexists(candidate):
                    continue
                try:
                    resolved = candidate.resolve()
                except (OSError, RuntimeError):  # a symlink loop, on Pythons before 3.13
                    return "cannot be read (a symlink loop?)"
                if not self._inside(resolved):
                    outside = True
                    continue
                return resolved
        if outside:
            return "outside the notes folder (a deck must not carry files from elsewhere on this disk)"
        if "/" not in target and "\\" not in target:
            found = self._anywhere(unquoted)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                shown = ", ".join(str(p.relative_to(self.roots[0])) for p in found[:3])
                return f"ambiguous: several files have this name ({shown}); give its folder"
        return "not found (looked next to the note, in the notes folder and in the attachments folders)"

    def _inside(self, path: Path) -> bool:
        return any(path.is_relative_to(root) for root in self.roots)

    def _anywhere(self, name: str) -> list[Path]:
        """Files with this name anywhere under the notes root (Obsidian resolves embeds so)."""
        if self.by_name is None:
            self.by_name = {}
            root = self.roots[0]
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in files:
                    self.by_name.setdefault(f, []).append(Path(folder, f))
        found = []
        for path in self.by_name.get(name, []):
            try:
                resolved = path.resolve()
            except (OSError, RuntimeError):  # a symlink loop: no file by this name
                continue
            if resolved.is_relative_to(self.roots[0]):
                found.append(resolved)
        return sorted(found)

    def media_file(self, path: Path) -> MediaFile | str:
        """The file named by its content, or why it cannot go on a card."""
        try:
            info = path.stat()
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > MAX_MEDIA_BYTES:
            return f"larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MB"
        key = (path, info.st_size, info.st_mtime_ns)
        digest = self.hashes.get(key)
        if digest is None:
            try:
                digest = _sha256(path)
            except OSError as exc:
                return f"cannot be read ({exc.strerror or exc})"
            self.hashes[key] = digest
        source = Path(os.path.relpath(path, self.roots[0])).as_posix()
        return MediaFile(name=media_name(path.name, digest), path=path, source=source)


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def media_name(filename: str, digest: str) -> str:
    """`My Diagram.PNG` with content digest d -> `My-Diagram-<d[:16]>.png`: safe on every
    client's file system, never `_`-prefixed (Anki keeps those for shared assets)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    stem = _UNSAFE_STEM.sub("-", stem).strip("-_")[:40].strip("-_") or "media"
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())[:8]
    return f"{stem}-{digest[:16]}" + (f".{ext}" if ext else "")


def recorded_media(
    recorded: tuple[tuple[str, str], ...], notes_dir: Path, attachments: tuple[Path, ...] = ()
) -> tuple[MediaFile, ...]:
    """The files a lockfile entry recorded (name, path under the notes root) that are
    still there with the same content: a removed question's package keeps carrying
    them, so a collection that never saw them gets no missing picture."""
    resolver = _Resolver(notes_dir=notes_dir, attachments=attachments)
    found = []
    for name, source in recorded:
        path = Path(os.path.normpath(resolver.roots[0] / source))
        try:
            path = path.resolve()
        except (OSError, RuntimeError):
            continue
        if not resolver._inside(path):
            continue
        media = resolver.media_file(path)
        if isinstance(media, MediaFile) and media.name == name:
            found.append(media)
    return tuple(found)


def resolve_media(
    cards: list[Card], notes_dir: Path, attachments: tuple[Path, ...] = ()
) -> tuple[list[Card], list[Problem]]:
    """Cards whose fields name their media files by content hash, with those files
    attached; an error (file and line) for every reference that cannot be bundled."""
    return MediaStage(notes_dir, attachments).resolve(cards)


class MediaStage:
    """resolve_media, for cards that come a file at a time: what it learns of the
    folders (and each file's hash) serves every later call."""

    def __init__(self, notes_dir: Path, attachments: tuple[Path, ...] = ()) -> None:
        self._resolver = _Resolver(notes_dir=notes_dir, attachments=attachments)

    def resolve(self, cards: list[Card]) -> tuple[list[Card], list[Problem]]:
        return _resolve(cards, self._resolver)


def _resolve(cards: list[Card], resolver: _Resolver) -> tuple[list[Card], list[Problem]]:
    problems: list[Problem] = []
    out: list[Card] = []
    for card in cards:
        fields = card.front + card.back + card.discussion
        if "<img" not in fields and "[sound:" not in fields:
            out.append(card)
            continue
        files: dict[str, MediaFile] = {}

        def local(target: str, card: Card = card, files: dict[str, MediaFile] = files) -> str | None:
            found = resolver.find(card.question.path, target)
            media = resolver.media_file(found) if isinstance(found, Path) else found
            if isinstance(media, str):
                problems.append(_problem(card, target, media))
                return None
            files[media.name] = media
            return media.name

        out.append(
            replace(
                card,
                front=_rewrite(card.front, local),
                back=_rewrite(card.back, local),
                discussion=_rewrite(card.discussion, local),
                media=tuple(files[name] for name in sorted(files)),
            )
        )
    return out, problems


def _rewrite(field_html: str, local: _Local) -> str:
    """A field with each local reference replaced by its media file's name."""
    if "<img" not in field_html and "[sound:" not in field_html:  # the sanitizer writes tags in lower case
        return field_html
    pieces = []
    for text, is_code in _outside_code(field_html):
        if not is_code:
            text = _IMG.sub(lambda m: _image(m.group(0), local), text)
            text = _SOUND.sub(lambda m: _sound(m, local), text)
        pieces.append(text)
    return "".join(pieces)


def _image(tag: str, local: _Local) -> str:
    m = _SRC.search(tag)
    if m is None:
        return tag
    target = html.unescape(m.group(2)).strip()
    if _ELSEWHERE.match(_URL_NOISE.sub("", target)):
        # Never fetched, not even by Anki: a picture elsewhere becomes a link to it.
        alt = _ALT.search(tag)
        label = html.unescape(alt.group(1)) if alt else target
        url = html.escape(target, quote=True)
        return f'<a href="{url}">{html.escape(label or target, quote=False)}</a>'
    name = local(target)
    if name is None:
        return tag
    return f'{tag[: m.start()]}{m.group(1)}"{name}"{tag[m.end() :]}'


def _sound(m: re.Match[str], local: _Local) -> str:
    target = html.unescape(m.group(1)).strip()
    name = local(target)
    return m.group(0) if name is None else f"[sound:{name}]"


def _outside_code(text: str) -> Iterator[tuple[str, bool]]:
    at = 0
    for m in _CODE.finditer(text):
        yield text[at : m.start()], False
        yield m.group(0), True
        at = m.end()
    yield text[at:], False


def _problem(card: Card, target: str, reason: str) -> Problem:
    q = card.question
    return Problem(
        severity=Severity.ERROR,
        path=q.display_path,
        line=_line_of(q, target),
        message=f"media file {target!r}: {reason}",
    )


def _line_of(q: Question, target: str) -> int:
    """The line where a reference is written: its first mention in the question's parts
    (the question's line when it cannot be found)."""
    plain = urllib.parse.unquote(target)
    needles = (target, plain, urllib.parse.quote(plain, safe="/:"), html.escape(plain, quote=False))
    parts = (
        (q.title, q.line),
        (q.prompt, q.prompt_line),
        (q.answer, q.answer_line),
        (q.discussion, q.discussion_line),
    )
    for text, first in parts:
        if not first:
            continue
        for candidate in (text, urllib.parse.unquote(text)):
            at = min((i for i in (candidate.find(n) for n in needles) if i >= 0), default=-1)
            if at >= 0:
                return first + candidate[:at].count("\n")
    return q.line
