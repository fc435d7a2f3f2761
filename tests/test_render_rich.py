"""Rich notes, render side: sanitized raw HTML, pictures and sounds, Obsidian syntax
(wikilinks, highlights, comments, callouts, inline tags), math and cloze deletions.

The round trip through Anki's importer is test_rich_anki.py; here each rule of the
renderer is pinned on its own, with exact HTML where the form matters (the media stage
and Anki read it with regular expressions) and by structure where it does not."""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcards import render
from dlcards.cloze import is_cloze, protect_tex
from dlcards.markdown import parse_blocks, strip_comments
from dlcards.model import Card, Question
from dlcards.notetype import BASE_CSS
from dlcards.obsidian import CALLOUT_TYPES, SOUND_EXTENSIONS
from dlcards.render import inline_tags, render_card, render_markdown
from dlcards.sanitize import ALLOWED_TAGS, sanitize_html

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def question(
    answer: str,
    *,
    title: str = "What is it?",
    prompt: str = "",
    discussion: str = "",
    cloze_highlights: bool = False,
) -> Question:
    return Question(
        path="topic/notes.md",
        display_path="notes/topic/notes.md",
        line=1,
        deck="Topic",
        tags=(),
        title=title,
        prompt=prompt,
        answer=answer,
        discussion=discussion,
        cloze_highlights=cloze_highlights,
    )


def card(
    answer: str,
    *,
    title: str = "What is it?",
    prompt: str = "",
    discussion: str = "",
    highlights: bool = False,
) -> Card:
    return render_card(
        question(answer, title=title, prompt=prompt, discussion=discussion, cloze_highlights=highlights)
    )


