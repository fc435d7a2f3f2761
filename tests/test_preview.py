"""The preview page: Anki's template filling, the page's content, and its pixels in Chromium.

The browser tests start Debian's `chromium` headless (no network, a throwaway
profile), screenshot a preview in light and night mode and read the PNG's pixels:
the card must really be drawn with the note type's colours, not merely be present
in the HTML. `make test` installs Chromium; without it these tests fail.
"""

from __future__ import annotations

import re
import struct
import subprocess
import textwrap
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from pygments.styles import get_style_by_name
from pygments.token import Token

from dlcards.highlight import LIGHT_STYLE, NIGHT_STYLE
from dlcards.model import Card
from dlcards.notetype import BACK, BASE_CSS, FIELDS, FRONT
from dlcards.parse import parse_file
from dlcards.preview import MATH_NOTE, TemplateError, render_preview, render_sides, render_template
from dlcards.read import read_source
from dlcards.render import render_card

CHROMIUM = Path("/usr/bin/chromium")


def make_cards(markdown: str, path: str = "topic/notes.md") -> list[Card]:
    """The cards of one notes file, through the real read, parse and render stages."""
    display = f"notes/{path}"
    source, problems = read_source(textwrap.dedent(markdown).encode(), path=path, display_path=display)
    assert source is not None, [str(p) for p in problems]
    return [render_card(q) for q in parse_file(source).questions]


CODE_CARD = """\
---
deck: Preview Test
---

### 1. What does `square(3)` return?

**Answer:** Nine, computed as $x^2$:

```python
def square(x):
    return x * x  # the square
```

**Discussion:**

- What would `square("3")` do?
"""

# ---------------------------------------------------------------- the template subset


def test_every_tag_in_the_note_type_templates_is_rendered() -> None:
    """Each {{Field}}, {{#Field}}...{{/Field}} (and {{FrontSide}}) in FRONT/BACK is filled as Anki does."""
    fields = {f.name: f"<i>{f.name} value</i>" for f in FIELDS}
    tags = re.findall(r"\{\{(.*?)\}\}", FRONT + BACK)
    assert tags
    for tag in tags:
        kind, name = (tag[0], tag[1:]) if tag[0] in "#/" else ("", tag)
        assert name in fields or tag == "FrontSide", f"a tag outside the renderer's subset: {{{{{tag}}}}}"
        for template in (FRONT, BACK):
            if "{{" + tag + "}}" not in template:
                continue
            out = render_template(template, fields, front_side="<front/>")
            assert "{{" not in out and "}}" not in out
            if kind == "":
                assert fields.get(name, "<front/>") in out
            elif kind == "#":
                opening, closing = "{{#" + name + "}}", "{{/" + name + "}}"
                section = template.split(opening)[1].split(closing)[0]
                kept = template.replace(opening, "").replace(closing, "")
                dropped = template.replace(opening + section + closing, "")
                empty = {**fields, name: ""}
                assert out == render_template(kept, fields, front_side="<front/>")
                assert render_template(template, empty) == render_template(dropped, empty)


def test_fields_go_in_as_html_without_escaping() -> None:
    """Anki inserts a field's HTML as it is; so does the preview."""
    assert render_template("<p>{{ Q }}</p>", {"Q": "<b>x</b> &amp;"}) == "<p><b>x</b> &amp;</p>"


@pytest.mark.parametrize("value", ["", "  \n", "<br>", "<br/>", "<div></div> <BR />"])
def test_section_is_dropped_when_its_field_is_empty_as_anki_counts_it(value: str) -> None:
    """Whitespace, <br> and <div> alone make a field empty for {{#Field}}."""
    assert render_template("a{{#D}}[{{D}}]{{/D}}b", {"D": value}) == "ab"


def test_section_is_kept_when_its_field_has_content() -> None:
    assert render_template("a{{#D}}[{{D}}]{{/D}}b", {"D": "<p>x</p>"}) == "a[<p>x</p>]b"


def test_front_side_is_the_rendered_front() -> None:
    assert render_template("{{FrontSide}}<hr>{{A}}", {"A": "a"}, front_side="<q>") == "<q><hr>a"


