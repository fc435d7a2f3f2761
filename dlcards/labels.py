"""The words of the notes format: answer and discussion labels, numbering, placeholders.

Pure text recognisers, used by the parser on one block's text at a time (never on a
whole file). Spellings come from real notes: `**Answer:**`, `**Answer**:`, `Ans.`,
`` `Ans:` ``, `*A:*`, `Solution:`, `**Standard Answer**:`, `**Best Answer**`, and
extra words a user names in front matter (`## Ответ`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

ANSWER_WORDS = (r"answer", r"ans", r"solution", r"a", r"[\w-]+[ \t]+answer")
DISCUSSION_WORDS = (r"discussion(?:[ \t]+points?)?", r"discussion[ \t]+questions?", r"follow[- ]ups?")

# `1.`, `1)`, `1.2.`, `Q1:`, `Q:`, `Q0-`, `Question 7:`, `考点 3:`, `考点 12 (Bonus):`,
# also when bold (`**1.**`).
_NUMBERING = re.compile(
    r"^(\*\*|__)?[ \t]*(?:(?:q|question|考点)[ \t]*\d*(?:[ \t]*\([^)\n]{1,20}\))?[ \t]*[:.)\-–]"
    r"|\d+(?:\.\d+)*[.)])[ \t]*(?(1)\1)(?=\s|\*|_|$)[ \t]*",
    re.IGNORECASE,
)
_WRAPPED = re.compile(r"^(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1$", re.DOTALL)
ID_COMMENT = re.compile(r"<!--\s*id\s*:\s*([^\s>]+)\s*-->", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^(?:answers?(?:[ \t]+(?:here|goes[ \t]+here|to[ \t]+come))?|to[ \t]*do|tbd|tba|wip|coming[ \t]+soon"
    r"|to[ \t]+be[ \t]+(?:filled|added|written|done)(?:[ \t]+in)?|\.\.\.|…|-+|\?+)$",
    re.IGNORECASE,
)
# Forty characters that are neither markup nor space nor `.:-?`: each stays in the
# plain text is_placeholder compares, and no placeholder holds that many (the longest
# is "answers goes here"). A real answer has them in its first line; making the
# plain text means reading all of it.
_NO_PLACEHOLDER = re.compile(r"[\s*_`\[\]()<>!.:?-]*(?:[^\s*_`\[\]()<>!.:?-][\s*_`\[\]()<>!.:?-]*){40}")
_ONLY_LINK = re.compile(r"^\s*(?:\[[^\]]*\]\([^)]*\)|<https?://[^>]+>|https?://\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Labels:
    """The label recognisers for one file (the defaults plus its own words)."""

    answer_paragraph: re.Pattern[str]
    discussion_paragraph: re.Pattern[str]
    answer_heading: re.Pattern[str]
    discussion_heading: re.Pattern[str]


def make_labels(extra_answer_words: Sequence[str] = ()) -> Labels:
    answer = "|".join([*ANSWER_WORDS, *(re.escape(w.strip()) for w in extra_answer_words if w.strip())])
    discussion = "|".join(DISCUSSION_WORDS)
    return Labels(
        answer_paragraph=_label_pattern(answer),
        discussion_paragraph=_label_pattern(discussion),
        answer_heading=re.compile(rf"^(?:{answer})$", re.IGNORECASE),
        discussion_heading=re.compile(rf"^(?:{discussion})$", re.IGNORECASE),
    )


def _label_pattern(words: str) -> re.Pattern[str]:
    # A label opens a paragraph: `**Answer:**`, `**Answer**:`, `**Answer** :`, `*A:*`,
    # `` `Ans:` ``, `Answer:`, `Ans :`, `Ans.`, or `**Best Answer**` alone on its line.
    # What follows it in the paragraph belongs to the part it opens.
    return re.compile(
        rf"^[ \t]*(?:"
        rf"(?P<em>\*\*|__|\*|_|`)[ \t]*(?P<w1>{words})[ \t]*"
        rf"(?:[:.][ \t]*(?P=em)|(?P=em)[ \t]*[:.]|(?P=em)[ \t]*(?=\n|$))"
        rf"|(?P<w2>{words})[ \t]*(?::|\.(?=\s|$))"
        rf")",
        re.IGNORECASE,
    )


def default_labels() -> Labels:
    return _DEFAULT


def match_label(labels: Labels, text: str, *, in_list: bool = False) -> tuple[str, int] | None:
    """("answer" | "discussion", where the rest starts) when text opens with a label."""
    for kind, pattern in (("answer", labels.answer_paragraph), ("discussion", labels.discussion_paragraph)):
        m = pattern.match(text)
        if m is None:
            continue
        word = (m.group("w1") or m.group("w2") or "").strip().lower()
        # A bare `A:` (or `A.`) starts too many ordinary lines, and list items `- A:` are
        # the options of a multiple-choice question: only `**A:**`-style counts.
        if kind == "answer" and word == "a" and (m.group("em") is None or in_list):
            continue
        return kind, m.end()
    return None


def heading_label(labels: Labels, text: str) -> str | None:
    """ "answer" or "discussion" when a heading is such a label."""
    plain = re.sub(r"[*_`]", "", text).strip().rstrip(":").strip()
    if labels.answer_heading.match(plain):
        return "answer"
    if labels.discussion_heading.match(plain):
        return "discussion"
    return None


def clean_title(text: str) -> tuple[str, bool]:
    """Heading text without numbering or wrapping emphasis; and whether it was numbered."""
    text = ID_COMMENT.sub("", text).strip()
    numbered = False
    while True:
        before = text
        stripped = _NUMBERING.sub("", text, count=1)
        if stripped != text:
            numbered = True
            text = stripped.strip()
        wrapped = _WRAPPED.match(text)
        if wrapped and wrapped.group(1) not in wrapped.group(2):
            text = wrapped.group(2).strip()
        if text == before:
            return text, numbered


def looks_like_question(heading_text: str) -> bool:
    """Ends with "?" or is numbered: a heading the user probably meant as a question."""
    title, numbered = clean_title(heading_text)
    return numbered or title.rstrip().endswith(("?", "？"))


def is_placeholder(markdown: str) -> bool:
    """An answer that is not one yet: empty, `Answer here`, `_[To be filled]_`, `TODO`,
    or only a link."""
    if _ONLY_LINK.match(markdown):
        return True
    if _NO_PLACEHOLDER.match(markdown):
        return False
    plain = re.sub(r"[*_`\[\]()<>!]", "", markdown)
    plain = " ".join(plain.split()).strip(" .:")
    return not plain or bool(_PLACEHOLDER.match(plain))


_DEFAULT = make_labels()
