"""Adversarial checks of rich notes: media references, the sanitizer's output as a
browser reads it, cloze detection, `dlcards check` against `dlcards build`, and what
Anki's own importer makes of the result.

Tests marked "defect" fail on the code they were written against and pass once the
defect they name is fixed; the others pin behaviour that was verified to work and had
no test yet.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from anki.collection import Collection
from anki_import import open_collection
from click.testing import Result
from conftest import Project
from screens import import_packages, run_cli, told

from dlcards.build import BuildOptions, sound_cards
from dlcards.errors import BuildFailed
from dlcards.model import Card

PNG = b"\x89PNG\r\n\x1a\n" + b"adversarial picture"
OTHER_PNG = b"\x89PNG\r\n\x1a\n" + b"another picture"

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r'\ssrc="([^"]*)"')


def _cards(project: Project) -> list[Card]:
    cards, _ = sound_cards(BuildOptions(notes_dir=project.notes, decks_dir=project.decks))
    return cards


def _errors(project: Project) -> list[tuple[int, str]]:
    with pytest.raises(BuildFailed) as failed:
        _cards(project)
    return [(p.line, p.message) for p in failed.value.problems]


def _put(project: Project, rel: str, data: bytes) -> Path:
    path = project.notes / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _cli(project: Project, *args: str) -> Result:
    return run_cli(project.root, *args)


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), told(result)


def _fields(card: Card) -> str:
    return "\n".join((card.front, card.back, card.discussion))


def _collection(tmp_path: Path) -> Collection:
    return open_collection(tmp_path / "anki" / "collection.anki2")


# ------------------------------------------------------------------- remote pictures


# Each of these is a picture on the web for a browser: WHATWG URL parsing reads
# `https:host` (base of another scheme), `https:/host` and `https:\\host` as
# `https://host` (checked with node's `new URL(src, "http://127.0.0.1:40000/")`, the
# base Anki desktop's webview uses; `https:\\host` also against AnkiDroid's
# `https://appassets.androidplatform.net/`).
SCHEME_TRICKS = {
    "markdown-no-slash": "![x](https:evil.example/pixel.png)",
    "markdown-one-slash": "![x](https:/evil.example/pixel.png)",
    "markdown-backslashes": "![x](https:\\\\evil.example/pixel.png)",
    "html-no-slash": '<img src="https:evil.example/pixel.png">',
    "html-backslashes": '<img src="https:\\\\evil.example/pixel.png">',
    "html-upper-one-slash": '<IMG SRC="HTTPS:/evil.example/pixel.png">',
    "embed-no-slash": "![[https:evil.example/pixel.png]]",
}


@pytest.mark.parametrize("reference", list(SCHEME_TRICKS.values()), ids=list(SCHEME_TRICKS))
def test_a_web_picture_spelled_without_two_slashes_is_never_fetched(
    project: Project, reference: str
) -> None:
    """Once a defect: media._image (and render._CardRenderer.image) only treat `http(s)://` and
    `//` as remote. `https:evil.example/x.png` passes nh3 (a valid https URL), is left
    as `<img src=...>` by the media stage (`_SCHEME` matches: "nothing to bundle"), and
    Anki's webview fetches it on every review: a tracking pixel in a shared deck."""
    project.write("web.md", f"## Is this picture fetched?\n\n**Answer:** No: {reference}\n")
    (card,) = _cards(project)
    for tag in _IMG.findall(_fields(card)):
        src = _SRC.search(tag)
        if src is not None:
            value = re.sub(r"[\t\n\r ]", "", src.group(1)).lower()
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", value), f"a picture with a URL scheme stays: {tag}"


def test_a_protocol_relative_picture_becomes_a_link(project: Project) -> None:
    project.write(
        "web.md", '## Is this fetched?\n\n**Answer:** No: <img src="//evil.example/p.png" alt="p">\n'
    )
    (card,) = _cards(project)
    assert "<img" not in card.back
    assert '<a href="//evil.example/p.png">p</a>' in card.back