class _Structure(HTMLParser):
    """An HTML text as a list of events: tags with their attributes, and text (entities
    decoded, adjacent pieces joined), so two spellings of one document compare equal."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, ...]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, *(f"{k}={v or ''}" for k, v in attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "text":
            self.events[-1] = ("text", self.events[-1][1] + data)
        else:
            self.events.append(("text", data))


def structure(html_text: str) -> list[tuple[str, ...]]:
    parser = _Structure()
    parser.feed(html_text)
    parser.close()
    return parser.events


def tags_and_attributes(html_text: str) -> list[tuple[str, dict[str, str]]]:
    return [(e[1], dict(a.split("=", 1) for a in e[2:])) for e in structure(html_text) if e[0] == "start"]


# ---------------------------------------------------------------- sanitizing

HOSTILE = {
    "script": ("<script>alert(1)</script>after", "after"),
    "script in a paragraph": ("a <script>alert(1)</script> b", "<p>a  b</p>"),
    "style tag": ("<style>p { color: red }</style>after", "after"),
    "onerror on an image": ("<img src=x onerror=alert(1)>", '<img src="x">'),
    "onclick on a paragraph": ('<p onclick="alert(1)">text</p>', "<p>text</p>"),
    "javascript link": ('<a href="javascript:alert(1)">x</a>', "<p><a>x</a></p>"),
    "javascript in capitals": ('<a href="JaVaScRiPt:alert(1)">x</a>', "<p><a>x</a></p>"),
    "javascript behind an entity": ('<a href="&#106;avascript:alert(1)">x</a>', "<p><a>x</a></p>"),
    "javascript split by a tab": ('<a href="java&#x09;script:alert(1)">x</a>', "<p><a>x</a></p>"),
    "vbscript link": ('<a href="vbscript:msgbox(1)">x</a>', "<p><a>x</a></p>"),
    "markdown javascript link": ("[x](javascript:alert(1))", '<p><a href="#harmful-link">x</a></p>'),
    # No scheme left to fetch or run: the media stage refuses such a "file" with its line.
    "data image": (
        '<img src="data:image/png;base64,AAAA" alt="d">',
        '<img src="data%3Aimage/png;base64,AAAA" alt="d">',
    ),
    "markdown data image": (
        "![d](data:image/png;base64,AAAA)",
        '<p><img src="data%3Aimage/png;base64,AAAA" alt="d"></p>',
    ),
    "iframe": ('<iframe src="https://example.org/"></iframe>', ""),
    "object and embed": ('<object data="x.swf"></object><embed src="x.swf">', "<p></p>"),
    "form": ('<form action="https://example.org/"><input name="a"><button>go</button></form>', "go"),
    "svg with script": ("<svg onload=alert(1)><script>alert(2)</script></svg>", "<p></p>"),
    "style and id attributes": (
        '<span style="position:fixed" id="answer" class="box">x</span>',
        '<p><span class="box">x</span></p>',
    ),
    "base and meta": ('<base href="https://example.org/"><meta http-equiv="refresh" content="0">', ""),
    "broken nesting": ("<scr<script>ipt>alert(1)</script>", "<p>&lt;scr</p>"),
    "doubled brackets": ("<<script>script>alert(1)<</script>/script>", "<p>&lt;/script&gt;</p>"),
    "unclosed div": ("<div>\nopen", "<div>\nopen</div>"),
    "stray closing tags": ("</div></div>text", "text"),
}


@pytest.mark.parametrize("markdown, expected", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_html_is_reduced_to_harmless_html(markdown: str, expected: str) -> None:
    assert render_markdown(markdown) == expected


HARMLESS = [
    "H<sub>2</sub>O and s<sup>2</sup>",
    "line<br>break",
    "<kbd>Ctrl</kbd>+<kbd>C</kbd>",
    "<mark>marked</mark>",
    '<abbr title="HyperText Markup Language">HTML</abbr>',
    "<ins>in</ins> <del>out</del> <s>struck</s> <u>under</u> <small>small</small>",
    '<span class="note">span</span>',
    '<a href="https://example.org/" title="Example">site</a>',
    '<a href="mailto:me@example.org">mail</a>',
    '<a href="other/page.html">relative</a>',
]


@pytest.mark.parametrize("html_text", HARMLESS)
def test_harmless_inline_html_is_kept_as_written(html_text: str) -> None:
    assert render_markdown(html_text) == f"<p>{html_text}</p>"


def test_harmless_block_html_is_kept() -> None:
    assert render_markdown('<div class="box">\nA box\n</div>') == '<div class="box">\nA box\n</div>'
    assert (
        render_markdown("<dl><dt>term</dt><dd>meaning</dd></dl>") == "<dl><dt>term</dt><dd>meaning</dd></dl>"
    )
    assert render_markdown("<details><summary>More</summary>\n\nInside *it*.\n\n</details>") == (
        "<details><summary>More</summary>\n<p>Inside <em>it</em>.</p>\n</details>"
    )
    table = '<table><tbody><tr><th colspan="2">h</th></tr><tr><td>a</td><td>b</td></tr></tbody></table>'
    assert render_markdown(table) == table
    img = '<img src="pics/a.png" alt="A" title="T" width="20" height="10">'
    assert render_markdown(img) == img


def test_a_less_than_sign_in_text_always_leaves_as_an_entity() -> None:
    """Anki reads a raw `<` as the start of a tag."""
    html_text = render_markdown("a < b, 3<4 and x <= y, `i < n`\n\n<b>c < d</b>")
    assert "<" not in re.sub(r"</?(?:p|b|code)>", "", html_text)
    assert "a &lt; b, 3&lt;4 and x &lt;= y, <code>i &lt; n</code>" in html_text
    assert "<b>c &lt; d</b>" in html_text


def test_a_tag_that_is_no_html_element_stays_visible_text() -> None:
    """`List<String>` in prose would vanish as an unknown tag; it is shown instead."""
    assert render_markdown("A List<String> and <T> and </T> and <my-widget>") == (
        "<p>A List&lt;String&gt; and &lt;T&gt; and &lt;/T&gt; and &lt;my-widget&gt;</p>"
    )


def test_html_comments_are_dropped() -> None:
    assert render_markdown("<!-- a note -->\n\nText <!-- inline --> here.") == "<p>Text  here.</p>"


def test_a_field_cannot_close_the_card_template_around_it() -> None:
    front = render_card(question("x", title="Evil</div></div><div>?")).front
    assert front.count("<div") == front.count("</div>")
    assert "</div>" not in render_markdown("text</div></div>")


def test_fields_are_nfc_and_free_of_control_characters() -> None:
    c = card("Caf\u0065\u0301 a\x1fb c\x07d &#x1f; &#x7;", title="Nai\u0308ve\x1f?", discussion="- e\x0bf")
    for field in (c.front, c.back, c.discussion):
        assert unicodedata.is_normalized("NFC", field)
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", field), field
    assert "Café ab cd" in c.back and c.front == "Naïve?"


def test_a_combining_mark_after_a_tag_does_not_break_the_tag_under_nfc() -> None:
    """`>` and U+0338 compose to `≯` under NFC (Anki normalizes fields too)."""
    html_text = render_markdown("<b>bold</b>\u0338 rest")
    assert unicodedata.is_normalized("NFC", html_text)
    assert ("start", "b") in structure(html_text) and ("end", "b") in structure(html_text)


def test_html_nested_past_the_limit_is_shown_as_text_not_parsed() -> None:
    """html5ever's time grows quadratically with nesting: a hostile note must not stall a build."""
    assert render_markdown("<div>" * 100 + "x").startswith("<div><div>")
    deep = render_markdown("<blockquote>" * 20_000 + "x")
    assert deep.startswith("&lt;blockquote&gt;&lt;blockquote&gt;") and "<" not in deep


