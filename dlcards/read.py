"""Reading stage: find the notes files, decode them, split and load front matter.

The only stage that touches the notes on disk. It hands on :class:`SourceFile`
values (text with LF line endings, front matter loaded, deck and tags decided) and
the problems it found; a file it cannot read is reported, never half-read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from .errors import DlcardsError, Problem, Severity
from .model import SourceFile

_BLANKISH = re.compile(r"^[ \t]+$", re.MULTILINE)
_FM_OPEN = re.compile(r"---[ \t]*\n")
_FM_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


class _TextLoader(yaml.SafeLoader):
    """Safe YAML that keeps dates as the text the user wrote ("Created time: 2023-12-11")."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def find_note_files(root: Path) -> list[Path]:
    """Every Markdown file under root, in a stable order; hidden folders are skipped."""
    found: list[Path] = []

    def fail(exc: OSError) -> None:
        raise DlcardsError(f"{exc.filename}: cannot read folder ({exc.strerror or exc})")

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(".md") and not name.startswith("."):
                found.append(Path(dirpath) / name)
    found.sort(key=lambda p: p.relative_to(root).as_posix())
    return found


def read_notes(root: Path, display_root: str) -> tuple[list[SourceFile], list[Problem]]:
    """Read every notes file under root; display_root is how messages name root."""
    if not root.is_dir():
        raise DlcardsError(f"{display_root}: no such notes directory (create it, or pass --notes DIR)")
    paths = find_note_files(root)
    if not paths:
        raise DlcardsError(f"{display_root}: no .md files found; nothing to build")
    files: list[SourceFile] = []
    problems: list[Problem] = []
    for path in paths:
        rel = path.relative_to(root).as_posix()
        display = f"{display_root.rstrip('/')}/{rel}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(_error(display, 0, f"cannot read file: {exc.strerror or exc}"))
            continue
        source, file_problems = read_source(data, path=rel, display_path=display)
        problems.extend(file_problems)
        if source is not None:
            files.append(source)
    return files, problems


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
    return _BLANKISH.sub("", text)


def split_front_matter(text: str, display_path: str) -> tuple[str | None, str, int, Problem | None]:
    """Split a leading `---` YAML block from the body, keeping line numbers exact."""
    if not _FM_OPEN.match(text):
        return None, text, 1, None
    start = text.index("\n") + 1
    close = _FM_CLOSE.search(text, start)
    if close is None:
        return (
            None,
            "",
            1,
            _error(
                display_path, 1, "front matter opened with '---' is never closed (add a '---' line after it)"
            ),
        )
    fm_text = text[start : close.start()]
    body_start = text.find("\n", close.end())
    body_start = len(text) if body_start < 0 else body_start + 1
    body_line = text.count("\n", 0, body_start) + 1
    return fm_text, text[body_start:], body_line, None


def load_front_matter(fm_text: str, display_path: str) -> dict[str, Any] | Problem:
    """Load front matter with safe YAML; any keys, dates kept as text."""
    try:
        loaded = YAMLHandler().load(fm_text, Loader=_TextLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + (mark.line if mark is not None else 0)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return _error(display_path, line, f"invalid YAML in front matter: {reason}")
    except RecursionError:
        return _error(display_path, 2, "front matter is nested too deeply")
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        return _error(display_path, 2, "front matter must be a mapping of keys to values")
    return {str(k): v for k, v in loaded.items()}


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
        parts = [p.strip() for p in value.split("::")]
        if not all(parts):
            problems.append(_error(display_path, 2, f"deck name {value!r} has an empty part"))
            return ""
        return "::".join(parts)
    stem_parts = path[: -len(".md")].split("/")  # any case of ".md"
    return "::".join(deck_title(part) for part in stem_parts)


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
