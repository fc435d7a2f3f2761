"""`dlcards init`: a new notes project with one example file, decks/ and the config.

Never overwrites: a file that already exists is left as it is and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError

EXAMPLE = """\
---
tags: [example]
---

# Example notes

Each question is a heading; the answer follows an **Answer:** line.

### 1. What does `dlcards build` make of this file?

**Answer:**

One card per question: the heading on the front, the answer on the back.
Rebuild after editing and re-import: the cards update in place.

**Discussion Points:**

- What happens to a question you delete from your notes?

### 2. Which Markdown works on a card?

**Answer:** Paragraphs, lists, tables, `code`, fenced code with highlighting,
math such as $e^{i\\pi} + 1 = 0$, images (`![a diagram](diagram.png)`, next to this
file), ==highlights==, callouts and inline `#tags`.

> [!tip] Where do images go?
> Next to the note, anywhere under notes/, or in an attachments folder.

### Cloze deletions

A heading over text with {{c1::cloze deletions}} makes a cloze note: each
{{c2::deletion}} is asked on a card of its own.
"""

CONFIG = """\
# dlcards settings (all optional); command-line options win over these.
notes = "notes"
decks = "decks"
# tags = ["interview"]        # added to every note
# packaging = "per-deck"      # or "single" (with output = "decks/all.apkg")
# attachments = ["notes/attachments"]  # more folders where images and sounds are found

# [deck_names]                # a folder under notes/ -> its deck name
# "deep-learning" = "Deep Learning"
"""

GITIGNORE = """\
# Built packages; keep dlcards.lock under version control.
*.apkg
.cache/
preview.html
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Scaffolded:
    created: tuple[Path, ...]
    kept: tuple[Path, ...]


def scaffold_project(directory: Path) -> Scaffolded:
    """Create notes/example.md, decks/.gitignore and dlcards.toml under directory."""
    files = {
        directory / "notes" / "example.md": EXAMPLE,
        directory / "decks" / ".gitignore": GITIGNORE,
        directory / "dlcards.toml": CONFIG,
    }
    created, kept = [], []
    for path, text in files.items():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(text)
        except FileExistsError:
            kept.append(path)
            continue
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        created.append(path)
    return Scaffolded(created=tuple(created), kept=tuple(kept))
