"""Reading stage: find the notes files, decode them, split and load front matter.

The only stage that touches the notes on disk. It hands on :class:`SourceFile`
values (text with LF line endings, front matter loaded, deck and tags decided) and
the problems it found; a file it cannot read is reported, never half-read.

A notes tree may hold anything, so reading is careful: only ordinary files inside
the notes folder are read (a link that leads outside it is refused, never
followed; a FIFO or device is never opened for a blocking read), a file larger
than MAX_FILE_BYTES is refused before it is read, links to folders are not
followed (so loops cannot trap the walk), and a file or folder that vanishes
between listing and reading is an error that says to build again.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import DlcardsError, Problem, Severity
from .front_matter import load_front_matter, split_front_matter
from .model import SourceFile

MAX_FILE_BYTES = 32 * 1024 * 1024  # a notes file past this is refused (split it)
_CHUNK = 1024 * 1024
# Lines of only spaces or tabs: after a newline (a pattern that starts with one is
# found ten times faster than `^` in MULTILINE mode), and the first line.
_BLANKISH = re.compile(r"\n[ \t]+(?=\n|\Z)")
_BLANKISH_FIRST = re.compile(r"[ \t]+(?=\n|\Z)")
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def find_note_files(root: Path, display_root: str) -> tuple[list[Path], list[Problem]]:
    """Every Markdown file under root, in a stable order; hidden files and folders are skipped.

    Links to folders are not followed: the files they lead to inside the notes are read
    where they are, and one leading outside gets a warning, since its notes are not read.
    """
    found: list[Path] = []
    problems: list[Problem] = []
    real_root = os.path.realpath(root)
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            if folder == root:
                raise DlcardsError(f"{display_root}: cannot read folder ({exc.strerror or exc})") from None
            display = _display(root, folder, display_root)
            problems.append(_error(display, 0, _folder_failure(exc)))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if _is_dir(entry, follow_symlinks=False):
                pending.append(path)
            elif _is_dir(entry, follow_symlinks=True):
                target = os.path.realpath(path)
                if not _inside(target, real_root):
                    problems.append(
                        _warning(
                            _display(root, path, display_root),
                            0,
                            f"is a link to the folder {target}, outside {display_root}; links are not "
                            f"followed, so its notes are not read (move the folder into {display_root})",
                        )
                    )
            elif entry.name.lower().endswith(".md"):
                found.append(path)
    found.sort(key=lambda p: p.relative_to(root).as_posix())
    return found, problems


def read_notes(root: Path, display_root: str) -> tuple[list[SourceFile], list[Problem]]:
    """Read every notes file under root; display_root is how messages name root."""
    problems: list[Problem] = []
    paths = note_paths(root, display_root, problems)
    return list(iter_notes(root, display_root, paths, problems)), problems


def note_paths(root: Path, display_root: str, problems: list[Problem]) -> list[Path]:
    """The notes files under root, in the order a build reads them; problems with any
    are added to problems. Raises DlcardsError when there is nothing to read."""
    if not root.is_dir():
        raise DlcardsError(f"{display_root}: no such notes directory (create it, or pass --notes DIR)")
    paths, find_problems = find_note_files(root, display_root)
    problems.extend(find_problems)
    if not paths and not find_problems:
        raise DlcardsError(f"{display_root}: no .md files found; nothing to build")
    return paths


def iter_notes(
    root: Path, display_root: str, paths: list[Path], problems: list[Problem]
) -> Iterator[SourceFile]:
    """read_notes of these paths (from note_paths), a file at a time, each read when it is
    asked for: a big vault's text is never in memory all at once."""
    real_root = os.path.realpath(root)
    for path in paths:
        rel = path.relative_to(root).as_posix()
        display = _display(root, path, display_root)
        if not _printable_name(rel):
            problems.append(
                _error(
                    display,
                    0,
                    "the file name is not valid UTF-8 or holds a control character; rename the file "
                    "(the name becomes the card's Source and, without 'deck' in front matter, its deck)",
                )
            )
            continue
        data = read_file(path, real_root, display_root)
        if isinstance(data, str):
            problems.append(_error(display, 0, data))
            continue
        source, file_problems = read_source(data, path=rel, display_path=display)
        del data
        problems.extend(file_problems)
        if source is not None:
            yield source