# ------------------------------------------------------------------- local paths


def test_a_symlink_loop_is_an_error_not_a_traceback(project: Project) -> None:
    """Once a defect: media._Resolver.find calls Path.resolve(), which raises RuntimeError
    ("Symlink loop") on Python 3.11/3.12; `dlcards build` and `dlcards check` crash."""
    (project.notes / "a.png").symlink_to("b.png")
    (project.notes / "b.png").symlink_to("a.png")
    project.write("loop.md", "## What does the loop show?\n\n**Answer:** ![x](a.png)\n")
    for command in ("build", "check"):
        result = _cli(project, command)
        _no_traceback(result)
        assert result.exit_code == 1, told(result)
        assert "notes/loop.md:3:" in result.output, told(result)


def test_a_bare_embed_next_to_a_symlink_loop_is_an_error_not_a_traceback(project: Project) -> None:
    """Once a defect: media._Resolver._anywhere resolves every file of the embed's name."""
    (project.notes / "sub").mkdir()
    (project.notes / "sub/self.png").symlink_to("self.png")
    project.write("loop.md", "## What does the loop show?\n\n**Answer:** ![[self.png]]\n")
    result = _cli(project, "build")
    _no_traceback(result)
    assert result.exit_code == 1, told(result)


ABSOLUTE_SILENTLY_DROPPED = {
    "file-url-markdown": "![x](file:///etc/passwd)",
    "file-url-html": '<img src="file:///etc/hostname">',
    "windows-drive-markdown": "![x](C:/Users/me/pic.png)",
    "windows-drive-html": '<img src="C:\\Users\\me\\pic.png">',
}


@pytest.mark.parametrize(
    "reference", list(ABSOLUTE_SILENTLY_DROPPED.values()), ids=list(ABSOLUTE_SILENTLY_DROPPED)
)
def test_a_picture_on_an_absolute_path_is_an_error_not_an_empty_image(
    project: Project, reference: str
) -> None:
    """Once a defect: the README promises an error for an absolute path; nh3 strips a `file:`
    or `C:` src first (not an allowed scheme), so the card silently shows `<img>` with
    no picture and media._Resolver.find never sees the path."""
    project.write("abs.md", f"## Which picture is this?\n\n**Answer:** {reference}\n")
    errors = _errors(project)
    assert [line for line, _ in errors] == [3], errors


def test_an_alt_text_cannot_pick_the_file_a_picture_bundles(project: Project) -> None:
    """Once a defect: media._SRC also accepts single-quoted values and finds the first ` src=`
    anywhere in the tag, including inside a double-quoted alt. The alt's file is
    bundled and rewritten inside the alt; the real src stays unresolved (a broken
    picture, and Check Media reports it missing)."""
    _put(project, "real.png", PNG)
    _put(project, "decoy.png", OTHER_PNG)
    project.write(
        "alt.md", '## Which picture?\n\n**Answer:** <img alt="see src=\'decoy.png\' " src="real.png">\n'
    )
    (card,) = _cards(project)
    assert [m.path.name for m in card.media] == ["real.png"]
    (tag,) = _IMG.findall(card.back)
    src = _SRC.findall(tag)[-1]
    assert src.startswith("real-"), tag


@pytest.mark.parametrize("reference", ["![x](%2e%2e/%2e%2e/etc/passwd)", "![x](..%2F..%2Fsecret.png)"])
def test_percent_encoded_dot_dot_is_refused(project: Project, reference: str) -> None:
    (project.root / "secret.png").write_bytes(PNG)
    project.write("enc.md", f"## Which file?\n\nSee below.\n\n**Answer:**\n\n{reference}\n")
    errors = _errors(project)
    assert len(errors) == 1 and "outside the notes folder" in errors[0][1], errors


