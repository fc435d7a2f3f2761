"""Cards as Anki shows them: screenshots of imported cards in headless Chromium.

Each card comes from a real collection: its notes file is built with `dlcards build`,
imported with Anki's own importer, and its question or answer HTML (with the note
type's CSS) is what Anki itself renders (`card.question()`, `card.answer()`). The page
around it is Anki's reviewer's: its stylesheets, its MathJax 3 set-up (both from the
`aqt` wheel, see screens.py), the body classes `card card1` plus `nightMode night_mode`
at night, and the collection's media folder as the base URL. Every assertion reads
what the browser computed or drew; the screenshots are kept in pytest's temporary
folder (their paths are printed) for a person to look at.

`make test` installs Chromium and Anki's web files; without them these tests fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from anki.collection import Collection
from anki_import import open_collection
from screens import (
    ORANGE,
    TEAL,
    Browser,
    Reviewer,
    Rgb,
    Shot,
    anki_web_problem,
    bounding_box,
    contrast,
    count_near,
    find_note_id,
    import_packages,
    luminance,
    make_vault,
    over,
    painted,
    parse_css_colour,
    region,
    reviewer_page,
    run_cli,
    told,
)


@dataclass(frozen=True)
class Screen:
    """One card side to show: where its note comes from and which card and side it is."""

    notes_file: str
    words: str  # picks the note
    card_ord: int = 0
    side: str = "answer"


SCREENS = {
    "math": Screen(notes_file="study/math.md", words="Which formulas belong on every maths card?"),
    "code": Screen(notes_file="study/code.md", words="How does a Python function count the words"),
    "image": Screen(
        notes_file="study/shapes/triangles.md", words="Which diagram shows three corners in teal?"
    ),
    "image-markdown": Screen(notes_file="study/images.md", words="Which colour fills the diagram in the img"),
    "callout": Screen(notes_file="study/obsidian.md", words="What becomes of the Obsidian extras on a card?"),
    "cloze-question": Screen(notes_file="study/cloze.md", words="softmax", card_ord=2, side="question"),
    "cloze-answer": Screen(notes_file="study/cloze.md", words="softmax", card_ord=2, side="answer"),
}
MODES = [pytest.param(False, id="light"), pytest.param(True, id="night")]


class Screens:
    """Every screen in both modes, or why one could not be shown."""

    def __init__(self) -> None:
        self.shots: dict[tuple[str, bool], Shot] = {}
        self.missing: dict[str, str] = {}

    def __call__(self, name: str, night: bool) -> Shot:
        if name in self.missing:
            pytest.fail(f"no {name} card to show: {self.missing[name]}", pytrace=False)
        return self.shots[name, night]


def _card_html(col: Collection, screen: Screen) -> str:
    """The side Anki renders for the screen's card (CSS included); LookupError when there is none."""
    nid = find_note_id(col, screen.words)
    if nid is None:
        raise LookupError(f"no note holds {screen.words!r}")
    cards = {card.ord: card for card in (col.get_card(cid) for cid in col.get_note(nid).card_ids())}
    if screen.card_ord not in cards:
        raise LookupError(
            f"its note has no card {screen.card_ord + 1} (cards: {sorted(c + 1 for c in cards)})"
        )
    card = cards[screen.card_ord]
    html = card.question() if screen.side == "question" else card.answer()
    # As Anki's reviewer does before showing a card (prepare_card_text_for_display).
    return col.media.escape_media_filenames(html)


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Screens]:
    """Build each screen's notes file on its own (a feature still missing fails only its
    own screens), import them all into one collection, then shoot every screen in light
    and night mode in one browser."""
    problem = anki_web_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    root = tmp_path_factory.mktemp("card-screens")
    shots = root / "shots"
    shots.mkdir()
    found = Screens()
    col = open_collection(root / "anki" / "collection.anki2")
    browser = None
    try:
        built: dict[str, str | None] = {}
        with pytest.MonkeyPatch.context() as env:
            env.setenv("XDG_CACHE_HOME", str(root / "cache"))
            for notes_file in sorted({s.notes_file for s in SCREENS.values()}):
                project = root / "projects" / Path(notes_file).stem
                make_vault(project / "notes", only=(notes_file,))
                result = run_cli(project, "build")
                built[notes_file] = None if result.exit_code == 0 else f"the build failed:\n{told(result)}"
                if result.exit_code == 0:
                    log = import_packages(col, sorted((project / "decks").glob("*.apkg")))
                    assert log.trouble == 0
        html: dict[str, str] = {}
        for name, screen in SCREENS.items():
            failure = built[screen.notes_file]
            if failure is None:
                try:
                    html[name] = _card_html(col, screen)
                except LookupError as exc:
                    failure = str(exc)
            if failure is not None:
                found.missing[name] = failure
        page = root / "reviewer.html"
        page.write_text(reviewer_page(Path(col.media.dir())), encoding="utf-8")
        browser = Browser(root / "chromium-profile")
        reviewer = Reviewer(browser, page, shots)
        for name, card_html in html.items():
            for night in (False, True):
                ord_ = SCREENS[name].card_ord
                found.shots[name, night] = reviewer.show(name, card_html, night=night, card_ord=ord_)
        print(f"card screenshots in {shots}")
        yield found
    finally:
        if browser is not None:
            browser.close()
        col.close(downgrade=False)