def test_the_cleaner_drops_what_it_must() -> None:
    sample = '<p onclick="x">a <script>b</script><a href="javascript:c">d</a> <img src=e alt=f></p>'
    assert sanitize_html(sample) == '<p>a <a>d</a> <img src="e" alt="f"></p>'


# What dlcards writes itself: it must leave the sanitizer as it went in.
OWN_MARKUP = """\
# Heading

Text with **bold**, *italic*, ~~struck~~, `code "quoted" & <b>`, a [link](https://example.org/a?b=1&c=2 "T"),
an ![image](img/a.png "Title"), ![[b.png|30x20]], ![[c.mp3]], ==marked==, #some/tag,
math $a < b^{2}$ and $$\\sum_{k} k$$, a [[Wiki|link]] and a hard\\
break.

```python
def f(x: str = "it's") -> int:  # a comment
    return len(x) < 3
```

```
plain <code> & "quotes"
```

$$
\\frac{a}{b} < c
$$

| left | right |
|:-----|------:|
| `a`  | $x$   |

> [!tip]+ A *tip*
> - $y$ in a list
>
> > [!quote] nested

> [!bug]- Folded
> Body.

> a plain quote

1. one
2. two

---
"""


def test_dlcards_own_markup_passes_the_sanitizer_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pygments spans, math, callouts, media, tags, tables: nothing is lost or changed."""
    sanitized = render_markdown(OWN_MARKUP)
    monkeypatch.setattr(render, "sanitize_html", lambda html_text: html_text)
    raw = render_markdown(OWN_MARKUP)
    assert raw != sanitized, "the sanitizer was not bypassed"
    assert structure(sanitized) == structure(raw)
    for piece in (
        '<span class="k">def</span>',
        '<div class="dlc-code">',
        "\\(a &lt; b^{2}\\)",
        "\\[\\sum_{k} k\\]",
        '<details class="dlc-callout dlc-callout-tip" open="">',
        '<span class="dlc-tag">#some/tag</span>',
        '<img src="b.png" alt="b.png" width="30" height="20">',
        "[sound:c.mp3]",
        '<th style="text-align:left">',
        '<img src="img/a.png" alt="image" title="Title">',
    ):
        assert piece in sanitized, piece


def test_cloze_markup_passes_the_sanitizer_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    q = question("{{c1::`a}}b`}} and {{c2::$x^{y^{z}}$::a hint}}, ==std::vector==", cloze_highlights=True)
    sanitized = render_card(q)
    monkeypatch.setattr(render, "sanitize_html", lambda html_text: html_text)
    raw = render_card(q)
    assert sanitized.front == raw.front  # byte for byte: no quotes or entities involved


def test_sanitizing_twice_changes_nothing() -> None:
    html_text = render_markdown(OWN_MARKUP + "\n" + "".join(h for h, _ in HOSTILE.values()))
    assert sanitize_html(html_text) == html_text


PIECES = [
    "<script>alert(1)</script>",
    "<script",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "onerror=",
    ' onload="x"',
    '<a href="javascript:alert(1)">',
    "javascript:",
    "<iframe src=x>",
    "<style>",
    "<svg>",
    "<math>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<",
    ">",
    '"',
    "'",
    "=",
    "&#x6A;",
    "&#106;",
    "&lt;",
    "`",
    "\n",
    "\n\n",
    "<div>",
    "</div>",
    "<p>",
    "<b>",
    "</b>",
    "<details open>",
    "<a href='x'>",
    "</a>",
    "<object data=x>",
    "<form>",
    "<input onfocus=alert(1) autofocus>",
    "<noscript>",
    "<xmp>",
    "<textarea>",
    "<template>",
    "<plaintext>",
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<body onload=x>",
]
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=20).map("".join)


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see in a URL (it drops tabs and newlines, and leading
    spaces and controls), or None for a relative URL."""
    url = re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(0x21))))
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return m.group(1).lower() if m else None


ALLOWED_ATTRIBUTES = {
    "class",
    "href",
    "title",
    "src",
    "alt",
    "width",
    "height",
    "open",
    "start",
    "style",
    "colspan",
    "rowspan",
    "span",
}


def assert_harmless(html_text: str) -> None:
    assert not re.search(r"<\s*/?\s*(script|style|iframe|object|embed|form|svg|math)\b", html_text, re.I)
    for tag, attrs in tags_and_attributes(html_text):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert name in ALLOWED_ATTRIBUTES and not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert url_scheme(value) in (None, "http", "https", "mailto"), (tag, name, value)
            if name == "style":
                assert re.fullmatch(r"text-align:\s*\w+;?", value), value


@SETTINGS
@given(hostile_text)
def test_sanitized_html_never_holds_scripts_handlers_or_bad_urls(text: str) -> None:
    assert_harmless(sanitize_html(text))


