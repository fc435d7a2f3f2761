"""The media stage: where a card's images and sounds come from, what they are named,
and the files it refuses to bundle."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Project

from dlcards.build import BuildOptions, sound_cards
from dlcards.cli import main
from dlcards.errors import BuildFailed
from dlcards.media import media_name
from dlcards.model import Card

PNG_A = b"\x89PNG\r\n\x1a\n" + b"first picture"
PNG_B = b"\x89PNG\r\n\x1a\n" + b"second picture"


def _cards(project: Project, attachments: tuple[Path, ...] = ()) -> list[Card]:
    options = BuildOptions(notes_dir=project.notes, decks_dir=project.decks, attachments=attachments)
    cards, _ = sound_cards(options)
    return cards


def _errors(project: Project) -> list[str]:
    with pytest.raises(BuildFailed) as failed:
        _cards(project)
    return [f"{p.path}:{p.line}: {p.message}" for p in failed.value.problems]


def _put(project: Project, rel: str, data: bytes) -> Path:
    path = project.notes / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _question(image: str) -> str:
    return f"## What does the picture show?\n\n**Answer:**\n\nThis:\n\n{image}\n"


def test_an_image_is_named_by_its_content_and_attached(project: Project) -> None:
    _put(project, "ml/img/diagram.png", PNG_A)
    project.write("ml/cnn.md", _question("![a diagram](img/diagram.png)"))
    (card,) = _cards(project)
    digest = hashlib.sha256(PNG_A).hexdigest()
    name = f"diagram-{digest[:16]}.png"
    assert f'src="{name}"' in card.back
    assert "img/diagram.png" not in card.back
    assert [(m.name, m.path) for m in card.media] == [
        (name, (project.notes / "ml/img/diagram.png").resolve())
    ]


def test_two_files_with_one_name_never_collide(project: Project) -> None:
    _put(project, "a/diagram.png", PNG_A)
    _put(project, "b/diagram.png", PNG_B)
    project.write("a/one.md", _question("![](diagram.png)"))
    project.write("b/two.md", _question("![](diagram.png)"))
    names = {m.name for card in _cards(project) for m in card.media}
    assert len(names) == 2 and all(n.startswith("diagram-") for n in names)


def test_lookup_order_is_note_folder_then_root_then_attachments_then_anywhere(project: Project) -> None:
    _put(project, "deep/pic.png", PNG_A)  # next to the note
    _put(project, "pic.png", PNG_B)  # at the notes root
    _put(project, "root-only.png", PNG_B)
    attachments = project.root / "assets"
    attachments.mkdir()
    (attachments / "shared.png").write_bytes(PNG_A + b"shared")
    _put(project, "elsewhere/deeper/only-here.png", PNG_A + b"deep")
    project.write(
        "deep/note.md",
        _question("![](pic.png) ![](root-only.png) ![](shared.png) ![[only-here.png]]"),
    )
    (card,) = _cards(project, attachments=(attachments,))
    by_path = {m.path: m.name for m in card.media}
    assert set(by_path) == {
        (project.notes / "deep/pic.png").resolve(),
        (project.notes / "root-only.png").resolve(),
        (attachments / "shared.png").resolve(),
        (project.notes / "elsewhere/deeper/only-here.png").resolve(),
    }


def test_an_edited_image_gets_a_new_name_and_a_newer_mod(project: Project) -> None:
    image = _put(project, "pic.png", PNG_A)
    project.write("q.md", _question("![](pic.png)"))
    first = project.build()
    assert first.packages[0].new == 1
    project.clock.advance()
    assert project.build().packages[0].unchanged == 1  # the same bytes: nothing to update
    image.write_bytes(PNG_B)
    project.clock.advance()
    report = project.build()
    assert report.packages[0].updated == 1


@pytest.mark.parametrize(
    "reference, reason",
    [
        ("![x](../../etc/passwd)", "outside the notes folder"),
        ("![x](/etc/hostname)", "an absolute path"),
        ("![x](missing.png)", "not found"),
        ("<img src='nope.png'>", "not found"),
        ("![[gone.png]]", "not found"),
        ("![[clip.mp3]]", "not found"),
    ],
)
def test_a_reference_that_cannot_be_bundled_is_an_error_at_its_line(
    project: Project, reference: str, reason: str
) -> None:
    project.write("q.md", f"## What is shown?\n\n**Answer:**\n\nFirst line.\n\nThen {reference} here.\n")
    (error,) = _errors(project)
    assert error.startswith("notes/q.md:7: media file ")
    assert reason in error


def test_a_symlink_that_points_outside_the_notes_is_refused(project: Project, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(PNG_A)
    os.symlink(secret, project.notes / "innocent.png")
    project.write("q.md", _question("![](innocent.png)"))
    (error,) = _errors(project)
    assert "outside the notes folder" in error


def test_a_symlink_inside_the_notes_is_followed(project: Project) -> None:
    _put(project, "real/pic.png", PNG_A)
    os.symlink(project.notes / "real/pic.png", project.notes / "alias.png")
    project.write("q.md", _question("![](alias.png)"))
    (card,) = _cards(project)
    assert [m.path for m in card.media] == [(project.notes / "real/pic.png").resolve()]


def test_a_folder_or_an_ambiguous_bare_name_is_an_error(project: Project) -> None:
    (project.notes / "folder.png").mkdir()
    _put(project, "x/same.png", PNG_A)
    _put(project, "y/same.png", PNG_B)
    project.write("q.md", _question("![](folder.png) ![[same.png]]"))
    errors = _errors(project)
    assert any("not a regular file" in e for e in errors)
    assert any("ambiguous" in e and "x/same.png" in e and "y/same.png" in e for e in errors)


def test_remote_images_are_links_and_code_is_left_alone(project: Project) -> None:
    project.write(
        "q.md",
        "## What is remote?\n\n**Answer:**\n\n"
        '<img src="https://example.com/cat.png" alt="a cat">\n\n'
        "`![](not-a-file.png)` and\n\n```\n[sound:not-a-file.mp3]\n<img src=x.png>\n```\n",
    )
    (card,) = _cards(project)
    assert '<a href="https://example.com/cat.png">a cat</a>' in card.back
    assert "<img" not in card.back.split("<pre")[0]
    assert card.media == ()


def test_media_names_are_safe_everywhere() -> None:
    digest = "0123456789abcdef" * 4
    assert media_name("My Diagram.PNG", digest) == "My-Diagram-0123456789abcdef.png"
    assert media_name("_hidden.png", digest) == "hidden-0123456789abcdef.png"  # never `_`-prefixed
    assert media_name("Ω.png", digest) == "media-0123456789abcdef.png"
    assert media_name("noext", digest) == "noext-0123456789abcdef"
    assert re.fullmatch(r"[A-Za-z0-9-]+-[0-9a-f]{16}\.[a-z0-9]+", media_name("a b/c?.jpeg", digest))


def test_check_reports_missing_media_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes/q.md").write_text(_question("![](missing.png)"), encoding="utf-8")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert "notes/q.md:7:1: error: media file 'missing.png': not found" in result.output


def test_attachments_folder_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "files").mkdir()
    (tmp_path / "files/pic.png").write_bytes(PNG_A)
    (tmp_path / "notes/q.md").write_text(_question("![](pic.png)"), encoding="utf-8")
    (tmp_path / "dlcards.toml").write_text('attachments = ["files"]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    (tmp_path / "dlcards.toml").write_text('attachments = ["../elsewhere"]\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert "attachments: '../elsewhere' is outside the project folder" in result.output
