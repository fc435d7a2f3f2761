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
from itertools import accumulate
from operator import attrgetter
from pathlib import Path
from typing import Any

from . import __version__
from .errors import Problem, Severity
from .model import Card, ParsedFile, Question, SourceFile

CACHE_FORMAT = 4  # 4: the texts outside the JSON, the checksum over the file's bytes


def _dependency_versions() -> str:
    # Each library's own __version__, from the module it lives behind: importlib.metadata
    # would cost more to import and search than a whole cached file takes to read.
    from .highlight import PYGMENTS_VERSION
    from .markdown import MISTUNE_VERSION
    from .sanitize import NH3_VERSION

    return f"mistune={MISTUNE_VERSION},pygments={PYGMENTS_VERSION},nh3={NH3_VERSION}"


_VERSIONS = f"dlcards={__version__},{_dependency_versions()},format={CACHE_FORMAT}"


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
    """Cards by cache key, a file each.

    An entry is the SHA-256 (hex) of the rest of the file, on a line of its own; then
    one line of JSON: the key, the file's shape and problems, each card's values other
    than text, and the length of each text; then the texts, one after another. Texts
    outside the JSON need no escaping and no unescaping (rendered HTML is full of
    quotes), and the checksum is checked on the bytes as read, before any decoding."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.entry"

    def get(self, key: str) -> tuple[list[Card], ParsedFile] | None:
        """The cached result for key, or None when absent or not trustworthy."""
        try:
            raw = self._path(key).read_bytes()
            # A memoryview: the checksum is taken without copying the entry.
            if _digest_line(memoryview(raw)[_DIGEST_LINE:]) != raw[:_DIGEST_LINE]:
                return None
            text = raw.decode("utf-8")  # the digest line is ASCII: offsets stay the same
            texts_at = text.index("\n", _DIGEST_LINE) + 1
            data = json.loads(text[_DIGEST_LINE:texts_at])
            if data["key"] != key:
                return None
            cards = _cards(data["cards"], _split(text, texts_at, data["lengths"]))
            problems = tuple(Problem(**{**p, "severity": Severity(p["severity"])}) for p in data["problems"])
            parsed = ParsedFile(
                questions=tuple(c.question for c in cards), problems=problems, shape=data["shape"]
            )
            return cards, parsed
        # RecursionError: JSON nested deeper than the parser goes.
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None

    def put(self, key: str, cards: list[Card], parsed: ParsedFile) -> None:
        """Remember a file's result; a cache that cannot be written is skipped silently."""
        texts: list[str] = []
        for card in cards:
            texts += _question_texts(card.question)
            texts += _card_texts(card)
        head = json.dumps(
            {
                "key": key,
                "shape": parsed.shape,
                "problems": [{**asdict(p), "severity": p.severity.value} for p in parsed.problems],
                "cards": [[c.question.tags, c.tags, *_question_values(c.question)] for c in cards],
                "lengths": [len(t) for t in texts],
            },
            ensure_ascii=False,
        )
        rest = f"{head}\n{''.join(texts)}".encode()
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # No fsync: a cache entry lost in a crash is only work to redo, and a torn one
        # fails its checksum.
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(_digest_line(rest) + rest)
            os.replace(tmp, path)


_DIGEST_LINE = 65  # 64 hex digits and a newline


def _digest_line(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(data).hexdigest().encode("ascii") + b"\n"


def _split(text: str, start: int, lengths: list[int]) -> list[str]:
    """The rest of text from start, cut into pieces of these lengths, which must cover it."""
    ends = list(accumulate(lengths, initial=start))
    if ends[-1] != len(text) or min(lengths, default=0) < 0:
        raise ValueError("the lengths of the texts do not add up")
    return list(map(text.__getitem__, map(slice, ends, ends[1:])))


# The text fields of a question and of a card, which an entry keeps outside its JSON.
# Its JSON has each card's row: the question's tags, the card's tags, then the
# question's other fields (line numbers, the explicit id, and any field added later).
# A card's media is not kept: the media stage sets it after the cache.
_QUESTION_TEXTS = ("path", "display_path", "deck", "title", "prompt", "answer", "discussion")
_QUESTION_VALUES = tuple(f.name for f in fields(Question) if f.name not in {*_QUESTION_TEXTS, "tags"})
_CARD_TEXTS = ("front", "back", "discussion", "source", "kind")
_question_texts = attrgetter(*_QUESTION_TEXTS)
_question_values = attrgetter(*_QUESTION_VALUES)
_card_texts = attrgetter(*_CARD_TEXTS)


def _cards(rows: list[Any], texts: list[str]) -> list[Card]:
    """The cards of an entry: each from its row of values and its run of texts."""
    per_card = len(_QUESTION_TEXTS) + len(_CARD_TEXTS)
    if len(texts) != per_card * len(rows):
        raise ValueError("the texts do not match the cards")
    cards = []
    for start, (tags, card_tags, *values) in zip(range(0, len(texts), per_card), rows, strict=True):
        middle = start + len(_QUESTION_TEXTS)
        question: dict[str, Any] = dict(zip(_QUESTION_TEXTS, texts[start:middle], strict=True))
        question.update(zip(_QUESTION_VALUES, values, strict=True))
        card: dict[str, Any] = dict(zip(_CARD_TEXTS, texts[middle : start + per_card], strict=True))
        cards.append(Card(question=Question(tags=tuple(tags), **question), tags=tuple(card_tags), **card))
    return cards


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