@pytest.mark.parametrize("reference", ["![x](%2e%2e/%2e%2e/etc/passwd)", "![x](..%2F..%2Fmissing.png)"])
def test_an_error_for_a_percent_encoded_reference_names_its_line(
    project: Project, reference: str
) -> None:
    """Once a defect: media._line_of looks for the decoded target (and `quote()` of it, which
    never re-encodes `.` or matches lowercase escapes) in the raw file, finds nothing
    and falls back to the heading's line 1. The reference is on line 7."""
    project.write("enc.md", f"## Which file?\n\nSee below.\n\n**Answer:**\n\n{reference}\n")
    errors = _errors(project)
    assert [line for line, _ in errors] == [7], errors


def test_the_same_picture_three_ways_is_one_file_and_two_names_with_one_content_are_two(
    project: Project,
) -> None:
    _put(project, "img/a.png", PNG)
    _put(project, "img/b.png", PNG)
    project.write(
        "many.md",
        "## What do the pictures show?\n\n**Answer:** ![x](img/a.png) ![y](./img/a.png) ![[a.png]]"
        " ![z](img/b.png)\n",
    )
    (card,) = _cards(project)
    names = [m.name for m in card.media]
    assert len(names) == 2 and names[0].startswith("a-") and names[1].startswith("b-")
    assert names[0][2:] == names[1][2:], "same content, same hash"
    assert card.back.count(f'src="{names[0]}"') == 3


# ------------------------------------------------------------------- sounds


def test_a_sound_tag_inside_code_is_no_sound_in_anki(project: Project, tmp_path: Path) -> None:
    """Once a defect: media._rewrite leaves `[sound:x]` inside <code>/<pre> alone ("code shows
    text"), but Anki reads `[sound:...]` anywhere in a field: the card gets a play
    button for a file that does not exist and Tools > Check Media lists it missing,
    against the README's "Check Media finds nothing missing". A note about Anki itself
    writes exactly this."""
    project.write(
        "anki.md",
        "## How do you put audio on an Anki card?\n\n**Answer:** Write `[sound:clip.mp3]` in a field:\n\n"
        "```\n[sound:other.mp3]\n```\n",
    )
    result = _cli(project, "build")
    assert result.exit_code == 0, told(result)
    col = _collection(tmp_path)
    try:
        log = import_packages(col, sorted(project.decks.glob("*.apkg")))
        assert log.trouble == 0
        (cid,) = col.find_cards("")
        card = col.get_card(cid)
        output = card.render_output(reload=True)
        assert list(output.question_av_tags) == [] and list(output.answer_av_tags) == []
        assert list(col.media.check().missing) == []
        assert "clip.mp3" in card.answer(), "the code still shows its text"
    finally:
        col.close(downgrade=False)


# ------------------------------------------------------------------- check vs build


CHECK_MISSES = {
    "image-tag": '<image src="missing.png">',
    "entity-sound": "&#91;sound:missing.mp3]",
}


@pytest.mark.parametrize("reference", list(CHECK_MISSES.values()), ids=list(CHECK_MISSES))
def test_check_reports_every_media_error_that_build_stops_on(project: Project, reference: str) -> None:
    """Once a defect: check.media_problems only renders questions whose Markdown matches
    `![`, `<img` or `[sound:`. html5ever turns `<image>` into `<img>` and decodes
    `&#91;` to `[`, so the build finds a reference (and stops) that check never looks at."""
    project.write("m.md", f"## What does it show?\n\n**Answer:** {reference}\n")
    build = _cli(project, "build")
    assert build.exit_code == 1 and "notes/m.md:3:" in build.output, told(build)
    check = _cli(project, "check")
    assert check.exit_code == 1, told(check)
    assert "notes/m.md:3:" in check.output, told(check)


# ------------------------------------------------------------------- cloze detection


