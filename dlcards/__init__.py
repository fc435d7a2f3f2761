"""dlcards: Markdown study notes into Anki decks that update in place on re-import."""

__version__ = "0.1.0"