@SETTINGS
@given(hostile_text)
def test_rendered_fields_never_hold_scripts_handlers_or_bad_urls(text: str) -> None:
    c = card(text, title="Q " + text.replace("\n", " "), prompt=text, discussion=text)
    for field in (c.front, c.back, c.discussion):
        assert_harmless(field)


# ---------------------------------------------------------------- pictures and sounds


@pytest.mark.parametrize(
    "markdown, expected",
    [
        ("![a diagram](img/diagram.png)", '<img src="img/diagram.png" alt="a diagram">'),
        ('![a & b](pics/x.png "The title")', '<img src="pics/x.png" alt="a &amp; b" title="The title">'),
        ("![](my%20cat.png)", '<img src="my cat.png" alt="">'),
        ("![cat](<my cat.png>)", '<img src="my cat.png" alt="cat">'),
        ("![*emphasised* alt](x.png)", '<img src="x.png" alt="emphasised alt">'),
        ("![[file.png]]", '<img src="file.png" alt="file.png">'),
        ("![[sub dir/file.PNG]]", '<img src="sub dir/file.PNG" alt="sub dir/file.PNG">'),
        ("![[file.png|300]]", '<img src="file.png" alt="file.png" width="300">'),
        ("![[file.png|300x200]]", '<img src="file.png" alt="file.png" width="300" height="200">'),
        ("![[file.png|A caption|120]]", '<img src="file.png" alt="A caption" width="120">'),
        (
            "![a faraway picture](https://example.org/far.png)",
            '<a href="https://example.org/far.png">a faraway picture</a>',
        ),
        (
            "![](http://example.org/far.png)",
            '<a href="http://example.org/far.png">http://example.org/far.png</a>',
        ),
        ("![x](//example.org/far.png)", '<a href="//example.org/far.png">x</a>'),
        ("![song](https://example.org/a.mp3)", '<a href="https://example.org/a.mp3">song</a>'),
        ("![[Some note]]", "Some note"),
        ("![[Some note#Part|shown]]", "shown"),
        ("![[paper.pdf]]", "paper.pdf"),
    ],
)
def test_pictures_render_in_the_form_the_media_stage_reads(markdown: str, expected: str) -> None:
    assert render_markdown(f"See {markdown} here.") == f"<p>See {expected} here.</p>"


@pytest.mark.parametrize("extension", sorted(SOUND_EXTENSIONS))
def test_sounds_in_either_syntax_become_sound_tags(extension: str) -> None:
    assert render_markdown(f"![[clip one.{extension}]] and ![a sound](sounds/b.{extension.upper()})") == (
        f"<p>[sound:clip one.{extension}] and [sound:sounds/b.{extension.upper()}]</p>"
    )


def test_a_raw_picture_keeps_its_own_attributes_but_no_handlers() -> None:
    assert render_markdown('<img width="24" src="img/dot.png" onload="x()" alt="a dot">') == (
        '<img width="24" src="img/dot.png" alt="a dot">'
    )


MEDIA_IMG = re.compile(r'<img\b[^>]*?\ssrc="([^"]*)"[^>]*>')
MEDIA_SOUND = re.compile(r"\[sound:([^\]]+)\]")


def test_media_references_in_code_stay_code() -> None:
    """The media stage looks outside <code> and <pre>; inside them references are text."""
    html_text = render_markdown(
        '`![x](a.png)` `[sound:b.mp3]`\n\n```\n![[c.png]]\n<img src="d.png">\n```\n\nbut ![[e.png]]'
    )
    outside = re.sub(r"<(pre|code)\b.*?</\1>", "", html_text, flags=re.S)
    assert MEDIA_IMG.findall(outside) == ["e.png"] and MEDIA_SOUND.findall(outside) == []
    assert "![x](a.png)" in html_text and "![[c.png]]" in html_text
    # Anki plays a [sound:] wherever it stands: in code, the marker is split to stay text.
    assert "[<span></span>sound:b.mp3]" in html_text


# ---------------------------------------------------------------- Obsidian syntax


@pytest.mark.parametrize(
    "link, shown",
    [
        ("[[Gradient descent]]", "Gradient descent"),
        ("[[optimizers|the optimizer page]]", "the optimizer page"),
        ("[[Note#Heading]]", "Note"),
        ("[[Note#Heading|alias]]", "alias"),
        ("[[folder/Note.md]]", "folder/Note"),
        ("[[#Local heading]]", "Local heading"),
        ("[[A & B]]", "A &amp; B"),
    ],
)
def test_wikilinks_show_as_plain_text(link: str, shown: str) -> None:
    assert render_markdown(f"See {link}.") == f"<p>See {shown}.</p>"


