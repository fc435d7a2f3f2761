"""Project configuration: `dlcards.toml`, or `[tool.dlcards]` in `pyproject.toml`.

    notes = "notes"            # folder of notes
    decks = "decks"            # folder for packages and the lockfile
    tags = ["interview"]       # added to every note
    packaging = "per-deck"     # or "single": everything in one package
    output = "decks/all.apkg"  # the package's path with packaging = "single"
    attachments = ["notes/attachments"]  # where images and sounds are also looked for

    [deck_names]               # (`[tool.dlcards.deck_names]` in pyproject.toml)
    "deep-learning" = "DL"     # a folder (or file) under notes/ -> deck name

Paths are relative to the file's folder. Command-line options win over these.
Unknown keys are errors that suggest the key meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import DlcardsError
from .model import SourceFile

CONFIG_NAME = "dlcards.toml"
_KEYS = ("notes", "decks", "tags", "packaging", "output", "attachments", "deck_names")
_PACKAGING = ("per-deck", "single")


class ConfigError(DlcardsError):
    """The configuration file is not valid; the message names the file."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    notes: Path | None = None
    decks: Path | None = None
    tags: tuple[str, ...] = ()
    packaging: str = "per-deck"
    output: Path | None = None
    deck_names: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[Path, ...] = ()
    origin: str | None = None  # the file it came from, for messages


def load_config(directory: Path) -> Config:
    """The configuration found in directory (dlcards.toml first), or the defaults."""
    own = directory / CONFIG_NAME
    if own.is_file():
        return _from_table(_read(own), own, directory, prefix="")
    pyproject = directory / "pyproject.toml"
    if pyproject.is_file():
        table = _read(pyproject).get("tool", {}).get("dlcards")
        if table is not None:
            if not isinstance(table, dict):
                raise ConfigError(f"{pyproject}: [tool.dlcards] must be a table")
            return _from_table(table, pyproject, directory, prefix="tool.dlcards.")
    return Config()


def _read(path: Path) -> dict[str, Any]:
    # Imported only for a project that has settings: 10 ms of the 150 that a rebuild
    # with nothing to do takes.
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None


def _from_table(table: dict[str, Any], path: Path, base: Path, *, prefix: str) -> Config:
    for key in table:
        if key not in _KEYS:
            import difflib

            close = difflib.get_close_matches(key, _KEYS, n=1)
            hint = f"; did you mean {prefix}{close[0]!r}?" if close else f"; known keys: {', '.join(_KEYS)}"
            raise ConfigError(f"{path}: unknown key {prefix}{key!r}{hint}")
    names = table.get("deck_names", {})
    if not isinstance(names, dict):
        raise ConfigError(f"{path}: {prefix}deck_names must be a table of folder = deck name")
    deck_names: dict[str, str] = {}
    for folder, name in names.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}: {prefix}deck_names.{folder!r} must be a deck name")
        deck_names[folder.strip("/")] = name.strip()
    tags = table.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{path}: {prefix}tags must be a list of tags")
    packaging = table.get("packaging", "per-deck")
    if packaging not in _PACKAGING:
        raise ConfigError(f"{path}: {prefix}packaging must be one of {', '.join(_PACKAGING)}")
    output = table.get("output")
    attachments = table.get("attachments", [])
    if isinstance(attachments, str):
        attachments = [attachments]
    if not isinstance(attachments, list):
        raise ConfigError(f"{path}: {prefix}attachments must be a list of folders")
    folders = []
    for folder in attachments:
        text = _text(folder, "attachments", path, prefix)
        # Inside the project: a deck built from someone else's notes must not carry
        # files from elsewhere on the builder's disk.
        resolved = (base / text).resolve()
        if Path(text).is_absolute() or not resolved.is_relative_to(base.resolve()):
            raise ConfigError(f"{path}: {prefix}attachments: {text!r} is outside the project folder")
        folders.append(base / text)
    return Config(
        notes=base / _text(table["notes"], "notes", path, prefix) if "notes" in table else None,
        decks=base / _text(table["decks"], "decks", path, prefix) if "decks" in table else None,
        tags=tuple(tags),
        packaging=packaging,
        output=base / _text(output, "output", path, prefix) if output is not None else None,
        deck_names=deck_names,
        attachments=tuple(folders),
        origin=str(path),
    )


def _text(value: object, key: str, path: Path, prefix: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: {prefix}{key} must be a path")
    return value


def apply_settings(source: SourceFile, deck_names: Mapping[str, str], tags: tuple[str, ...]) -> SourceFile:
    """A read file with the project's deck names and default tags applied.

    A deck named in front matter wins; otherwise the longest configured folder (or
    file) that holds the file names the deck, and the folders below it become
    subdecks as usual."""
    from .read import deck_title, normalize_tags  # (read.py brings YAML: not for every command)

    deck = source.deck
    if deck_names and _meta_deck(source) is None:
        stem = source.path[: -len(".md")] if source.path.lower().endswith(".md") else source.path
        parts = stem.split("/")
        for cut in range(len(parts), 0, -1):
            prefix = "/".join(parts[:cut])
            name = deck_names.get(prefix) or deck_names.get(prefix + ".md")
            if name:
                deck = "::".join([name, *(deck_title(p) for p in parts[cut:])])
                break
    merged = normalize_tags([*source.tags, *tags]) if tags else source.tags
    if deck == source.deck and merged == source.tags:
        return source
    return replace(source, deck=deck, tags=merged)


def _meta_deck(source: SourceFile) -> object:
    return next((v for k, v in source.meta.items() if k.strip().lower() == "deck"), None)