def test_double_equals_in_math_does_not_make_a_heading_a_card(project: Project) -> None:
    """Once a defect: parse._holds_cloze looks for `==x==` in the raw section (skipping only
    code), so with `cloze: true` the math `$x==y$ and $y==z$` makes the topic heading
    'Equality notes' a question. Rendering (cloze.number_clozes, which skips math)
    finds no deletion, and a basic card with no answer label is made, silently."""
    project.write(
        "eq.md",
        "---\ncloze: true\n---\n## Which optimizer averages gradients?\n\n==Momentum== does.\n\n"
        "## Equality notes\n\nWe have $x==y$ and $y==z$.\n",
    )
    titles = [c.question.title for c in _cards(project)]
    assert titles == ["Which optimizer averages gradients?"]


def test_a_cloze_opener_inside_math_does_not_make_a_heading_a_card(project: Project) -> None:
    """Once a defect: the same for `{{c1::` inside math: parse sees a cloze, render does not."""
    project.write(
        "eq.md",
        "## Softmax\n\nIt maps {{c1::logits}} to probabilities.\n\n## Template notes\n\n"
        "We write $x={{c1::y}}$ in TeX.\n",
    )
    titles = [c.question.title for c in _cards(project)]
    assert titles == ["Softmax"]


def test_a_cloze_in_the_heading_over_plain_text_makes_a_cloze_note(project: Project) -> None:
    """Once a defect: the README says a heading over cloze text needs no answer label, and the
    renderer puts a title's deletions in Text; but parse._Parser._finish moves the
    prompt into the answer only when the *prompt* holds a cloze, so a cloze in the
    heading alone leaves an empty answer: no card, and a misleading warning."""
    project.write("t.md", "## The {{c1::softmax}} turns logits into probabilities\n\nSee the paper.\n")
    result = _cli(project, "build")
    assert result.exit_code == 0, told(result)
    assert "empty answer" not in result.output
    (card,) = _cards(project)
    # The deletion is in the heading: the text under it holds none, so it is the Extra.
    assert card.kind == "cloze" and "{{c1::softmax}}" in card.front and "See the paper." in card.back


@pytest.mark.parametrize(
    "text",
    ["The {{c0::zeroth}} thing.", "The {{c1::first}} and the {{c501::last}} thing."],
    ids=["c0-alone", "c501"],
)
def test_a_cloze_number_anki_does_not_accept_is_refused_or_left_as_text(
    project: Project, tmp_path: Path, text: str
) -> None:
    """Once a defect: cloze._MARKER accepts any number. Anki makes no card for `{{c0::...}}`
    (a note holding only c0 gets one empty card, listed by Tools > Empty Cards) and
    reads every number above 500 as 500: `{{c501::...}}` gives a card (ord 500) Anki
    calls empty, and Anki adds the card it expects (ord 499) on the next edit.
    Expected: an error at the line, or no empty cards."""
    project.write("z.md", f"## Numbers\n\n{text}\n")
    result = _cli(project, "build")
    if result.exit_code == 1:
        assert "notes/z.md:3:" in result.output, told(result)
        return
    assert result.exit_code == 0, told(result)
    col = _collection(tmp_path)
    try:
        assert import_packages(col, sorted(project.decks.glob("*.apkg"))).trouble == 0
        assert list(col.get_empty_cards().notes) == []
        before = col.card_count()
        col.after_note_updates(list(col.find_notes("")), mark_modified=False, generate_cards=True)
        assert col.card_count() == before, "Anki would make cards the package did not have"
    finally:
        col.close(downgrade=False)