def test_a_wikilink_in_a_table_uses_an_escaped_bar() -> None:
    html_text = render_markdown("| a | b |\n|---|---|\n| [[Note\\|alias]] | x |\n")
    assert "<td>alias</td>" in html_text


def test_highlights_are_marks_except_in_code() -> None:
    assert render_markdown("A ==highlighted *word*== and `==code==`") == (
        "<p>A <mark>highlighted <em>word</em></mark> and <code>==code==</code></p>"
    )


def test_obsidian_syntax_inside_code_is_left_as_written() -> None:
    html_text = render_markdown("```\n[[Note]] ![[a.png]] ==x== #tag > [!note]\n```")
    assert "[[Note]] ![[a.png]] ==x== #tag &gt; [!note]" in html_text


STRIP = [
    ("inline", "a %%hidden%% b", "a  b"),
    ("two on a line", "a %%x%% b %%y%% c", "a  b  c"),
    ("across lines", "a %%one\ntwo\nthree%% b\n", "a \n\n b\n"),
    ("a block", "x\n%%\n## Not a question?\n**Answer:** no\n%%\ny\n", "x\n\n\n\n\ny\n"),
    ("in a code span", "`%%` and ``a %% b`` stay", "`%%` and ``a %% b`` stay"),
    ("code span in a comment", "%%`x`%% y", " y"),
    ("in a fence", "```\n%% code\n```\n%%gone%%", "```\n%% code\n```\n"),
    ("in a tilde fence", "~~~~\n%%\n~~~\n%%\n~~~~\n", "~~~~\n%%\n~~~\n%%\n~~~~\n"),
    ("in a fence in a list", "- ```\n  %%\n  ```\n%%z%%", "- ```\n  %%\n  ```\n"),
    ("never closed", "50%% off", "50%% off"),
    ("unmatched backticks", "`` a ` %%x%%", "`` a ` "),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in STRIP], ids=[n for n, _, _ in STRIP])
def test_strip_comments_blanks_comments_and_leaves_code(text: str, expected: str) -> None:
    assert strip_comments(text) == expected


@SETTINGS
@given(st.lists(st.sampled_from(["%%", "`", "```", "~~~", "\n", "a", " ", "## h", "> ", "- "]), max_size=40))
def test_strip_comments_keeps_every_line_where_it_was(pieces: list[str]) -> None:
    text = "".join(pieces)
    out = strip_comments(text)
    assert out.count("\n") == text.count("\n")
    lines_in, lines_out = text.split("\n"), out.split("\n")
    for before, after in zip(lines_in, lines_out, strict=True):
        if "%%" not in before:
            # A line without `%%` is kept whole or blanked whole (inside a block comment).
            assert after in (before, ""), (before, after)


def test_a_heading_inside_a_comment_block_is_no_heading() -> None:
    text = "## Real?\n\n%%\n## Hidden?\n%%\n\ntext\n"
    tokens, _ = parse_blocks(render.create_markdown(renderer=None), strip_comments(text))
    assert [t["type"] for t in tokens].count("heading") == 1


def test_comments_never_reach_a_card() -> None:
    c = card("Shown %%not shown%%.\n\n%%\nA block\nof lines\n%%\n\nAlso shown.", title="Q %%x%%?")
    assert "not shown" not in c.back and "block" not in c.back and "Also shown." in c.back
    assert c.front == "Q ?"


@pytest.mark.parametrize("written, kind", sorted(CALLOUT_TYPES.items()))
def test_every_callout_type_and_alias_gets_its_family_class(written: str, kind: str) -> None:
    html_text = render_markdown(f"> [!{written}]\n> Body.")
    assert html_text == (
        f'<div class="dlc-callout dlc-callout-{kind}">\n'
        f'<div class="dlc-callout-title">{written.capitalize()}</div>\n'
        '<div class="dlc-callout-body">\n<p>Body.</p>\n</div>\n</div>'
    )


def test_callouts_fold_closed_or_open_and_keep_their_title() -> None:
    assert render_markdown("> [!WARNING]- Mind *this*\n> Hidden.") == (
        '<details class="dlc-callout dlc-callout-warning">\n'
        '<summary class="dlc-callout-title">Mind <em>this</em></summary>\n'
        '<div class="dlc-callout-body">\n<p>Hidden.</p>\n</div>\n</details>'
    )
    assert render_markdown("> [!tip]+ Open\n> Shown.").startswith(
        '<details class="dlc-callout dlc-callout-tip" open="">\n'
        '<summary class="dlc-callout-title">Open</summary>'
    )


def test_an_unknown_callout_type_looks_like_a_note() -> None:
    assert render_markdown("> [!recipe] Soup").startswith(
        '<div class="dlc-callout dlc-callout-note">\n<div class="dlc-callout-title">Soup</div>'
    )


