"""The values that flow between the stages: frozen, slotted, keyword-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Problem

if TYPE_CHECKING:
    from .fieldstore import StoredFields


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOptions:
    """What to build, and where: from the command line and the project's settings."""

    notes_dir: Path
    decks_dir: Path
    output: Path | None = None  # one package with everything, instead of one per top-level deck
    notes_display: str = "notes"
    decks_display: str = "decks"
    # SOURCE_DATE_EPOCH, read by the caller: the package time instead of the newest mod.
    source_date_epoch: int | None = None
    # Where rendered cards and package digests are kept between builds (None: no cache).
    cache_dir: Path | None = None
    # Processes that parse and render files the cache does not hold (1: in this one).
    workers: int = 1
    # From the project's settings: folder (or file) under notes/ -> deck name, and
    # tags added to every note.
    deck_names: Mapping[str, str] = field(default_factory=dict)
    default_tags: tuple[str, ...] = ()
    # Folders (besides the note's own and the notes root) where images and sounds are found.
    attachments: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFile:
    """One notes file as read from disk: decoded text and its front matter."""

    path: str  # posix path under the notes root, e.g. "deep-learning/cnn.md"
    display_path: str  # how messages name it, e.g. "notes/deep-learning/cnn.md"
    meta: Mapping[str, object]
    body: str  # the text after the front matter, LF line endings
    body_line: int  # line number (1-based) of the body's first line in the file
    deck: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    """A question found in a notes file, as Markdown, with where it came from."""

    path: str
    display_path: str
    line: int
    deck: str
    tags: tuple[str, ...]
    title: str  # the heading text without numbering or wrapping emphasis (inline Markdown)
    prompt: str  # Markdown between the heading and the answer label, often empty
    answer: str  # Markdown
    discussion: str  # Markdown, empty when there is none
    explicit_id: str | None = None
    # Front matter `cloze: true`: `==highlights==` become cloze deletions.
    cloze_highlights: bool = False
    # The file lines where the prompt, answer and discussion begin (0: not known), so a
    # later stage can name the line of something inside them without reading the file.
    prompt_line: int = 0
    answer_line: int = 0
    discussion_line: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFile:
    """What parsing one file gave: its questions and what it noticed on the way."""

    questions: tuple[Question, ...]
    problems: tuple[Problem, ...] = ()
    shape: str = "labelled"  # how the file was read: labelled, body or bold


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A file a card shows or plays, bundled into the package under a content-hash name."""

    name: str  # e.g. "diagram-3f2a9c0e1b7d4a56.png": what the fields refer to
    path: Path  # the file on disk, inside the notes root (or an attachments folder)
    source: str = ""  # path relative to the notes root, as the lockfile keeps it


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    """A question rendered to the HTML fields of the note type (before identity)."""

    question: Question
    front: str  # Question field HTML
    back: str  # Answer field HTML
    discussion: str  # Discussion field HTML
    source: str  # Source field HTML: the notes file's path under the notes root
    # "basic" (dlcards Q&A) or "cloze" (dlcards Cloze: Text, Extra, Discussion, Source, ID);
    # for a cloze card, front is the Text field and back the Extra field.
    kind: str = "basic"
    tags: tuple[str, ...] = ()  # inline `#tags` found in the question's section
    # The media files the fields refer to (set by the media stage, after the render cache).
    media: tuple[MediaFile, ...] = ()
    # Set by a build's FieldStore, which holds the fields from then on: front, back,
    # discussion and source are empty, and so are the question's answer and discussion.
    stored: StoredFields | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """A card with its identity: what the packaging stage writes."""

    guid: str
    mod: int
    deck: str
    fields: tuple[str, ...]  # Question, Answer, Discussion, Source, ID
    tags: tuple[str, ...]
    # "new" | "updated" | "unchanged", or "removed": a question that left the notes,
    # kept in its package tagged dlcards::removed (Anki never deletes on import).
    status: str
    question: Question | None  # None for a removed one
    kind: str = "basic"  # "basic" or "cloze": which note type (a note never switches)
    media: tuple[MediaFile, ...] = ()  # the media files its fields refer to
    hash: str = ""  # identify.content_hash of its fields, tags and note type
    # Set when its card's fields are in the build's FieldStore: fields is empty until
    # the store fills it, for the package that needs it.
    stored: StoredFields | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rematch:
    """A question whose text changed and kept its old note by similarity."""

    question: Question
    old_title: str
    similarity: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DeckMove:
    """A note whose deck changed in the notes; Anki keeps its cards where they are."""

    question: Question
    old_deck: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Departed:
    """A question that has left the notes since an earlier build (and is still in the lockfile)."""

    guid: str
    deck: str
    path: str
    title: str
    # True when its package carries it tagged dlcards::removed; False when its content
    # was not at hand (it left before dlcards kept removed notes), so only its ID finds it.
    tagged: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageSummary:
    """One .apkg written by a build, and what its next import will do."""

    filename: str
    notes: int
    new: int
    updated: int
    unchanged: int
    removed: int = 0  # questions that left the notes, in the package tagged dlcards::removed


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildReport:
    """Everything a build did, for the CLI to tell the user."""

    packages: tuple[PackageSummary, ...]
    warnings: tuple[Problem, ...] = ()
    rematches: tuple[Rematch, ...] = ()
    moves: tuple[DeckMove, ...] = ()
    departed: tuple[Departed, ...] = ()  # no longer in the notes, still in the lockfile
    removed_search: str = ""  # the Anki search that selects the departed notes ("" when none)
    stale_packages: tuple[str, ...] = ()
    statuses: tuple[tuple[str, str], ...] = ()  # (guid, Note.status) of every note written, by guid