# ---------------------------------------------------------------- helpers


def background(shot: Shot) -> Rgb:
    """The card's background as the browser computed it (the body is the card in Anki)."""
    r, g, b, alpha = parse_css_colour(shot.facts["body"]["background"])
    assert alpha == 1, f"the card background is see-through: {shot.facts['body']['background']}"
    return r, g, b


def solid(value: str, under: Rgb) -> Rgb:
    """A computed colour as it shows over `under`."""
    return over(parse_css_colour(value), under)


def ink(shot: Shot, box: dict[str, float], paper: Rgb, minimum: float = 3.0) -> int:
    """Pixels in a box that stand out from the paper colour (text, lines, glyphs)."""
    return sum(n for colour, n in region(shot.png, box).items() if contrast(colour, paper) >= minimum)


def where(shot: Shot) -> str:
    return f"(see {shot.path})"


# ---------------------------------------------------------------- every card


@pytest.mark.parametrize("night", MODES)
def test_the_card_is_painted_in_the_colours_of_its_mode(screens: Screens, night: bool) -> None:
    """Dark card with light text at night, light card with dark text by day, in the
    computed style and on the screen; the body text is easy to read (WCAG AA, 4.5:1)."""
    for name in SCREENS:
        if name in screens.missing:
            continue
        shot = screens(name, night)
        paper = background(shot)
        assert (luminance(paper) < 0.05) if night else (luminance(paper) > 0.85), (
            f"{name}: {paper} {where(shot)}"
        )
        colours = region(shot.png, {"x": 0, "y": 0, "width": shot.png.width, "height": shot.png.height})
        assert colours.most_common(1)[0][0] == paper, (
            f"{name}: the screen is not mostly {paper} {where(shot)}"
        )
        text = solid(shot.facts["body"]["color"], paper)
        assert contrast(text, paper) >= 4.5, f"{name}: text {text} on {paper} {where(shot)}"
        inked = sum(
            n
            for c, n in colours.items()
            if contrast(c, paper) >= 3 and (luminance(c) > luminance(paper)) == night
        )
        assert inked > 150, f"{name}: only {inked} pixels of text {where(shot)}"


# ---------------------------------------------------------------- math


@pytest.mark.parametrize("night", MODES)
def test_math_card_typesets_every_formula(screens: Screens, night: bool) -> None:
    """Inline, display and in-list math become MathJax output, drawn in the text colour;
    no TeX source or delimiter is left in the text a person sees."""
    shot = screens("math", night)
    math = shot.facts["math"]
    assert len(math) == 5, f"{len(math)} typeset formulas, expected 5 {where(shot)}"
    assert [m["display"] for m in math].count(True) == 1
    assert not [m for m in math if m["error"]], f"MathJax reported an error {where(shot)}"
    text = shot.facts["text"]
    for source in ("\\(", "\\)", "\\[", "\\]", "$", "\\frac", "\\sum", "^{"):
        assert source not in text, f"{source!r} is visible on the card {where(shot)}"
    paper = background(shot)
    for formula in math:
        box = formula["box"]
        assert box["width"] > 8 and box["height"] > 8, box
        assert ink(shot, box, paper) > 15, f"a formula at {box} is not drawn {where(shot)}"