def test_callouts_nest_and_hold_lists_code_and_math() -> None:
    html_text = render_markdown(
        "> [!example] Outer\n> - item $a^{2}$\n> - $$b$$\n>\n> ```python\n> x = 1\n> ```\n>\n"
        "> $$\n> c < d\n> $$\n>\n> > [!danger]\n> > Inner $e$\n"
    )
    assert structure(html_text)[:4] == [
        ("start", "div", "class=dlc-callout dlc-callout-example"),
        ("text", "\n"),
        ("start", "div", "class=dlc-callout-title"),
        ("text", "Outer"),
    ]
    assert "<li>item \\(a^{2}\\)</li>" in html_text and '<li><div class="dlc-math">\\[b\\]</div>' in html_text
    assert '<span class="n">x</span>' in html_text
    assert '<div class="dlc-math">\\[c &lt; d\\]</div>' in html_text
    inner = html_text.index('<div class="dlc-callout dlc-callout-danger">')
    assert inner > html_text.index("dlc-math") and "Inner \\(e\\)" in html_text[inner:]
    assert "[!" not in html_text and "<blockquote>" not in html_text


def test_a_quote_is_a_callout_only_when_its_first_line_says_so() -> None:
    assert render_markdown("> Just a quote\n> [!note] later") == (
        "<blockquote>\n<p>Just a quote\n[!note] later</p>\n</blockquote>"
    )


# ---------------------------------------------------------------- inline tags

TAGGED = [
    ("#exam", ("exam",)),
    ("A line with #ml/optimization inside", ("ml::optimization",)),
    ("#a/b/c and #a-b_c", ("a::b::c", "a-b_c")),
    ("#y1984 #日本語", ("y1984", "日本語")),
    ("**bold #strong** and *#em*", ("strong",)),
    ("#Exam and #exam once", ("Exam",)),
    ("- a list item #listed", ("listed",)),
    ("#1984 #42", ()),
    ("C# and F#, a#b, ##double", ()),
    ("`#code` and ``x #y``", ()),
    ("```\n#fenced\n```", ()),
    ("    #indented code", ()),
    ("[x](https://example.org/page#frag) <https://example.org/#auto>", ()),
    ("[#label](https://example.org/) ![#alt](a.png)", ()),
    ('<a href="#anchor">a</a> &#35;entity', ()),
    ("$#math$", ()),
]


@pytest.mark.parametrize("markdown, tags", TAGGED)
def test_inline_tags_follow_obsidian_rules(markdown: str, tags: tuple[str, ...]) -> None:
    assert inline_tags(markdown) == tags


def test_tags_stay_on_the_card_as_muted_text() -> None:
    assert render_markdown("Study #ml/optimization today") == (
        '<p>Study <span class="dlc-tag">#ml/optimization</span> today</p>'
    )
    assert render_markdown("[see #label](https://example.org/)") == (
        '<p><a href="https://example.org/">see #label</a></p>'
    )


def test_a_card_carries_the_tags_of_its_whole_section() -> None:
    c = card(
        "Answer #answer `#nope`",
        title="Title #title?",
        prompt="Prompt #prompt",
        discussion="- #discussion #Title",
    )
    assert c.tags == ("title", "prompt", "answer", "discussion")


# ---------------------------------------------------------------- math


def test_math_keeps_working_in_lists_quotes_callouts_and_clozes() -> None:
    html_text = render_markdown("- $a_1 * b_2 * c$\n\n> [!note]\n> $x^2$\n\nPrices $5 and $10.")
    assert "<li>\\(a_1 * b_2 * c\\)</li>" in html_text and "\\(x^2\\)" in html_text
    assert "Prices $5 and $10." in html_text
    c = card("It is {{c1::$a_1 * b_2$}}.")
    assert "{{c1::\\(a_1 * b_2\\)}}" in c.front


# ---------------------------------------------------------------- cloze deletions


def cloze_bodies(text: str) -> list[str]:
    """The inside of each top-level deletion, read as Anki reads the field: up to the
    first `}}` that closes it, counting nested openers."""
    bodies, i = [], 0
    while (start := text.find("{{c", i)) >= 0:
        m = re.compile(r"\{\{c\d+::").match(text, start)
        if not m:
            i = start + 1
            continue
        depth, j = 1, m.end()
        while depth and j < len(text):
            nested = re.compile(r"\{\{c\d+::").match(text, j)
            if nested:
                depth, j = depth + 1, nested.end()
            elif text.startswith("}}", j):
                depth, j = depth - 1, j + 2
            else:
                j += 1
        bodies.append(text[m.end() : j - 2])
        i = j
    return bodies