def read_file(path: Path, real_root: str, display_root: str) -> bytes | str:
    """The bytes of one notes file, or why they cannot be read (a message for the user)."""
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as exc:
        return _file_failure(path, exc)
    if not _inside(real, real_root):
        return (
            f"is a link to {real}, outside {display_root}; dlcards only reads notes inside "
            f"{display_root} (move the file in, or remove the link)"
        )
    try:
        # O_NOFOLLOW: the resolved path must not have become a link since it was checked.
        # O_NONBLOCK: opening a FIFO must not wait for a writer that never comes.
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        return _file_failure(path, exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "is not an ordinary file (a FIFO, socket or device); dlcards reads only ordinary files"
        if info.st_size > MAX_FILE_BYTES:
            return _too_big(info.st_size)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:  # the file may grow while it is read
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            return _too_big(size)
        return b"".join(chunks)
    except OSError as exc:
        return _file_failure(path, exc)
    finally:
        os.close(fd)


def _too_big(size: int) -> str:
    return (
        f"is {size / 1024 / 1024:.0f} MB; notes files over {MAX_FILE_BYTES // 1024 // 1024} MB are not "
        "read (split it into smaller files)"
    )


def _file_failure(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is a symbolic link that loops back on itself; fix or remove the link"
    if exc.errno == errno.ENOENT:
        if path.is_symlink():
            return f"is a link to {os.readlink(path)}, which does not exist; fix or remove the link"
        return "was moved or deleted while the build was reading the notes; run the build again"
    return f"cannot read file: {exc.strerror or exc}"


def _folder_failure(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "folder was moved or deleted while the build was reading the notes; run the build again"
    return f"cannot read folder: {exc.strerror or exc}"


def _is_dir(entry: os.DirEntry[str], *, follow_symlinks: bool) -> bool:
    try:
        return entry.is_dir(follow_symlinks=follow_symlinks)
    except OSError:
        return False


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _printable_name(rel: str) -> bool:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by Python as lone surrogates
        return False
    return all(ch.isprintable() for ch in rel)


def _display(root: Path, path: Path, display_root: str) -> str:
    """How messages name path: printable even when the file name is not."""
    rel = path.relative_to(root).as_posix()
    safe = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if not safe.isprintable():
        safe = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in safe)
    return f"{display_root.rstrip('/')}/{safe}"


def read_source(data: bytes, *, path: str, display_path: str) -> tuple[SourceFile | None, list[Problem]]:
    """Turn a file's bytes into a SourceFile, or say (with a line) why it cannot be."""
    text = decode_text(data, display_path)
    if isinstance(text, Problem):
        return None, [text]
    fm_text, body, body_line, problem = split_front_matter(text, display_path)
    if problem:
        return None, [problem]
    meta: dict[str, Any] = {}
    if fm_text is not None:
        loaded = load_front_matter(fm_text, display_path)
        if isinstance(loaded, Problem):
            return None, [loaded]
        meta = loaded
    problems: list[Problem] = []
    deck = deck_from_meta(meta, path, display_path, problems)
    tags = tags_from_meta(meta, display_path, problems)
    if problems:
        return None, problems
    return (
        SourceFile(
            path=path,
            display_path=display_path,
            meta=meta,
            body=body,
            body_line=body_line,
            deck=deck,
            tags=tags,
        ),
        [],
    )


def decode_text(data: bytes, display_path: str) -> str | Problem:
    """UTF-8 with or without BOM; CRLF and lone CR become LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _error(display_path, 1, "the file is UTF-16 text; save it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        return _error(display_path, line, "NUL byte: this is not a text file (save it as UTF-8 text)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return Problem(
            severity=Severity.ERROR,
            path=display_path,
            line=line,
            col=col,
            message=f"not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # A line of only spaces or tabs is a blank line to a reader; to mistune a wide one
    # continues a paragraph or opens indented code. Same line count, same meaning.
    text = _BLANKISH.sub("\n", text)
    first = _BLANKISH_FIRST.match(text)
    return text[first.end() :] if first else text


def _meta_value(meta: dict[str, Any], key: str) -> object:
    for k, v in meta.items():
        if k.strip().lower() == key:
            return v
    return None


def deck_from_meta(meta: dict[str, Any], path: str, display_path: str, problems: list[Problem]) -> str:
    """The `deck` key (`::` for subdecks), else the path: folders become parent decks."""
    value = _meta_value(meta, "deck")
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            problems.append(_error(display_path, 2, "front matter 'deck' must be a non-empty text"))
            return ""
        if not value.isprintable():
            # Anki keeps a deck's parts apart with \x1f internally; no control character may pass.
            problems.append(_error(display_path, 2, f"deck name {value!r} holds a control character"))
            return ""
        parts = [p.strip() for p in value.split("::")]
        if not all(parts):
            problems.append(_error(display_path, 2, f"deck name {value!r} has an empty part"))
            return ""
        return "::".join(parts)
    stem_parts = path[: -len(".md")].split("/")  # any case of ".md"
    deck = "::".join(deck_title(part) for part in stem_parts)
    if not all(p.strip() for p in deck.split("::")):
        problems.append(
            _error(
                display_path,
                0,
                f"the file's path gives the deck name {deck!r}, which has an empty part; rename the "
                "file or set 'deck' in its front matter",
            )
        )
        return ""
    return deck


def deck_title(name: str) -> str:
    """`deep-learning-interview` -> `Deep Learning Interview`."""
    words = re.split(r"[-_\s]+", name.strip())
    titled = " ".join(w[:1].upper() + w[1:] for w in words if w)
    return titled or name


def tags_from_meta(meta: dict[str, Any], display_path: str, problems: list[Problem]) -> tuple[str, ...]:
    """`tags` as a YAML list or a comma/space separated text, made safe for Anki."""
    value = _meta_value(meta, "tags")
    if value is None:
        return ()
    raw: list[str]
    if isinstance(value, str):
        # Commas and spaces both separate tags here; a YAML list allows multi-word tags.
        raw = [t for t in re.split(r"[,\s]+", value) if t]
    elif isinstance(value, list):
        raw = []
        for item in value:
            if isinstance(item, (dict, list)):
                problems.append(_error(display_path, 2, "each entry of 'tags' must be a single tag"))
                return ()
            if item is not None:
                raw.append(str(item))
    elif isinstance(value, (int, float)):
        raw = [str(value)]
    else:
        problems.append(_error(display_path, 2, "'tags' must be a list or a comma separated text"))
        return ()
    return normalize_tags(raw)


def normalize_tags(raw: list[str]) -> tuple[str, ...]:
    """Anki tags have no spaces and compare case-insensitively: make them so, once each."""
    seen: set[str] = set()
    tags: list[str] = []
    for tag in raw:
        tag = re.sub(r"\s+", "_", tag.strip().lstrip("#"))
        tag = "".join(ch for ch in tag if ch.isprintable() and ch not in '"')
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tuple(tags)


def _error(path: str, line: int, message: str) -> Problem:
    return Problem(severity=Severity.ERROR, path=path, line=line, message=message)


def _warning(path: str, line: int, message: str) -> Problem:
    return Problem(severity=Severity.WARNING, path=path, line=line, message=message)
