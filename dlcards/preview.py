"""Preview: every rendered card on one offline HTML page, as Anki would show it.

Takes the cards of the rendering stage and hands back the text of a self-contained
page (the CLI writes it): each card's front and back come from the note type's own
templates, filled in the way Anki fills them, under the note type's own CSS, in a
container with Anki's `card` class. A button (and the system's colour scheme, or
`#night` / `#light` in the address) switches every card to night mode by adding the
classes Anki adds (`nightMode`, `night_mode`); a search box (prefilled by `?q=words`)
filters cards by their text.

Nothing is loaded from anywhere: the CSS, the small script and the cards' own
images (as data: URLs) are inline, and a Content-Security-Policy stops even a
remote image from reaching the network. A cloze note shows its first card.
MathJax is not bundled, so math shows as its `\\(...\\)` source (the footer says so).
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from collections.abc import Mapping

from .identify import note_tags
from .model import Card
from .notetype import NOTE_TYPES, css, named_fields

# Anki's template tags: {{Field}}, {{#Field}}...{{/Field}}, {{FrontSide}} and
# {{cloze:Field}} are what our templates use; other filters ({{text:Field}}), inverted
# sections and comments are not, so the renderer refuses them instead of guessing.
_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# Anki counts a field as empty when it holds only whitespace, <br> and <div> tags.
_EMPTY_FIELD = re.compile(r"^(?:\s|</?(?:br|div) ?/?>)*$", re.IGNORECASE)
_CLOZE = re.compile(r"\{\{c([0-9]+)::(.*?)(?:::(.*?))?\}\}", re.DOTALL)

MATH_NOTE = (
    "Math is shown as its \\(…\\) source: Anki typesets it with MathJax, "
    "which this offline page does not load."
)


class TemplateError(ValueError):
    """A card template uses a tag this renderer does not know (a bug in notetype.py)."""


def render_template(
    template: str, fields: Mapping[str, str], *, front_side: str = "", cloze: int = 1, back: bool = False
) -> str:
    """Fill a card template the way Anki does for the tags our templates use.

    Field values are HTML and go in as they are (Anki does not escape them);
    `{{#F}}...{{/F}}` keeps its content only when F is not empty; `{{cloze:F}}` shows
    cloze number `cloze` hidden (`back`: revealed) and every other cloze as its text."""
    out: list[str] = []
    sections: list[tuple[str, bool]] = []  # open sections: name, whether shown
    shown = True
    pos = 0
    for match in _TAG.finditer(template):
        if shown:
            out.append(template[pos : match.start()])
        pos = match.end()
        tag = match.group(1).strip()
        if tag.startswith("#"):
            name = tag[1:].strip()
            sections.append((name, not _EMPTY_FIELD.match(_field(fields, name))))
        elif tag.startswith("/"):
            name = tag[1:].strip()
            if not sections or sections[-1][0] != name:
                raise TemplateError(f"{{{{{tag}}}}} closes no open {{{{#{name}}}}}")
            sections.pop()
        elif tag == "FrontSide":
            if shown:
                out.append(front_side)
        elif tag and not tag.startswith(("^", "!", "=")) and ":" not in tag:
            value = _field(fields, tag)
            if shown:
                out.append(value)
        elif tag.startswith("cloze:"):
            value = _field(fields, tag[len("cloze:") :].strip())
            if shown:
                out.append(cloze_side(value, cloze, back=back))
        else:
            raise TemplateError(f"unsupported template tag {{{{{tag}}}}}")
        shown = all(visible for _, visible in sections)
    if sections:
        raise TemplateError(f"{{{{#{sections[-1][0]}}}}} is never closed")
    out.append(template[pos:])
    return "".join(out)


def _field(fields: Mapping[str, str], name: str) -> str:
    try:
        return fields[name]
    except KeyError:
        raise TemplateError(f"the template names {{{{{name}}}}}, but there is no such field") from None


def cloze_side(text: str, number: int, *, back: bool) -> str:
    """A cloze field as Anki shows the card of one cloze number."""

    def one(m: re.Match[str]) -> str:
        if int(m.group(1)) != number:
            return m.group(2)
        if back:
            return f'<span class="cloze">{m.group(2)}</span>'
        return f'<span class="cloze">[{m.group(3) or "..."}]</span>'

    return _CLOZE.sub(one, text)


def render_sides(card: Card) -> tuple[str, str]:
    """The HTML of a card's front and back (a cloze note's first card), from the note
    type's templates, with its images inline."""
    note_type = NOTE_TYPES[card.kind]
    fields = {name: _inline_media(value, card) for name, value in named_fields(card).items()}
    first = min((int(m.group(1)) for m in _CLOZE.finditer(card.front)), default=1)
    front = render_template(note_type.front, fields, cloze=first)
    return front, render_template(note_type.back, fields, front_side=front, cloze=first, back=True)


