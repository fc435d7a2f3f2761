"""Read-only views of the notes for `show` and `preview`: nothing is written.

Questions are listed with the note id the next build will give them (from the
lockfile when the question is already known), so a user can find a note in Anki.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .build import sound_cards
from .errors import Problem, Severity
from .identify import match_cards, note_tags
from .lockfile import LOCK_NAME, load_lock
from .model import BuildOptions, Card
from .notetype import named_fields


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionRow:
    deck: str
    guid: str
    display_path: str
    line: int
    first_line: str
    card: Card

    def to_json(self) -> dict[str, Any]:
        q = asdict(self.card.question)
        q["tags"] = list(note_tags(self.card))
        return {
            "deck": self.deck,
            "guid": self.guid,
            "path": self.display_path,
            "line": self.line,
            "question": q,
            "kind": self.card.kind,
            "fields": {name: value for name, value in named_fields(self.card).items() if name != "ID"},
            "media": [{"name": m.name, "path": str(m.path)} for m in self.card.media],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewCards:
    cards: list[Card]
    warnings: list[Problem]


def preview_cards(options: BuildOptions) -> PreviewCards:
    """Every card, failing like a build when the notes have errors."""
    cards, problems = sound_cards(options)
    return PreviewCards(cards=cards, warnings=[p for p in problems if p.severity is Severity.WARNING])


def list_questions(options: BuildOptions) -> list[QuestionRow]:
    """Every question with the guid it has (or will get), in file order."""
    cards, _ = sound_cards(options)
    lock = load_lock(options.decks_dir / LOCK_NAME, f"{options.decks_display}/{LOCK_NAME}")
    matching = match_cards(cards, lock)
    rows = []
    for card, guid in zip(cards, matching.guids, strict=True):
        q = card.question
        first = q.title.strip().splitlines()[0] if q.title.strip() else ""
        rows.append(
            QuestionRow(
                deck=q.deck, guid=guid, display_path=q.display_path, line=q.line, first_line=first, card=card
            )
        )
    return rows
