"""The note types dlcards writes: ids, fields, templates and styling.

Two note types, each its own frozen schema: "dlcards Q&A" (standard) and
"dlcards Cloze" (cloze). A question holding cloze deletions becomes a cloze note;
a note never switches between the two (identify.py gives a question that changes
kind a new guid).

Anki matches note types by id and treats any change to the field or template
count, order or names as a new schema: the import then makes a copy named "X+"
and every existing note becomes "conflicting", never to be updated again. So the
schema below is frozen forever; each field and template carries a permanent "id"
(which also lets Anki rename one in place). Only the template text and CSS may
evolve, and a change to them is applied by Anki only when the note type's mod is
newer, which the lockfile takes care of (see identify.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache

from .highlight import code_css
from .model import Card

# Frozen: never change these values or the order of FIELDS and TEMPLATES.
MODEL_ID = 1764100800001
MODEL_NAME = "dlcards Q&A"


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    name: str
    id: int


FIELDS = (
    FieldSpec(name="Question", id=7341056120785501281),
    FieldSpec(name="Answer", id=2390718045523098713),
    FieldSpec(name="Discussion", id=5867204392160341977),
    FieldSpec(name="Source", id=1158930482712650043),
    FieldSpec(name="ID", id=8823401177260954129),
)
TEMPLATE_NAME = "Card 1"
TEMPLATE_ID = 4716009358844108021

FRONT = """<div class="dlc-card">
<div class="dlc-question">{{Question}}</div>
</div>"""

# The back's end, the same on both note types: the discussion box and the source.
_BACK_END = """{{#Discussion}}
<div class="dlc-discussion">
<div class="dlc-label">Discussion</div>
{{Discussion}}
</div>
{{/Discussion}}
<div class="dlc-source">{{Source}}</div>
</div>"""

BACK = (
    """<div class="dlc-card">
<div class="dlc-question">{{Question}}</div>
<hr id="answer">
<div class="dlc-answer">{{Answer}}</div>
"""
    + _BACK_END
)

BASE_CSS = """\
.card {
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 18px;
  line-height: 1.5;
  color: #1f2328;
  background-color: #ffffff;
  text-align: left;
  margin: 0;
  padding: 0;
}
.dlc-card { max-width: 46em; margin: 0 auto; padding: 16px 18px; overflow-wrap: break-word; }
.dlc-question { font-size: 1.15em; font-weight: 600; }
.dlc-question p, .dlc-question ul, .dlc-question ol { font-weight: 400; font-size: 0.9em; }
hr#answer { border: none; border-top: 1px solid #d0d7de; margin: 14px 0; }
.dlc-answer p, .dlc-discussion p { margin: 0.6em 0; }
.dlc-card ul, .dlc-card ol { padding-left: 1.4em; margin: 0.5em 0; }
.dlc-card li { margin: 0.2em 0; }
.dlc-card code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.88em; }
.dlc-card :not(pre) > code { background: rgba(127, 127, 127, 0.15); border-radius: 4px; padding: 0.1em 0.3em; }
.dlc-code { border-radius: 6px; margin: 0.7em 0; }
.dlc-code pre { margin: 0; padding: 10px 12px; overflow-x: auto; white-space: pre; font-size: 0.85em; line-height: 1.4; }
.dlc-card table { border-collapse: collapse; margin: 0.7em 0; display: block; overflow-x: auto; max-width: 100%; }
.dlc-card th, .dlc-card td { border: 1px solid #d0d7de; padding: 4px 8px; }
.dlc-card th { background: rgba(127, 127, 127, 0.12); }
.dlc-math { overflow-x: auto; margin: 0.6em 0; }
.dlc-discussion { margin-top: 16px; padding: 8px 12px; border-left: 4px solid #8c959f; background: rgba(127, 127, 127, 0.08); border-radius: 0 6px 6px 0; }
.dlc-label { font-size: 0.8em; font-weight: 700; text-transform: uppercase; letter-spacing: 0.05em; color: #57606a; }
.dlc-source { margin-top: 18px; font-size: 0.72em; color: #8c959f; }
.dlc-cloze { font-size: 1.05em; }
.dlc-cloze .dlc-title { font-weight: 600; margin-bottom: 0.4em; }
.cloze { font-weight: 700; color: #0969da; }
.dlc-removed { margin: 0 0 12px; padding: 6px 10px; border-left: 4px solid #cf222e; background: rgba(207, 34, 46, 0.1); border-radius: 0 6px 6px 0; font-size: 0.85em; font-weight: 600; }
.dlc-callout { --dlc-callout: 8, 95, 200; margin: 0.7em 0; padding: 6px 12px; border-left: 4px solid rgb(var(--dlc-callout)); background: rgba(var(--dlc-callout), 0.08); border-radius: 0 6px 6px 0; }
.dlc-callout-title { font-weight: 600; color: rgb(var(--dlc-callout)); }
summary.dlc-callout-title { cursor: pointer; }
.dlc-callout-body > :first-child { margin-top: 0.3em; }
.dlc-callout-body > :last-child { margin-bottom: 0.3em; }
.dlc-callout-abstract, .dlc-callout-tip { --dlc-callout: 6, 112, 112; }
.dlc-callout-success { --dlc-callout: 26, 115, 50; }
.dlc-callout-question { --dlc-callout: 135, 90, 0; }
.dlc-callout-warning { --dlc-callout: 170, 68, 0; }
.dlc-callout-failure, .dlc-callout-danger, .dlc-callout-bug { --dlc-callout: 190, 30, 42; }
.dlc-callout-example { --dlc-callout: 118, 70, 205; }
.dlc-callout-quote { --dlc-callout: 95, 102, 110; }
.dlc-card mark { color: inherit; background: rgba(255, 212, 0, 0.45); border-radius: 3px; padding: 0 0.15em; }
.dlc-tag { font-size: 0.85em; color: #57606a; background: rgba(127, 127, 127, 0.12); border-radius: 0.8em; padding: 0 0.45em; white-space: nowrap; }
.nightMode.card, .night_mode .card, .card.night_mode { color: #e6edf3; background-color: #1e1e1e; }
.nightMode hr#answer, .night_mode hr#answer { border-top-color: #444c56; }
.nightMode .dlc-card th, .nightMode .dlc-card td, .night_mode .dlc-card th, .night_mode .dlc-card td { border-color: #444c56; }
.nightMode .dlc-label, .night_mode .dlc-label { color: #9da7b1; }
.nightMode .dlc-source, .night_mode .dlc-source { color: #768390; }
.nightMode .cloze, .night_mode .cloze { color: #58a6ff; }
.nightMode .dlc-removed, .night_mode .dlc-removed { border-left-color: #f85149; background: rgba(248, 81, 73, 0.15); }
.nightMode .dlc-callout, .night_mode .dlc-callout { --dlc-callout: 88, 166, 255; background: rgba(var(--dlc-callout), 0.14); }
.nightMode .dlc-callout-abstract, .nightMode .dlc-callout-tip, .night_mode .dlc-callout-abstract, .night_mode .dlc-callout-tip { --dlc-callout: 57, 197, 187; }
.nightMode .dlc-callout-success, .night_mode .dlc-callout-success { --dlc-callout: 63, 185, 80; }
.nightMode .dlc-callout-question, .night_mode .dlc-callout-question { --dlc-callout: 210, 153, 34; }
.nightMode .dlc-callout-warning, .night_mode .dlc-callout-warning { --dlc-callout: 240, 136, 62; }
.nightMode .dlc-callout-failure, .nightMode .dlc-callout-danger, .nightMode .dlc-callout-bug, .night_mode .dlc-callout-failure, .night_mode .dlc-callout-danger, .night_mode .dlc-callout-bug { --dlc-callout: 255, 123, 114; }
.nightMode .dlc-callout-example, .night_mode .dlc-callout-example { --dlc-callout: 188, 140, 255; }
.nightMode .dlc-callout-quote, .night_mode .dlc-callout-quote { --dlc-callout: 160, 167, 175; }
.nightMode .dlc-card mark, .night_mode .dlc-card mark { background: rgba(187, 128, 9, 0.4); }
.nightMode .dlc-tag, .night_mode .dlc-tag { color: #9da7b1; }
@media (max-width: 480px) {
  .card { font-size: 17px; }
  .dlc-card { padding: 10px 12px; }
}
"""


# Frozen, like the above: the cloze note type.
CLOZE_MODEL_ID = 1764100800002
CLOZE_MODEL_NAME = "dlcards Cloze"
CLOZE_FIELDS = (
    FieldSpec(name="Text", id=2478306137213390145),
    FieldSpec(name="Extra", id=8287675007978787014),
    FieldSpec(name="Discussion", id=7766886194405156148),
    FieldSpec(name="Source", id=2131055875920044861),
    FieldSpec(name="ID", id=2610912138353468437),
)
CLOZE_TEMPLATE_NAME = "Cloze"
CLOZE_TEMPLATE_ID = 2121284011715089835

CLOZE_FRONT = """<div class="dlc-card">
<div class="dlc-cloze">{{cloze:Text}}</div>
</div>"""

CLOZE_BACK = (
    """<div class="dlc-card">
<div class="dlc-cloze">{{cloze:Text}}</div>
{{#Extra}}
<hr id="answer">
<div class="dlc-answer">{{Extra}}</div>
{{/Extra}}
"""
    + _BACK_END
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteType:
    """One note type as packages carry it."""

    id: int
    name: str
    kind: str  # "basic" (standard) or "cloze"
    fields: tuple[FieldSpec, ...]
    template_name: str
    template_id: int
    front: str
    back: str


BASIC = NoteType(
    id=MODEL_ID,
    name=MODEL_NAME,
    kind="basic",
    fields=FIELDS,
    template_name=TEMPLATE_NAME,
    template_id=TEMPLATE_ID,
    front=FRONT,
    back=BACK,
)
CLOZE = NoteType(
    id=CLOZE_MODEL_ID,
    name=CLOZE_MODEL_NAME,
    kind="cloze",
    fields=CLOZE_FIELDS,
    template_name=CLOZE_TEMPLATE_NAME,
    template_id=CLOZE_TEMPLATE_ID,
    front=CLOZE_FRONT,
    back=CLOZE_BACK,
)
NOTE_TYPES = {"basic": BASIC, "cloze": CLOZE}


def note_fields(card: Card, guid: str) -> tuple[str, ...]:
    """Question, Answer, Discussion, Source, ID (a cloze: Text, Extra, Discussion,
    Source, ID): the note type's frozen field order."""
    return (card.front, card.back, card.discussion, card.source, guid)


def named_fields(card: Card, guid: str = "") -> dict[str, str]:
    """A card's fields by their names in its note type."""
    names = (f.name for f in NOTE_TYPES[card.kind].fields)
    return dict(zip(names, note_fields(card, guid), strict=True))


@cache
def css() -> str:
    """The note type's stylesheet: card layout, then code colours for light and night."""
    return BASE_CSS + code_css()


@cache
def notetype_hash() -> str:
    """A digest of everything about the note types that Anki applies on update: both
    share one mod in the lockfile, so a change to either gives both a newer one."""
    data = json.dumps(
        [
            {
                "id": t.id,
                "name": t.name,
                "kind": t.kind,
                "fields": [(f.name, f.id) for f in t.fields],
                "templates": [(t.template_name, t.template_id, t.front, t.back)],
                "css": css(),
            }
            for t in (BASIC, CLOZE)
        ],
        sort_keys=True,
    )
    return hashlib.sha256(data.encode()).hexdigest()