@pytest.mark.parametrize(
    "template",
    ["{{Nope}}", "{{text:Q}}", "{{^Q}}x{{/Q}}", "{{#Q}}never closed", "stray {{/Q}}", "{{#Q}}{{/D}}"],
)
def test_unknown_fields_and_tags_outside_the_subset_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        render_template(template, {"Q": "q", "D": "d"})


def test_unknown_field_is_refused_even_in_a_hidden_section() -> None:
    with pytest.raises(TemplateError, match="Nope"):
        render_template("{{#D}}{{Nope}}{{/D}}", {"D": ""})


# ---------------------------------------------------------------- the page


def test_page_holds_every_card_front_and_back_grouped_by_deck() -> None:
    """Each card's two sides appear verbatim under its deck's heading, with file:line."""
    cards = make_cards(CODE_CARD) + make_cards(
        """\
        ### Why group cards?
        **Answer:** To find them.

        ### What sorts decks?
        **Answer:** Their names.
        """,
        path="alpha/basics.md",
    )
    page = render_preview(cards, title="My notes")
    assert page.count('<article class="pv-item"') == 3
    for card in cards:
        front, back = render_sides(card)
        assert f'<div class="card card1">{front}</div>' in page
        assert f'<div class="card card1">{back}</div>' in page
    headings = re.findall(r"<h2>(.*?) <span", page)
    assert headings == ["Alpha::Basics", "Preview Test"]
    assert page.index("Why group cards?") < page.index("What sorts decks?") < page.index("square(3)")
    assert "notes/alpha/basics.md:1" in page and "notes/topic/notes.md:5" in page
    assert '<span id="pv-count" data-total="3">3 cards</span>' in page


def test_back_side_is_the_note_type_back_template() -> None:
    card = make_cards(CODE_CARD)[0]
    front, back = render_sides(card)
    assert front == FRONT.replace("{{Question}}", card.front)
    assert back.startswith('<div class="dlc-card">\n<div class="dlc-question">' + card.front)
    assert '<hr id="answer">' in back and card.back in back and card.discussion in back
    assert f'<div class="dlc-source">{card.source}</div>' in back


def test_discussion_box_is_absent_when_a_card_has_no_discussion() -> None:
    cards = make_cards("### Plain?\n**Answer:** Yes.\n") + make_cards(CODE_CARD)
    plain, with_discussion = (render_sides(c)[1] for c in cards)
    assert "dlc-discussion" not in plain and "Discussion" not in plain
    assert '<div class="dlc-discussion">' in with_discussion


def test_deck_names_paths_tags_and_title_are_escaped_but_fields_are_not() -> None:
    """Page text is escaped once; field HTML (already escaped by rendering) is not escaped again."""
    cards = make_cards(
        """\
        ---
        deck: "<script>alert(1)</script> & Co"
        tags: ["<b>tag</b>"]
        ---
        ### Is <b>this</b> bold?
        **Answer:** No, `a < b` & text.
        """,
        path="odd/<x>&y.md",
    )
    page = render_preview(cards, title='Notes "<i>" & more')
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
    assert "notes/odd/&lt;x&gt;&amp;y.md:5" in page
    assert "&lt;b&gt;tag&lt;/b&gt;" in page
    assert "<title>Notes &quot;&lt;i&gt;&quot; &amp; more</title>" in page
    # The question's raw HTML was escaped once by the rendering stage; it stays that way.
    assert "Is <b>this</b> bold?" in page and "&lt;b&gt;this" not in page
    assert "<code>a &lt; b</code> &amp; text" in page


def test_page_loads_nothing_from_anywhere() -> None:
    """No URL, stylesheet link, script source or import; a CSP blocks what a note might add."""
    page = render_preview(make_cards(CODE_CARD), title="Offline")
    assert not re.search(r"https?:|//[\w.-]+\.[a-z]|\bsrc\s*=|<link\b|@import|url\(", page, re.IGNORECASE)
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
    ) in page


def test_page_uses_the_note_type_css_and_anki_night_mode_classes() -> None:
    page = render_preview(make_cards(CODE_CARD), title="t")
    assert BASE_CSS in page
    assert '"nightMode"' in page and '"night_mode"' in page
    assert "prefers-color-scheme: dark" in page and '"#night"' in page