def test_a_deletion_in_the_answer_puts_the_answer_on_the_text_field() -> None:
    c = card(
        "Softmax turns {{c1::logits}} into {{c2::probabilities::what?}}.",
        title="Softmax",
        discussion="- why?",
    )
    assert c.kind == "cloze"
    assert c.front == (
        '<div class="dlc-title">Softmax</div>\n'
        "<p>Softmax turns {{c1::logits}} into {{c2::probabilities::what?}}.</p>"
    )
    assert c.back == "" and c.discussion == "<ul>\n<li>why?</li>\n</ul>"


def test_a_deletion_in_the_title_leaves_the_answer_for_the_extra_field() -> None:
    c = card("Because **it** is.", title="Why is {{c1::the sky}} blue?", prompt="Think *light*.")
    assert c.kind == "cloze"
    assert (
        c.front == '<div class="dlc-title">Why is {{c1::the sky}} blue?</div>\n<p>Think <em>light</em>.</p>'
    )
    assert c.back == "<p>Because <strong>it</strong> is.</p>"


def test_markdown_inside_a_deletion_renders() -> None:
    c = card("{{c1::**bold** `code` *it* $x$ [[Note|link]]::a *hint*}}")
    assert cloze_bodies(c.front) == [
        "<strong>bold</strong> <code>code</code> <em>it</em> \\(x\\) link::a <em>hint</em>"
    ]


@pytest.mark.parametrize(
    "answer",
    [
        "`{{c1::not a cloze}}`",
        "```\n{{c1::not a cloze}}\n```",
        "    {{c1::indented code}}",
        "{{c1::never closed",
    ],
)
def test_markers_only_in_code_or_unclosed_keep_a_question_basic(answer: str) -> None:
    q = question(answer)
    assert not is_cloze(q)
    assert render_card(q).kind == "basic"


def test_a_deletion_only_in_the_discussion_keeps_a_question_basic() -> None:
    assert card("plain", discussion="{{c1::x}}").kind == "basic"


def test_closing_braces_in_math_do_not_end_a_deletion_early() -> None:
    c = card("It is {{c1::$\\frac{e^{z_i}}{\\sum_{j} e^{z_{j}}}$}} and {{c2::$$x^{a^{b}}$$}}, then $c_{d}}$.")
    assert cloze_bodies(c.front) == [
        "\\(\\frac{e^{z_i} }{\\sum_{j} e^{z_{j} } }\\)",
        "\\[x^{a^{b} }\\]",
    ]


@SETTINGS
@given(st.text(alphabet="{}ab^_\\ ", min_size=1, max_size=30))
def test_any_tex_in_a_deletion_stays_inside_it(tex: str) -> None:
    tex = tex.strip()
    c = card(f"A {{{{c1::${tex}$}}}} z")
    spans = render.math_spans(f"${tex}$")
    if len(spans) != 1 or spans[0][0] != tex:
        return  # not inline math under pandoc's rules: nothing to protect
    (body,) = cloze_bodies(c.front)
    assert body.startswith("\\(") and body.endswith("\\)"), body
    assert "}}" not in body


def test_closing_braces_are_left_alone_outside_the_text_field() -> None:
    c = card("$x^{a^{b}}$", title="Which {{c1::tower}}?", discussion="$y^{a^{b}}$")
    assert "\\(x^{a^{b}}\\)" in c.back and "\\(y^{a^{b}}\\)" in c.discussion
    assert protect_tex("}}}") == "} } }"


def test_code_in_the_text_field_cannot_end_or_start_a_deletion() -> None:
    c = card("{{c1::`a}}b::c{{d`}} and\n\n```\n{{c2::x}}\n```")
    assert cloze_bodies(c.front) == ["<code>a}<span></span>}b:<span></span>:c{<span></span>{d</code>"]
    basic = card("`a}}b::c`")
    assert "<code>a}}b::c</code>" in basic.back


def test_highlights_become_deletions_in_order_when_the_file_says_so() -> None:
    c = card("==Momentum== averages, ==Adam== *also* scales.", title="Which ==optimizers==?", highlights=True)
    assert c.kind == "cloze"
    assert c.front == (
        '<div class="dlc-title">Which {{c1::optimizers}}?</div>\n'
        "<p>{{c2::Momentum}} averages, {{c3::Adam}} <em>also</em> scales.</p>"
    )
    assert c.back == ""


def test_highlights_stay_marks_without_the_front_matter_flag() -> None:
    c = card("==Momentum== averages.")
    assert c.kind == "basic" and c.back == "<p><mark>Momentum</mark> averages.</p>"


def test_highlights_number_after_explicit_deletions_and_leave_them_alone() -> None:
    c = card("{{c2::a ==inside==}} and ==outside== and ==around {{c3::x}}==", highlights=True)
    assert c.front.endswith(
        "<p>{{c2::a <mark>inside</mark>}} and {{c4::outside}} and <mark>around {{c3::x}}</mark></p>"
    )