# ---------------------------------------------------------------- code


@pytest.mark.parametrize("night", MODES)
def test_code_card_shows_syntax_colours_on_a_background_of_its_mode(screens: Screens, night: bool) -> None:
    """The highlighted block draws at least two distinct token colours, on a dark
    background at night and a light one by day, with readable plain code text."""
    shot = screens("code", night)
    assert len(shot.facts["code"]) == 1, f"code blocks on the card: {shot.facts['code']} {where(shot)}"
    (block,) = shot.facts["code"]
    code_bg = painted(block["layers"])
    pixels = region(shot.png, block["box"])
    assert pixels.most_common(1)[0][0] == code_bg, f"code block is not {code_bg} {where(shot)}"
    assert (luminance(code_bg) < 0.1) if night else (luminance(code_bg) > 0.7), code_bg
    plain = solid(block["color"], code_bg)
    assert contrast(plain, code_bg) >= 4.5, f"plain code text {plain} on {code_bg}"
    tokens = {solid(c, code_bg) for c in block["colours"]} - {plain, code_bg}
    drawn = {c for c in tokens if count_near(pixels, c, tolerance=12) >= 20}
    distinct = [c for c in drawn if all(not _close(c, d) for d in drawn if d != c)]
    assert len(distinct) >= 2, f"token colours drawn: {sorted(drawn)} of {sorted(tokens)} {where(shot)}"


def _close(a: Rgb, b: Rgb) -> bool:
    return all(abs(x - y) <= 12 for x, y in zip(a, b, strict=True))


def _distance(a: Rgb, b: Rgb) -> int:
    """How far apart two colours are, channel by channel (a hue shift counts too)."""
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- images


PICTURES_SHOWN = [
    pytest.param("image", TEAL, [150, 100], (300, 200), id="obsidian-width-300"),
    pytest.param("image-markdown", ORANGE, [60, 40], (60, 40), id="markdown"),
]


@pytest.mark.parametrize("night", MODES)
@pytest.mark.parametrize(("name", "colour", "natural", "shown"), PICTURES_SHOWN)
def test_image_card_shows_the_bundled_picture_at_its_size(
    screens: Screens, night: bool, name: str, colour: Rgb, natural: list[int], shown: tuple[int, int]
) -> None:
    """The picture loads from the collection's media folder and its colour fills exactly
    the box it should: `![[diagram.png|300]]` draws the 150x100 teal picture 300x200,
    `![alt](img/diagram.png)` the 60x40 orange one at its own size."""
    shot = screens(name, night)
    assert len(shot.facts["images"]) == 1, f"pictures on the card: {shot.facts['images']} {where(shot)}"
    (image,) = shot.facts["images"]
    assert image["loaded"], f"{image['src']} did not load from the media folder {where(shot)}"
    assert image["natural"] == natural
    box = image["box"]
    assert (round(box["width"]), round(box["height"])) == shown, box
    drawn = bounding_box(shot.png, colour)
    assert drawn is not None, f"no pixel of the picture's colour {colour} on the screen {where(shot)}"
    assert drawn[2:] == shown and abs(drawn[0] - box["x"]) <= 1 and abs(drawn[1] - box["y"]) <= 1, drawn
    assert region(shot.png, box)[colour] >= 0.98 * shown[0] * shown[1]


# ---------------------------------------------------------------- callouts