def test_math_is_shown_as_its_source_and_the_footer_says_so() -> None:
    page = render_preview(make_cards(CODE_CARD), title="t")
    assert "\\(x^2\\)" in page
    assert f'<footer class="pv-footer">{MATH_NOTE}</footer>' in page


def test_empty_preview_says_no_cards() -> None:
    page = render_preview([], title="Nothing")
    assert '<p class="pv-empty">No cards.</p>' in page and ">0 cards<" in page


# ---------------------------------------------------------------- in a real browser


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    rows: list[bytes]  # RGB, 3 bytes a pixel

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        r, g, b = self.rows[y][3 * x : 3 * x + 3]
        return r, g, b


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode_png(data: bytes) -> Png:
    """A PNG of 8-bit RGB or RGBA, not interlaced (what Chromium writes), as RGB rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length  # length, type, data, CRC
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:  # Up
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                left, upleft = (line[i - bpp], prev[i - bpp]) if i >= bpp else (0, 0)
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 255
        else:
            assert kind == 0, f"unknown PNG filter {kind}"
        prev = bytes(line)
        rows.append(prev if bpp == 3 else bytes(b for i, b in enumerate(prev) if i % 4 != 3))
    return Png(width=width, height=height, rows=rows)


def test_png_decoder_reads_every_filter() -> None:
    """The decoder against a hand-made 3x2 image using filters None, Sub, Up, Average, Paeth."""
    pixels = [bytes([10, 20, 30, 40, 50, 60, 70, 80, 90]), bytes([15, 25, 35, 255, 0, 128, 1, 2, 3])]
    for kind in range(5):
        filtered = bytearray()
        prev = bytes(9)
        for row in pixels:
            out = bytearray()
            for i, value in enumerate(row):
                left = row[i - 3] if i >= 3 else 0
                upleft = prev[i - 3] if i >= 3 else 0
                guess = [0, left, prev[i], (left + prev[i]) >> 1, _paeth(left, prev[i], upleft)][kind]
                out.append((value - guess) & 255)
            filtered += bytes([kind]) + out
            prev = row
        header = struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0)
        png = b"\x89PNG\r\n\x1a\n" + b"".join(
            struct.pack(">I", len(body)) + name + body + b"\0\0\0\0"
            for name, body in ((b"IHDR", header), (b"IDAT", zlib.compress(bytes(filtered))), (b"IEND", b""))
        )
        assert decode_png(png).rows == pixels, kind


def _hex(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i : i + 2], 16) for i in (0, 2, 4))
    return r, g, b


def _css_colour(pattern: str) -> tuple[int, int, int]:
    match = re.search(pattern + r"[^{]*\{[^}]*background-color: (#[0-9a-fA-F]{6})", BASE_CSS, re.MULTILINE)
    assert match, pattern
    return _hex(match.group(1))


# The colours the note type paints; the screenshots must show them.
CARD_LIGHT = _css_colour(r"^\.card ")
CARD_NIGHT = _css_colour(r"\.nightMode\.card")


def _pygments(style: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The code background and keyword colour of a Pygments style."""
    s = get_style_by_name(style)
    keyword = s.style_for_token(Token.Keyword)["color"]
    assert keyword, f"{style} gives keywords no colour"
    return _hex(s.background_color), _hex(keyword)


Match = Callable[[tuple[int, int, int]], bool]


def _near(colour: tuple[int, int, int], tolerance: int = 24) -> Match:
    return lambda p: all(abs(a - b) <= tolerance for a, b in zip(p, colour, strict=True))


def _card_colours(png: Png, background: tuple[int, int, int]) -> Counter[tuple[int, int, int]]:
    """How many pixels of each colour the tallest card holds. The card's padding makes a
    long vertical run of its background down its whole height: that gives its rows."""
    bg = bytes(background)
    length, top, bottom = 0, 0, 0
    for x in range(0, png.width, 4):
        run = 0
        for y, row in enumerate(png.rows):
            run = run + 1 if row[3 * x : 3 * x + 3] == bg else 0
            if run > length:
                length, top, bottom = run, y - run + 1, y
    assert length > 150, f"no card-sized area in the card background {background}"
    columns = [x for x in range(png.width) if background in (png.pixel(x, top), png.pixel(x, bottom))]
    colours: Counter[tuple[int, int, int]] = Counter()
    for row in png.rows[top : bottom + 1]:
        part = row[3 * min(columns) : 3 * max(columns) + 3]
        colours.update(zip(part[0::3], part[1::3], part[2::3], strict=True))
    return colours


