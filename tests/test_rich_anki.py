"""Rich notes through Anki's own importer: pictures, sounds, Obsidian syntax, math, code, cloze.

The fixture vault (tests/fixtures/rich, its pictures and sounds made by screens.py) is
built with the command line and imported into a fresh collection with the options Anki
desktop pre-fills. Every media file must arrive under a content-hash name and Anki's
media check must find nothing missing and nothing unused; an edited picture must
reach the collection on the next import without losing a review; and a reference that
points outside the notes, or at nothing, must stop the build with its file and line.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection
from anki.notes import Note
from anki_import import open_collection, package_notes
from screens import (
    BLUE,
    PICTURES,
    ImportLog,
    build_vault,
    find_note_id,
    import_packages,
    make_vault,
    png,
    run_cli,
    told,
)

from dlcards.notetype import CLOZE_MODEL_NAME, MODEL_NAME

GOOD = 3
QUESTIONS_IN_VAULT = 11
CLOZE_FIELDS = ["Text", "Extra", "Discussion", "Source", "ID"]

# Words that pick one note of the vault, and the picture (path under notes/) it shows.
MARKDOWN_IMAGE = "Which colour fills the diagram in the img folder?"
OBSIDIAN_FROM_ROOT = "Where does an embed with a bare file name look last?"
RAW_HTML_IMAGE = "What does a raw HTML image tag show?"
OBSIDIAN_WITH_WIDTH = "Which diagram shows three corners in teal?"
REMOTE_IMAGE = "Is a picture on the web downloaded into the deck?"
AUDIO = "What do the two sounds of this card play?"
OBSIDIAN_EXTRAS = "What becomes of the Obsidian extras on a card?"
MATH = "Which formulas belong on every maths card?"
CODE = "How does a Python function count the words of a text?"
CLOZE = "What does softmax do?"
CLOZE_FLAG = "Which optimizers average past gradients?"

PICTURE_OF = {
    MARKDOWN_IMAGE: "study/img/diagram.png",
    OBSIDIAN_FROM_ROOT: "logo.png",
    RAW_HTML_IMAGE: "study/img/photos/dot.png",
    OBSIDIAN_WITH_WIDTH: "study/shapes/diagram.png",
}

_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SRC = re.compile(r"""\ssrc=["']([^"']*)["']""", re.IGNORECASE)
_SOUND = re.compile(r"\[sound:([^\]]+)\]")


def hashed(rel: str) -> str:
    """The pattern of a media name made from a file's name and a hash of its content."""
    return re.escape(Path(rel).stem) + r"-[0-9a-f]{8,64}" + re.escape(Path(rel).suffix)


@dataclass
class Vault:
    root: Path
    files: dict[str, bytes]  # the vault's media by path under notes/
    col: Collection
    log: ImportLog

    @property
    def media(self) -> Path:
        return Path(self.col.media.dir())

    def note(self, words: str) -> Note:
        nid = find_note_id(self.col, words)
        assert nid is not None, f"no note in the collection holds {words!r}"
        return self.col.get_note(nid)


def fields_html(note: Note) -> str:
    return "\n".join(note.fields)


def image_sources(html: str) -> list[str]:
    return [m.group(1) for tag in _IMG.findall(html) if (m := _SRC.search(tag))]


def only_picture(note: Note) -> str:
    """The src of the one picture a note shows."""
    html = fields_html(note)
    sources = image_sources(html)
    assert len(sources) == 1, f"expected one picture, the fields are:\n{html}"
    return sources[0]


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    """The whole fixture vault, built once with `dlcards build` and imported into a fresh collection."""
    root = tmp_path_factory.mktemp("rich")
    files = make_vault(root / "notes")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_CACHE_HOME", str(root / "cache"))
        result = run_cli(root, "build")
    assert result.exit_code == 0, told(result)
    col = open_collection(root / "anki" / "collection.anki2")
    try:
        log = import_packages(col, sorted((root / "decks").glob("*.apkg")))
        yield Vault(root=root, files=files, col=col, log=log)
    finally:
        col.close(downgrade=False)


# ---------------------------------------------------------------- the import as a whole