def test_a_highlight_holding_markers_of_its_own_is_split_so_anki_reads_no_hint() -> None:
    c = card("==std::vector== and ==f(x)}}== and ==`{a}`==", highlights=True)
    assert cloze_bodies(c.front) == [
        "std:<span></span>:vector",
        "f(x)}<span></span>}<span></span>",
        "<code>{a}</code>",
    ]


def test_highlights_in_code_or_only_in_the_discussion_make_no_deletion() -> None:
    assert card("`==x==` and\n\n```\n==y==\n```", highlights=True).kind == "basic"
    c = card("plain", discussion="==z==", highlights=True)
    assert c.kind == "basic" and "<mark>z</mark>" in c.discussion


SNIPPETS = [
    "{{c1::a}}",
    "{{c2::b::h}}",
    "==hi==",
    "`{{c3::c}}`",
    "`==d==`",
    "{{c1::",
    "}}",
    "text",
    " ",
    "\n\n",
    "```\n{{c4::e}}\n```\n",
    "$x}}$",
    "**b**",
    "[[N]]",
    "#tag",
    "%%{{c5::f}}%%",
]


@SETTINGS
@given(
    st.lists(st.sampled_from(SNIPPETS), max_size=8),
    st.lists(st.sampled_from(SNIPPETS), max_size=4),
    st.booleans(),
)
def test_is_cloze_agrees_with_the_rendered_kind(
    answer: list[str], title: list[str], highlights: bool
) -> None:
    q = question(
        "".join(answer) or "x", title="".join(title).replace("\n", " ") or "T", cloze_highlights=highlights
    )
    c = render_card(q)
    assert is_cloze(q) == (c.kind == "cloze")
    if c.kind == "cloze":
        assert cloze_bodies(c.front)


# ---------------------------------------------------------------- style and start-up


def _rgb(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _over(colour: tuple[float, ...], alpha: float, background: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(c * alpha + bg * (1 - alpha) for c, bg in zip(colour, background, strict=True))


def _callout_colour(family: str, night: bool) -> tuple[float, ...]:
    """The colour a callout family gets, from its own rule or else the base callout rule."""
    prefix = r"\.nightMode " if night else ""
    for selector in (rf"{prefix}\.dlc-callout-{family}", rf"{prefix}\.dlc-callout"):
        rule = rf"^(?:[^{{\n]*, )?{selector}(?=[ ,])[^{{\n]*\{{ --dlc-callout: ([\d, ]+);"
        m = re.search(rule, BASE_CSS, re.M)
        if m:
            return _rgb(m.group(1))
    raise AssertionError(family)


@pytest.mark.parametrize("night", [False, True], ids=["light", "night"])
@pytest.mark.parametrize("family", sorted(set(CALLOUT_TYPES.values())))
def test_callout_titles_and_text_are_readable_in_light_and_night_mode(family: str, night: bool) -> None:
    card_bg, text = ((30, 30, 30), (230, 237, 243)) if night else ((255, 255, 255), (31, 35, 40))
    colour = _callout_colour(family, night)
    background = _over(colour, 0.14 if night else 0.08, card_bg)
    assert _contrast(colour, background) >= 4.5, (family, colour)
    assert _contrast(text, background) >= 7


def test_marks_and_tags_are_readable_in_light_and_night_mode() -> None:
    light_mark = re.search(r"^\.dlc-card mark \{[^}]*background: rgba\(([\d, ]+), ([\d.]+)\)", BASE_CSS, re.M)
    night_mark = re.search(
        r"^\.nightMode \.dlc-card mark[^{]*\{ background: rgba\(([\d, ]+), ([\d.]+)\)", BASE_CSS, re.M
    )
    assert light_mark and night_mark
    light_bg = _over(_rgb(light_mark.group(1)), float(light_mark.group(2)), (255, 255, 255))
    night_bg = _over(_rgb(night_mark.group(1)), float(night_mark.group(2)), (30, 30, 30))
    assert _contrast((31, 35, 40), light_bg) >= 7 and _contrast((230, 237, 243), night_bg) >= 7
    tag_bg_light = _over((127, 127, 127), 0.12, (255, 255, 255))
    tag_bg_night = _over((127, 127, 127), 0.12, (30, 30, 30))
    assert (
        _contrast((0x57, 0x60, 0x6A), tag_bg_light) >= 4.5
        and _contrast((0x9D, 0xA7, 0xB1), tag_bg_night) >= 4.5
    )
    assert (
        ".dlc-tag { " in BASE_CSS
        and ".night_mode .dlc-tag" in BASE_CSS
        and ".night_mode .dlc-callout" in BASE_CSS
    )


def test_help_imports_neither_the_sanitizer_nor_the_markdown_parser() -> None:
    code = (
        "import sys\nfrom dlcards.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nh3', 'mistune', 'pygments')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
