"""Media stage: the images and sounds a card refers to, resolved and named by content.

(Being written: resolution, the notes-root fence and content-hash names.)
"""

from __future__ import annotations

from pathlib import Path

from .errors import Problem
from .model import Card


def resolve_media(
    cards: list[Card], notes_dir: Path, attachments: tuple[Path, ...] = ()
) -> tuple[list[Card], list[Problem]]:
    """Cards whose fields name their media files by content hash, with those files attached."""
    return cards, []