def test_every_question_of_the_vault_arrives_as_a_new_note(vault: Vault) -> None:
    assert vault.log.trouble == 0
    assert vault.log.duplicate == set() and vault.log.updated == set()
    assert len(vault.log.new) == QUESTIONS_IN_VAULT == vault.col.note_count()


def test_media_check_finds_nothing_missing_and_nothing_unused(vault: Vault) -> None:
    """Anki's own media check: every file a field names is in the media folder, and
    every file in the media folder is named by a field."""
    report = vault.col.media.check()
    assert list(report.missing) == []
    assert list(report.unused) == []
    assert list(report.missing_media_notes) == []


def test_every_picture_and_sound_of_the_vault_is_in_the_media_folder(vault: Vault) -> None:
    """Each media file the notes use reaches the collection, byte for byte, under its
    own name plus a content hash; nothing else does."""
    stored = {p.name: p.read_bytes() for p in vault.media.iterdir() if p.is_file()}
    for rel, data in vault.files.items():
        named = [name for name, content in stored.items() if content == data]
        assert named, f"{rel} is not in the media folder (it holds {sorted(stored)})"
        assert all(re.fullmatch(hashed(rel), name) for name in named), named
    assert len(stored) == len(vault.files), sorted(stored)


@pytest.mark.parametrize(
    "words", list(PICTURE_OF), ids=["markdown", "obsidian-root", "raw-html", "obsidian-width"]
)
def test_each_image_syntax_points_at_its_own_picture(vault: Vault, words: str) -> None:
    """`![alt](path)`, `![[name]]`, `![[name|300]]` and `<img src>`: the field's src is
    rewritten to a file in the media folder holding that picture's bytes."""
    note = vault.note(words)
    src = only_picture(note)
    rel = PICTURE_OF[words]
    assert re.fullmatch(hashed(rel), src), src
    stored = vault.media / src
    assert stored.is_file(), f"{src} is not in the media folder"
    assert stored.read_bytes() == vault.files[rel]
    assert "![" not in fields_html(note)


def test_two_pictures_named_diagram_png_stay_two_files(vault: Vault) -> None:
    """Same file name, different folders and content: neither overwrites the other."""
    orange = only_picture(vault.note(MARKDOWN_IMAGE))
    teal = only_picture(vault.note(OBSIDIAN_WITH_WIDTH))
    assert orange != teal
    assert orange.startswith("diagram-") and teal.startswith("diagram-")
    assert (vault.media / orange).read_bytes() == vault.files["study/img/diagram.png"]
    assert (vault.media / teal).read_bytes() == vault.files["study/shapes/diagram.png"]


def test_an_obsidian_width_becomes_the_image_width(vault: Vault) -> None:
    only_picture(vault.note(OBSIDIAN_WITH_WIDTH))
    (tag,) = _IMG.findall(fields_html(vault.note(OBSIDIAN_WITH_WIDTH)))
    assert re.search(r"""\swidth=["']?300\b""", tag), tag


def test_a_remote_picture_stays_on_the_web(vault: Vault) -> None:
    """Never downloaded, never bundled: the field keeps the address."""
    html = fields_html(vault.note(REMOTE_IMAGE))
    assert "https://example.org/faraway.png" in html
    assert not [p for p in vault.media.iterdir() if "faraway" in p.name]


def test_sounds_become_sound_tags_with_their_files(vault: Vault) -> None:
    """`![[chime.wav]]` becomes `[sound:chime-<hash>.wav]`, the file in the media folder."""
    html = fields_html(vault.note(AUDIO))
    sounds = _SOUND.findall(html)
    assert len(sounds) == 2, f"expected two [sound:] tags, fields are:\n{html}"
    for name, rel in zip(sounds, ("study/chime.wav", "study/silence.mp3"), strict=True):
        assert re.fullmatch(hashed(rel), name), name
        assert (vault.media / name).read_bytes() == vault.files[rel]
    assert "![[" not in html


# ---------------------------------------------------------------- Markdown and Obsidian syntax


def test_math_reaches_anki_as_mathjax_delimiters(vault: Vault) -> None:
    """Inline, display and in-list math, as Anki's MathJax expects it."""
    answer = vault.note(MATH)["Answer"]
    assert r"\(e^{i\pi} + 1 = 0\)" in answer
    assert r"\[\sum_{k=1}^{n} k = \frac{n(n+1)}{2}\]" in answer
    assert re.search(r"<li>[^<]*\\\(a\^2 \+ b\^2 = c\^2\\\)", answer), answer
    assert "$" not in answer


