"""Card fields kept on disk while a build runs: memory follows the largest deck.

Identity needs of a card's fields only what they hash to; packaging needs the fields
themselves, but one package at a time. So as each notes file's cards come out of
rendering (or the render cache), the build puts their field HTML here and keeps a
slim card: where its fields are, the digests identity asks for (identify.CardDigest),
and its question without the answer and discussion Markdown. When a package has to
be made, its notes' fields are read back, and dropped with the package.

The fields go to an anonymous temporary file: the system deletes it when it is
closed, or when the build is killed.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

from .errors import OutputError
from .identify import CardDigest, note_tags
from .model import Card, Note, Question

_ENCODING = ("utf-8", "surrogatepass")
_CARD_FIELDS = tuple(f.name for f in fields(Card))
_QUESTION_FIELDS = tuple(f.name for f in fields(Question))
_NOTE_FIELDS = tuple(f.name for f in fields(Note))
_T = TypeVar("_T", Card, Note, Question)


def _copy(value: _T, names: tuple[str, ...], **changes: Any) -> _T:
    """dataclasses.replace, for the classes it is called on 10,000 times a build
    (which replace makes a third of a second, looking up their fields each time)."""
    return type(value)(**{**{name: getattr(value, name) for name in names}, **changes})


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFields:
    """Where a card's fields are in the build's FieldStore, and what they hash to."""

    store: FieldStore
    offset: int
    sizes: tuple[int, ...]  # in bytes: Question/Text, Answer/Extra, Discussion, Source
    digest: CardDigest

    def fields(self) -> tuple[str, ...]:
        """Question/Text, Answer/Extra, Discussion, Source: read back from the store."""
        return self.store.read(self.offset, self.sizes)


class FieldStore:
    """A build's card fields, out of memory until a package needs them."""

    def __init__(self, folder: Path | None = None) -> None:
        self._file = _temporary_file(folder)
        self._end = 0
        self._at_end = True  # a seek flushes the buffer: only after a read

    def __enter__(self) -> FieldStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing flushes what is left of the buffer. A disk that is full by then
        # fails this flush too: harmless, since no one reads these fields any more
        # (a package that needed them failed to read them back, with a message).
        with contextlib.suppress(OSError):
            self._file.close()

    def keep(self, card: Card) -> Card:
        """The card without its fields (they are here now) and without its question's
        answer and discussion Markdown (rendered already, and no later stage reads them)."""
        fields = (card.front, card.back, card.discussion, card.source)
        encoded = [f.encode(*_ENCODING) for f in fields]
        try:
            if not self._at_end:
                self._file.seek(self._end)
                self._at_end = True
            self._file.write(b"".join(encoded))
        except OSError as exc:  # a full disk
            raise OutputError(
                f"cannot keep card fields in a temporary file ({exc.strerror or exc})"
            ) from None
        stored = StoredFields(
            store=self,
            offset=self._end,
            sizes=tuple(map(len, encoded)),
            digest=CardDigest(fields, note_tags(card), card.kind),
        )
        self._end += sum(stored.sizes)
        return _copy(
            card,
            _CARD_FIELDS,
            question=_copy(card.question, _QUESTION_FIELDS, answer="", discussion=""),
            front="",
            back="",
            discussion="",
            source="",
            stored=stored,
        )

    def filled(self, notes: list[Note]) -> list[Note]:
        """The notes with their fields, read back from here where they were kept."""
        return [self._filled(n) for n in notes]

    def _filled(self, note: Note) -> Note:
        if note.stored is None:
            return note
        return _copy(note, _NOTE_FIELDS, fields=(*note.stored.fields(), note.guid), stored=None)

    def read(self, offset: int, sizes: tuple[int, ...]) -> tuple[str, ...]:
        """The texts kept at offset, of these sizes in bytes."""
        try:
            self._file.seek(offset)
            self._at_end = False
            data = self._file.read(sum(sizes))
        except OSError as exc:
            raise OutputError(
                f"cannot read card fields back from a temporary file ({exc.strerror or exc})"
            ) from None
        texts, at = [], 0
        for size in sizes:
            texts.append(data[at : at + size].decode(*_ENCODING))
            at += size
        return tuple(texts)


def _temporary_file(folder: Path | None) -> BinaryIO:
    """An anonymous temporary file in folder (the build's cache folder), else in the
    system's temporary folder."""
    places = [folder, None] if folder is not None else [None]
    failure: OSError | None = None
    for place in places:
        try:
            if place is not None:
                place.mkdir(parents=True, exist_ok=True)
            return tempfile.TemporaryFile(dir=place)  # closed by FieldStore.__exit__
        except OSError as exc:
            failure = exc
    assert failure is not None
    raise OutputError(f"cannot make a temporary file for card fields ({failure.strerror or failure})")