def _count(colours: Counter[tuple[int, int, int]], match: Match) -> int:
    return sum(n for colour, n in colours.items() if match(colour))


@dataclass(frozen=True)
class Shots:
    light: Path
    night: Path
    dom: str


# Headless, offline and quiet: what every browser test here starts Chromium with.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--window-size=900,1200",
        *args,
    ]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Chromium did not finish within 90 s: {' '.join(command)}", pytrace=False)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    """One preview holding the code card (and two more), shot in light and night mode."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the preview's browser tests need Debian's chromium package; "
            "`make test` installs it (apt-get install chromium)",
            pytrace=False,
        )
    tmp = tmp_path_factory.mktemp("preview")
    cards = make_cards(CODE_CARD) + make_cards(
        "### What is a tensor?\n**Answer:** An array.\n\n### What is a scalar?\n**Answer:** A number.\n",
        path="zeta/terms.md",
    )
    page = tmp / "preview.html"
    page.write_text(render_preview(cards, title="Preview test"), encoding="utf-8")
    light, night = tmp / "light.png", tmp / "night.png"
    url = page.as_uri()
    jobs = {
        "light": (tmp / "p1", f"--screenshot={light}", url + "#light"),
        "night": (tmp / "p2", f"--screenshot={night}", url + "#night"),
        "dom": (tmp / "p3", "--dump-dom", url + "?q=SQUARE%20nine"),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = {name: pool.submit(_chromium, *args) for name, args in jobs.items()}
        done = {name: future.result() for name, future in results.items()}
    for name, shot in (("light", light), ("night", night)):
        assert shot.exists(), f"Chromium wrote no {name} screenshot:\n{done[name].stderr[-2000:]}"
    assert done["dom"].returncode == 0 and "<html" in done["dom"].stdout, done["dom"].stderr[-2000:]
    return Shots(light=light, night=night, dom=done["dom"].stdout)


def test_light_mode_screenshot_shows_the_card_with_dark_text_and_coloured_code(shots: Shots) -> None:
    png = decode_png(shots.light.read_bytes())
    assert (png.width, png.height) == (900, 1200)
    colours = _card_colours(png, CARD_LIGHT)
    assert colours[CARD_LIGHT] > colours.total() // 3, "the card is not mostly its light background"
    dark_text = _count(colours, lambda p: max(p) < 100)
    assert dark_text > 500, f"only {dark_text} dark text pixels on the light card"
    code_background, keyword = _pygments(LIGHT_STYLE)
    assert colours[code_background] > 5000, "no highlighted code block"
    keyword_pixels = _count(colours, _near(keyword))
    assert keyword_pixels > 30, f"only {keyword_pixels} pixels in the keyword colour {keyword}"


def test_night_mode_screenshot_shows_a_dark_card_with_light_text_and_coloured_code(shots: Shots) -> None:
    png = decode_png(shots.night.read_bytes())
    colours = _card_colours(png, CARD_NIGHT)
    assert colours[CARD_NIGHT] > colours.total() // 3, "the card is not mostly its night background"
    assert colours[CARD_LIGHT] < colours.total() // 100, "light background left in night mode"
    light_text = _count(colours, lambda p: min(p) > 170)
    assert light_text > 500, f"only {light_text} light text pixels on the night card"
    code_background, keyword = _pygments(NIGHT_STYLE)
    assert colours[code_background] > 5000, "no night-coloured code block"
    keyword_pixels = _count(colours, _near(keyword))
    assert keyword_pixels > 30, f"only {keyword_pixels} pixels in the keyword colour {keyword}"


def test_search_in_the_browser_hides_cards_without_the_words(shots: Shots) -> None:
    """?q=SQUARE nine leaves the one card holding both words, case-insensitively, and its deck."""
    items = re.findall(r'<article class="pv-item" id="card-(\d+)"( hidden="")?>', shots.dom)
    assert items == [("1", ""), ("2", ' hidden=""'), ("3", ' hidden=""')]
    assert re.findall(r'<section class="pv-deck"( hidden="")?>', shots.dom) == ["", ' hidden=""']
    assert "1 of 3 cards" in shots.dom