def test_code_is_highlighted_and_a_hash_in_code_is_no_tag(vault: Vault) -> None:
    note = vault.note(CODE)
    assert '<div class="dlc-code">' in note["Answer"]
    assert '<span class="k">def</span>' in note["Answer"]
    assert "#notatag" in note["Answer"]
    assert sorted(note.tags) == ["code", "rich"]


def test_inline_tags_become_anki_tags(vault: Vault) -> None:
    """`#ml/optimization` becomes the nested tag `ml::optimization`; front matter tags stay."""
    tags = set(vault.note(OBSIDIAN_EXTRAS).tags)
    assert {"ml::optimization", "exam", "rich"} <= tags, sorted(tags)


def test_callouts_become_styled_blocks_and_foldable_ones_details(vault: Vault) -> None:
    answer = vault.note(OBSIDIAN_EXTRAS)["Answer"]
    assert re.search(r'<div class="dlc-callout dlc-callout-note"[^>]*>', answer), answer
    assert re.search(r'<details class="dlc-callout[^"]*dlc-callout-warning[^"]*"', answer), answer
    assert "Keep in mind" in answer and "Folded away" in answer
    assert "[!note]" not in answer and "[!warning]" not in answer


def test_highlights_wikilinks_and_comments(vault: Vault) -> None:
    """`==x==` is <mark>, `[[a|b]]` plain text, `%%...%%` gone; the same marks inside
    inline code are left as they are."""
    answer = vault.note(OBSIDIAN_EXTRAS)["Answer"]
    assert "<mark>this phrase</mark>" in answer and "<mark>highlighted</mark>" in answer
    assert "Gradient descent" in answer and "the optimizer page" in answer
    assert "[[" not in answer and "]]" not in answer
    assert "A remark for myself" not in answer and "A comment block" not in answer
    assert "<code>%%</code>" in answer and "<code>==</code>" in answer
    assert "<td>comment</td>" in answer.replace("\n", "").replace("  ", "")


def test_harmless_raw_html_is_kept(vault: Vault) -> None:
    answer = vault.note(OBSIDIAN_EXTRAS)["Answer"]
    for kept in ("H<sub>2</sub>O", "s<sup>2</sup>", "<kbd>Ctrl</kbd>", "<summary>More</summary>"):
        assert kept in answer, f"{kept} missing from:\n{answer}"
    assert "<details>" in answer and "&lt;" not in answer


# ---------------------------------------------------------------- cloze