def _inline_media(value: str, card: Card) -> str:
    """A field whose images are data: URLs (the page loads nothing from anywhere)."""
    for media in card.media:
        if f'src="{media.name}"' not in value:
            continue
        kind = mimetypes.guess_type(media.name)[0] or "application/octet-stream"
        try:
            data = base64.b64encode(media.path.read_bytes()).decode("ascii")
        except OSError:
            continue  # the page shows a broken image; the build reports the file
        value = value.replace(f'src="{media.name}"', f'src="data:{kind};base64,{data}"')
    return value


def render_preview(cards: list[Card], *, title: str) -> str:
    """The whole preview page: cards grouped by deck, front and back side by side."""
    decks: dict[str, list[Card]] = {}
    for card in cards:
        decks.setdefault(card.question.deck, []).append(card)
    sections: list[str] = []
    number = 1  # cards are numbered down the page, for links to one of them
    for deck in sorted(decks, key=lambda d: (d.casefold(), d)):
        sections.append(_render_deck(deck, decks[deck], first=number))
        number += len(decks[deck])
    body = "\n".join(sections) if sections else '<p class="pv-empty">No cards.</p>'
    count = f"{len(cards)} card{'s' if len(cards) != 1 else ''}"
    return _PAGE.format(
        title=html.escape(title),
        css=css(),
        page_css=_PAGE_CSS,
        count=count,
        total=len(cards),
        body=body,
        math_note=html.escape(MATH_NOTE),
        script=_SCRIPT,
    )


def _render_deck(deck: str, cards: list[Card], *, first: int) -> str:
    items = "\n".join(_render_item(card, n) for n, card in enumerate(cards, start=first))
    return (
        f'<section class="pv-deck">\n<h2>{html.escape(deck)} '
        f'<span class="pv-deck-count">({len(cards)})</span></h2>\n{items}\n</section>'
    )


