"""The render cache: each notes file's cards, kept by the file's content.

A rebuild parses and renders only the files whose content changed; the others'
cards come from here. An entry's key covers everything rendering depends on (the
file's text, its path, deck and tags, and the versions of dlcards, mistune and
Pygments), so an upgrade never serves stale HTML. Entries carry a checksum: a
truncated or altered entry is ignored, never trusted. Deleting the folder is
always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from . import __version__
from .errors import Problem, Severity
from .model import Card, ParsedFile, Question, SourceFile

CACHE_FORMAT = 3


def _dependency_versions() -> str:
    # Each library's own __version__, from the module it lives behind: importlib.metadata
    # would cost more to import and search than a whole cached file takes to read.
    from .highlight import PYGMENTS_VERSION
    from .markdown import MISTUNE_VERSION
    from .sanitize import NH3_VERSION

    return f"mistune={MISTUNE_VERSION},pygments={PYGMENTS_VERSION},nh3={NH3_VERSION}"


_VERSIONS = f"dlcards={__version__},{_dependency_versions()},format={CACHE_FORMAT}"
_QUESTION_FIELDS = tuple(f.name for f in fields(Question))


def cache_key(source: SourceFile) -> str:
    """What a file's cards depend on, as one digest."""
    data = json.dumps(
        [
            _VERSIONS,
            source.path,
            source.display_path,
            source.deck,
            list(source.tags),
            source.body_line,
            repr(sorted(source.meta.items(), key=lambda kv: kv[0])),
            source.body,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class RenderCache:
    """Cards by cache key, in a folder of small JSON files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[list[Card], ParsedFile] | None:
        """The cached result for key, or None when absent or not trustworthy."""
        try:
            raw = self._path(key).read_bytes()
            outer = json.loads(raw)
            payload = outer["payload"]
            if hashlib.sha256(payload.encode("utf-8")).hexdigest() != outer["sha256"]:
                return None
            data = json.loads(payload)
            if data["key"] != key:
                return None
            cards = [_card(c) for c in data["cards"]]
            problems = tuple(Problem(**{**p, "severity": Severity(p["severity"])}) for p in data["problems"])
            parsed = ParsedFile(
                questions=tuple(c.question for c in cards), problems=problems, shape=data["shape"]
            )
            return cards, parsed
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, cards: list[Card], parsed: ParsedFile) -> None:
        """Remember a file's result; a cache that cannot be written is skipped silently."""
        payload = json.dumps(
            {
                "key": key,
                "shape": parsed.shape,
                "cards": [_card_data(c) for c in cards],
                "problems": [{**asdict(p), "severity": p.severity.value} for p in parsed.problems],
            },
            ensure_ascii=False,
        )
        entry = {"sha256": hashlib.sha256(payload.encode("utf-8")).hexdigest(), "payload": payload}
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # No fsync: a cache entry lost in a crash is only work to redo, and a torn one
        # fails its checksum.
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(tmp, path)


def _card_data(card: Card) -> dict[str, Any]:
    # A shallow dict: asdict would deep-copy every question (a second and a half of a
    # 10,000-question cold build). Each field is text, a number or a tuple of text.
    question = {name: getattr(card.question, name) for name in _QUESTION_FIELDS}
    question["tags"] = list(card.question.tags)
    return {
        "question": question,
        "front": card.front,
        "back": card.back,
        "discussion": card.discussion,
        "source": card.source,
        "kind": card.kind,
        "tags": list(card.tags),
    }


def _card(data: dict[str, Any]) -> Card:
    q = dict(data["question"])
    q["tags"] = tuple(q["tags"])
    return Card(
        question=Question(**q),
        front=str(data["front"]),
        back=str(data["back"]),
        discussion=str(data["discussion"]),
        source=str(data["source"]),
        kind=str(data["kind"]),
        tags=tuple(str(t) for t in data["tags"]),
    )


class PackageDigests:
    """For each package written: a digest of its inputs and of its bytes. A package
    whose inputs are unchanged and whose file still has those bytes is current: the
    build neither renders nor rewrites it. A missing or doubtful record means render."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "packages.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.records: dict[str, dict[str, str]] = {
                str(k): {"inputs": str(v["inputs"]), "sha256": str(v["sha256"])} for k, v in data.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.records = {}

    def is_current(self, package: Path, inputs: str) -> bool:
        record = self.records.get(str(package))
        if record is None or record["inputs"] != inputs:
            return False
        try:
            return hashlib.sha256(package.read_bytes()).hexdigest() == record["sha256"]
        except OSError:
            return False

    def record(self, package: Path, inputs: str, sha256: str) -> None:
        """Remember that package, made from inputs, holds bytes with this SHA-256."""
        self.records[str(package)] = {"inputs": inputs, "sha256": sha256}

    def save(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.records, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