def cloze_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\{\{c(\d+)::", text)}


def assert_cloze_note(vault: Vault, words: str) -> tuple[Note, set[int]]:
    note = vault.note(words)
    notetype: dict[str, Any] = note.note_type() or {}
    assert notetype.get("name") == CLOZE_MODEL_NAME, f"a {notetype.get('name')!r} note, not a cloze"
    assert [f["name"] for f in notetype["flds"]] == CLOZE_FIELDS
    numbers = cloze_numbers(note["Text"])
    ords = {vault.col.get_card(cid).ord for cid in note.card_ids()}
    assert ords == {n - 1 for n in numbers}, "one card per cloze number"
    return note, numbers


def test_a_section_with_cloze_deletions_is_a_cloze_note_with_a_card_per_number(vault: Vault) -> None:
    _, numbers = assert_cloze_note(vault, CLOZE)
    assert numbers == {1, 2, 3}
    assert {n.name for n in vault.col.models.all_names_and_ids()} >= {MODEL_NAME, CLOZE_MODEL_NAME}


def test_highlights_in_a_cloze_file_become_cloze_deletions(vault: Vault) -> None:
    """Front matter `cloze: true`: `==Momentum==` is a deletion, not a highlight."""
    note, numbers = assert_cloze_note(vault, CLOZE_FLAG)
    assert numbers
    assert "==" not in note["Text"] and "<mark>" not in note["Text"]
    assert "Momentum" in note["Text"] and "Adam" in note["Text"]


def test_math_holding_closing_braces_survives_inside_a_cloze(vault: Vault) -> None:
    """`{{c3::$..e^{z_{j}}}$}}`: the `}}` of the TeX does not end the deletion early, so
    Anki shows the whole formula on the answer and hides all of it on the question."""
    note, _ = assert_cloze_note(vault, CLOZE)
    (card,) = [vault.col.get_card(cid) for cid in note.card_ids() if vault.col.get_card(cid).ord == 2]
    answer = card.answer()
    revealed = re.findall(r'<span class="cloze"[^>]*>(.*?)</span>', answer, re.DOTALL)
    assert len(revealed) == 1, answer
    assert re.sub(r"\s", "", revealed[0]) == r"\(\frac{e^{z_i}}{\sum_{j}e^{z_{j}}}\)", revealed[0]
    question = card.question()
    assert "[...]" in question
    assert r"\frac" not in question and "}}" not in re.sub(r"<style>.*?</style>", "", question, flags=re.S)


# ---------------------------------------------------------------- an edited picture


def _scheduling(col: Collection) -> dict[int, tuple[Any, ...]]:
    rows = col.db.all("select id, did, ord, type, queue, due, ivl, factor, reps, lapses from cards")
    return {row[0]: tuple(row[1:]) for row in rows}


def test_an_edited_picture_reaches_anki_on_reimport_and_keeps_the_reviews(tmp_path: Path) -> None:
    """Repaint img/diagram.png and rebuild: the re-import updates that one note (no
    duplicate), its field names a new file with the new bytes, and its reviews stay."""
    files = make_vault(tmp_path / "notes")
    col = open_collection(tmp_path / "anki" / "collection.anki2")
    try:
        first = import_packages(col, build_vault(tmp_path))
        assert first.trouble == 0 and len(first.new) == QUESTIONS_IN_VAULT
        nid = find_note_id(col, MARKDOWN_IMAGE)
        assert nid is not None
        note = col.get_note(nid)
        old_src = only_picture(note)
        assert (Path(col.media.dir()) / old_src).read_bytes() == files["study/img/diagram.png"]
        for cid in note.card_ids():
            card = col.get_card(cid)
            card.start_timer()
            col.sched.answerCard(card, GOOD)  # type: ignore[arg-type]
        scheduling, revlog = _scheduling(col), col.db.all("select * from revlog order by id")
        assert len(revlog) == len(note.card_ids())

        picture = PICTURES["study/img/diagram.png"]
        repainted = png(picture.width, picture.height, BLUE)
        (tmp_path / "notes/study/img/diagram.png").write_bytes(repainted)
        second = import_packages(col, build_vault(tmp_path))

        guid = col.get_note(nid).guid
        assert (second.new, second.updated, second.trouble) == (set(), {guid}, 0)
        assert col.note_count() == QUESTIONS_IN_VAULT
        new_src = only_picture(col.get_note(nid))
        assert new_src != old_src and new_src.startswith("diagram-")
        assert (Path(col.media.dir()) / new_src).read_bytes() == repainted
        assert _scheduling(col) == scheduling
        assert col.db.all("select * from revlog order by id") == revlog
        report = col.media.check()
        assert list(report.missing) == []
        assert list(report.unused) == [old_src], "only the old picture is left over"
    finally:
        col.close(downgrade=False)


# ---------------------------------------------------------------- hostile references

FINE = """\
### Which picture is fine?

**Answer:** This one: ![a fine picture](img/fine.png)
"""

HOSTILE = """\
### Which file does this picture show?

**Answer:** Nothing from outside the notes:

{reference}
"""
HOSTILE_LINE = 5

HOSTILE_REFERENCES = {
    "dot-dot-to-etc-passwd": "![x](../../etc/passwd)",
    "dot-dot-to-a-real-file": "![x](../secret.png)",
    "absolute-path": "![x]({root}/secret.png)",
    "symlink-out": "![x](img/link.png)",
    "missing-file": "![x](img/nowhere.png)",
    "obsidian-dot-dot": "![[../secret.png]]",
    "obsidian-missing": "![[nowhere.png]]",
    "html-dot-dot": '<img src="../secret.png">',
    "sound-dot-dot": "![[../secret.wav]]",
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.mark.parametrize("reference", list(HOSTILE_REFERENCES.values()), ids=list(HOSTILE_REFERENCES))
def test_a_reference_outside_the_notes_or_to_nothing_stops_the_build(tmp_path: Path, reference: str) -> None:
    """Exit 1, an error naming the file and line of the reference, and decks/ exactly as the
    last good build left it: a deck must never carry a file from elsewhere on the disk."""
    notes = tmp_path / "notes"
    (notes / "img").mkdir(parents=True)
    (notes / "img/fine.png").write_bytes(png(4, 4, BLUE))
    (notes / "fine.md").write_text(FINE, encoding="utf-8")
    (tmp_path / "secret.png").write_bytes(png(4, 4, (1, 2, 3)))
    (tmp_path / "secret.wav").write_bytes(b"RIFF")
    (notes / "img/link.png").symlink_to(tmp_path / "secret.png")
    good = run_cli(tmp_path, "build")
    assert good.exit_code == 0, told(good)
    before = _snapshot(tmp_path / "decks")

    (notes / "hostile.md").write_text(
        HOSTILE.format(reference=reference.format(root=tmp_path)), encoding="utf-8"
    )
    result = run_cli(tmp_path, "build")
    assert result.exit_code == 1, told(result)
    assert f"error: notes/hostile.md:{HOSTILE_LINE}:" in result.output, result.output
    assert _snapshot(tmp_path / "decks") == before


SANITIZE = """\
### Which raw HTML survives on a card?

**Answer:** Harmless tags stay: H<sub>2</sub>O, x<sup>2</sup> and <kbd>Esc</kbd>.

<script>document.title = "pwned"</script>
<img src="img/fine.png" onerror="document.title = 'pwned'">
<a href="javascript:alert(1)">a trap</a> and <a href="https://example.org/" onclick="alert(1)">a link</a>
<iframe src="https://example.org/"></iframe>
<svg><script>alert(1)</script></svg>
<div style="background:url(javascript:alert(1))">styled</div>
"""


class _Tags(HTMLParser):
    """The elements and attributes a browser would really build from some HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def test_raw_html_is_sanitized_to_harmless_tags(tmp_path: Path) -> None:
    """script, on* handlers, javascript: URLs and iframes never reach a field as markup;
    sub, sup and kbd do."""
    notes = tmp_path / "notes"
    (notes / "img").mkdir(parents=True)
    (notes / "img/fine.png").write_bytes(png(4, 4, BLUE))
    (notes / "html.md").write_text(SANITIZE, encoding="utf-8")
    result = run_cli(tmp_path, "build")
    assert result.exit_code == 0, told(result)
    (fields,) = package_notes(tmp_path / "decks/html.apkg").values()
    html = "\n".join(fields)
    parsed = _Tags()
    parsed.feed(html)
    assert not {"script", "iframe", "object", "embed"} & set(parsed.tags), parsed.tags
    assert not [name for name, _ in parsed.attributes if name.startswith("on") or name == "style"]
    assert not [v for _, v in parsed.attributes if re.sub(r"\s", "", v).lower().startswith("javascript:")]
    for kept in ("H<sub>2</sub>O", "x<sup>2</sup>", "<kbd>Esc</kbd>", "a trap", "a link"):
        assert kept in html, f"{kept} missing from:\n{html}"


IN_CODE = """\
### How do you write a picture in Markdown?

**Answer:** Like `![[../secret.png]]` or `<img src="/etc/passwd">`, or as a block:

```markdown
![x](../../etc/passwd)
![[nowhere.png]]
```
"""


def test_references_inside_code_are_only_text(tmp_path: Path) -> None:
    """Code shows a reference, it bundles nothing: no error, no media file."""
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/syntax.md").write_text(IN_CODE, encoding="utf-8")
    (tmp_path / "secret.png").write_bytes(png(4, 4, BLUE))
    result = run_cli(tmp_path, "build")
    assert result.exit_code == 0, told(result)
    with zipfile.ZipFile(tmp_path / "decks/syntax.apkg") as package:
        assert json.loads(package.read("media")) == {}
    (fields,) = package_notes(tmp_path / "decks/syntax.apkg").values()
    shown = unescape(re.sub(r"<[^>]*>", "", fields[1]))
    for text in (
        "![[../secret.png]]",
        '<img src="/etc/passwd">',
        "![x](../../etc/passwd)",
        "![[nowhere.png]]",
    ):
        assert text in shown, f"{text} is not shown as code:\n{fields[1]}"