@pytest.mark.parametrize("night", MODES)
def test_callout_card_draws_the_callout_in_its_colours(screens: Screens, night: bool) -> None:
    """The note callout stands out from the card by a coloured border or background,
    each declared colour really drawn; its text is readable on it."""
    shot = screens("callout", night)
    callouts = shot.facts["callouts"]
    assert callouts, f"no .dlc-callout on the card {where(shot)}"
    note = callouts[0]
    assert note["tag"] == "div" and "dlc-callout-note" in note["classes"].split(), note
    assert "Keep in mind" in note["text"]
    paper = background(shot)
    box = note["box"]
    pixels = region(shot.png, box)
    fill = painted(note["layers"])
    borders = [
        parse_css_colour(b["colour"])[:3]
        for b in note["borders"]
        if b["width"] >= 2 and parse_css_colour(b["colour"])[3] == 1
    ]
    decorations = [c for c in borders if contrast(c, paper) > 1.3]
    for colour in decorations:
        drawn = count_near(pixels, colour, tolerance=6)
        assert drawn >= box["height"], f"border {colour} not drawn {where(shot)}"
    if not _close(fill, paper):
        drawn = count_near(pixels, fill, tolerance=3)  # blending rounds either way
        assert drawn >= 0.3 * box["width"] * box["height"], f"callout fill {fill} not drawn {where(shot)}"
        decorations.append(fill)
    assert decorations, f"the callout looks like the card: no border or background {where(shot)}"
    text = solid(note["color"], fill)
    assert contrast(text, fill) >= 4.5, f"callout text {text} on {fill} {where(shot)}"


@pytest.mark.parametrize("night", MODES)
def test_a_foldable_callout_starts_closed(screens: Screens, night: bool) -> None:
    shot = screens("callout", night)
    folded = [c for c in shot.facts["callouts"] if "dlc-callout-warning" in c["classes"].split()]
    assert len(folded) == 1, shot.facts["callouts"]
    assert folded[0]["tag"] == "details" and folded[0]["open"] is False
    assert "Folded away" in shot.facts["text"]
    assert "This warning starts closed." not in shot.facts["text"]


@pytest.mark.parametrize("night", MODES)
def test_highlights_are_drawn_and_readable(screens: Screens, night: bool) -> None:
    """`==text==` is a <mark> whose background shows on the screen and whose text stays
    readable on it, by day and at night (WCAG AA, 4.5:1)."""
    shot = screens("callout", night)
    marks = shot.facts["marks"]
    assert [m["text"] for m in marks] == ["highlighted", "this phrase"], f"{marks} {where(shot)}"
    paper = background(shot)
    for mark in marks:
        fill = painted(mark["layers"])
        assert _distance(fill, paper) >= 60, f"highlight {fill} hardly differs from the card {paper}"
        box = mark["box"]
        drawn = count_near(region(shot.png, box), fill, tolerance=3)
        assert drawn >= 0.3 * box["width"] * box["height"], f"highlight {fill} not drawn {where(shot)}"
        text = solid(mark["color"], fill)
        assert contrast(text, fill) >= 4.5, f"{mark['text']!r}: text {text} on {fill} {where(shot)}"


# ---------------------------------------------------------------- cloze


@pytest.mark.parametrize("night", MODES)
def test_cloze_question_hides_the_whole_formula(screens: Screens, night: bool) -> None:
    shot = screens("cloze-question", night)
    assert [c["text"] for c in shot.facts["cloze"]] == ["[...]"], f"{shot.facts['cloze']} {where(shot)}"
    assert not [m for m in shot.facts["math"] if m["inCloze"]]
    assert "logits" in shot.facts["text"] and "probabilities" in shot.facts["text"]
    assert not re.search(r"\{\{|\}\}|c\d::", shot.facts["text"]), shot.facts["text"]


@pytest.mark.parametrize("night", MODES)
def test_cloze_answer_reveals_the_typeset_formula_in_the_cloze_colour(screens: Screens, night: bool) -> None:
    """The deleted formula, whose TeX holds `}}`, comes back whole: typeset without error
    inside the cloze, drawn in the cloze colour, readable in both modes."""
    shot = screens("cloze-answer", night)
    assert len(shot.facts["cloze"]) == 1, f"cloze spans: {shot.facts['cloze']} {where(shot)}"
    (cloze,) = shot.facts["cloze"]
    inside = [m for m in shot.facts["math"] if m["inCloze"]]
    assert len(inside) == 1 and not inside[0]["error"], f"{shot.facts['math']} {where(shot)}"
    assert not re.search(r"\{\{|\}\}|c\d::|\\frac", shot.facts["text"]), shot.facts["text"]
    paper = background(shot)
    colour = solid(cloze["color"], painted(cloze["layers"]))
    assert contrast(colour, paper) >= 3, f"cloze colour {colour} on {paper}"
    assert count_near(region(shot.png, inside[0]["box"]), colour, tolerance=16) >= 10, where(shot)