def test_cloze_cards_are_exactly_the_ones_anki_generates(project: Project, tmp_path: Path) -> None:
    """Nested deletions, gaps in the numbering, hints with `::`, math with `}}` in a
    list, a callout, a table and a title: the package holds exactly the cards Anki
    itself would generate, and none of them is empty."""
    project.write(
        "c.md",
        "## Nested\n\n{{c1::outer {{c2::inner}} end}} text.\n\n"
        "## Gap\n\n{{c1::a}} and {{c3::b::a hint::with colons}}.\n\n"
        "## Title $a^{b}}$ {{c1::x}}\n\n"
        "- item {{c2::$\\mathbf{x}}$}}\n"
        "- > [!note] T {{c3::in a callout $a_{b}}$}}\n\n"
        "| a | b |\n|---|---|\n| {{c4::$x_{y}}$}} | 2 |\n",
    )
    result = _cli(project, "build")
    assert result.exit_code == 0, told(result)
    col = _collection(tmp_path)
    try:
        assert import_packages(col, sorted(project.decks.glob("*.apkg"))).trouble == 0
        ords = {
            col.get_note(nid).fields[0].split("</div>")[0]: sorted(
                col.get_card(cid).ord for cid in col.get_note(nid).card_ids()
            )
            for nid in col.find_notes("")
        }
        assert sorted(ords.values()) == [[0, 1], [0, 1, 2, 3], [0, 2]], ords
        assert list(col.get_empty_cards().notes) == []
        before = col.card_count()
        col.after_note_updates(list(col.find_notes("")), mark_modified=False, generate_cards=True)
        assert col.card_count() == before
    finally:
        col.close(downgrade=False)


# ------------------------------------------------------------------- kind switches in Anki


def test_a_pinned_question_turned_cloze_and_back_keeps_its_first_note_in_anki(
    project: Project, tmp_path: Path
) -> None:
    """basic -> cloze -> basic under one `<!-- id: -->`: the cloze is a new note, the
    basic one comes back to its own guid, and after three imports Anki holds two notes:
    the basic one untagged, the cloze one tagged dlcards::removed."""
    basic = "## Softmax\n<!-- id: soft -->\n\n**Answer:** turns logits into probabilities.\n"
    cloze = "## Softmax\n<!-- id: soft -->\n\n**Answer:** turns {{c1::logits}} into probabilities.\n"
    packages = []
    for n, text in enumerate((basic, cloze, basic)):
        project.write("a.md", text)
        project.clock.advance()
        project.build()
        copy = tmp_path / f"v{n}.apkg"
        copy.write_bytes((project.decks / "a.apkg").read_bytes())
        packages.append(copy)
    col = _collection(tmp_path)
    try:
        first = import_packages(col, packages[:1])
        (basic_guid,) = first.new
        rest = import_packages(col, packages[1:])
        assert rest.trouble == 0
        notes = {col.get_note(nid).guid: col.get_note(nid) for nid in col.find_notes("")}
        assert len(notes) == 2 and basic_guid in notes
        kinds = {guid: (note.note_type() or {})["name"] for guid, note in notes.items()}
        (cloze_guid,) = set(notes) - {basic_guid}
        assert kinds[basic_guid] == "dlcards Q&A" and kinds[cloze_guid] == "dlcards Cloze"
        assert notes[basic_guid].tags == [] and "dlcards::removed" in notes[cloze_guid].tags
        assert "Removed from your notes" not in notes[basic_guid]["Answer"]
    finally:
        col.close(downgrade=False)


# ------------------------------------------------------------------- removed notes' media


def test_a_removed_note_carries_the_picture_it_shows(project: Project, tmp_path: Path) -> None:
    """Once a defect: a removed question stays in its package with its last fields, which name
    its picture, but the package no longer carries the file (package.package_media
    only collects the media of current cards). Imported into a collection that never
    saw the earlier package, Check Media lists the picture missing."""
    _put(project, "p.png", PNG)
    project.write("a.md", "## Keep?\n\n**Answer:** yes\n\n## Picture?\n\n**Answer:** ![x](p.png)\n")
    project.build()
    project.write("a.md", "## Keep?\n\n**Answer:** yes\n")
    project.clock.advance()
    project.build()
    col = _collection(tmp_path)
    try:
        assert import_packages(col, sorted(project.decks.glob("*.apkg"))).trouble == 0
        assert list(col.media.check().missing) == []
    finally:
        col.close(downgrade=False)