def _render_item(card: Card, number: int) -> str:
    front, back = render_sides(card)
    q = card.question
    where = html.escape(f"{q.display_path}:{q.line}")
    tags = " ".join(f'<span class="pv-tag">{html.escape(t)}</span>' for t in note_tags(card))
    return f"""<article class="pv-item" id="card-{number}">
<p class="pv-where"><a href="#card-{number}">#{number}</a> <span class="pv-path">{where}</span> {tags}</p>
<div class="pv-sides">
<figure class="pv-side"><figcaption>Front</figcaption><div class="card card1">{front}</div></figure>
<figure class="pv-side"><figcaption>Back</figcaption><div class="card card1">{back}</div></figure>
</div>
</article>"""


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
{css}</style>
<style>
{page_css}</style>
</head>
<body>
<header class="pv-bar">
<h1>{title}</h1>
<input type="search" id="pv-search" placeholder="Search cards" aria-label="Search cards" autocomplete="off">
<button type="button" id="pv-night" aria-pressed="false">Night mode</button>
<span id="pv-count" data-total="{total}">{count}</span>
</header>
<main>
{body}
</main>
<footer class="pv-footer">{math_note}</footer>
<script>
{script}</script>
</body>
</html>
"""

# The page around the cards; its classes start with pv- so they never meet the
# note type's dlc- classes or Anki's own.
_PAGE_CSS = """\
[hidden] { display: none !important; }
html { background: #eef0f3; color: #1f2328; color-scheme: light; }
html.pv-night { background: #0d1117; color: #d1d7e0; color-scheme: dark; }
body { margin: 0; font: 15px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
.pv-bar { position: sticky; top: 0; z-index: 1; display: flex; flex-wrap: wrap; align-items: center;
  gap: 8px 12px; padding: 10px 16px; background: inherit;
  border-bottom: 1px solid rgba(127, 127, 127, 0.35); }
.pv-bar h1 { font-size: 17px; margin: 0 auto 0 0; }
#pv-search { font: inherit; padding: 4px 8px; min-width: 16em; }
#pv-night { font: inherit; padding: 4px 10px; }
#pv-count { color: #6e7781; }
main { padding: 4px 16px 16px; }
.pv-deck h2 { font-size: 16px; margin: 18px 0 8px; }
.pv-deck-count { font-weight: 400; color: #6e7781; }
.pv-item { margin: 0 0 18px; }
.pv-where { margin: 0 0 4px; font-size: 13px; color: #6e7781; }
.pv-where a { color: inherit; }
.pv-path { font-family: ui-monospace, Menlo, Consolas, monospace; }
.pv-tag { border: 1px solid rgba(127, 127, 127, 0.4); border-radius: 8px; padding: 0 6px; font-size: 12px; }
.pv-sides { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 10px;
  align-items: start; }
.pv-side { margin: 0; min-width: 0; overflow: hidden;
  border: 1px solid rgba(127, 127, 127, 0.35); border-radius: 6px; }
.pv-side figcaption { font-size: 11px; text-transform: uppercase; letter-spacing: 0.06em; padding: 2px 8px;
  color: #6e7781; border-bottom: 1px solid rgba(127, 127, 127, 0.25); }
.pv-empty { color: #6e7781; }
.pv-footer { padding: 8px 16px 24px; font-size: 13px; color: #6e7781; }
"""

_SCRIPT = """\
(function () {
  "use strict";
  var root = document.documentElement;
  var button = document.getElementById("pv-night");
  var cards = document.querySelectorAll(".card");
  // Anki's reviewer marks night mode with these classes; the note type's CSS reads them.
  function setNight(on) {
    root.classList.toggle("pv-night", on);
    cards.forEach(function (card) {
      card.classList.toggle("nightMode", on);
      card.classList.toggle("night_mode", on);
    });
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Light mode" : "Night mode";
  }
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  var chosen = location.hash === "#night" || location.hash === "#light";
  setNight(chosen ? location.hash === "#night" : scheme.matches);
  scheme.addEventListener("change", function (event) { if (!chosen) { setNight(event.matches); } });
  button.addEventListener("click", function () {
    chosen = true;
    setNight(!root.classList.contains("pv-night"));
  });

  var input = document.getElementById("pv-search");
  var count = document.getElementById("pv-count");
  var items = Array.prototype.slice.call(document.querySelectorAll(".pv-item"));
  var texts = items.map(function (item) { return item.textContent.toLowerCase(); });
  var decks = document.querySelectorAll(".pv-deck");
  var total = Number(count.dataset.total);
  function filter() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (item, i) {
      var hit = words.every(function (word) { return texts[i].indexOf(word) !== -1; });
      item.hidden = !hit;
      if (hit) { shown += 1; }
    });
    decks.forEach(function (deck) { deck.hidden = !deck.querySelector(".pv-item:not([hidden])"); });
    count.textContent = (words.length ? shown + " of " : "") + total + (total === 1 ? " card" : " cards");
  }
  input.addEventListener("input", filter);
  // preview.html?q=words opens the page already filtered.
  var query = new URLSearchParams(location.search).get("q");
  if (query) { input.value = query; filter(); }
})();
"""
