"""The authoring commands: check, show, preview, watch, init, and settings from config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlcards.cli import main

NOTES = """\
---
tag: typo
---

### 1. What is a unit test?

**Answer:** A test of one small piece in isolation.

### 2. What is a flaky test?

**Answer:** One that passes and fails without a change, e.g. $x^{2$ timing.

### 3. Why mock?

**Answer:** TODO

### 4) What is coverage?
"""

BODY = "## Part 1\n\n### Q0- What is CI?\n\nBuilding and testing every change.\n"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "testing.md").write_text(NOTES, encoding="utf-8")
    (tmp_path / "notes" / "ci.md").write_text(BODY, encoding="utf-8")
    return CliRunner()


def test_check_text(runner: CliRunner) -> None:
    """check prints each problem as path:line:col, each file's shape, a total; warnings exit 0."""
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "notes/testing.md:1:1: warning: front matter key 'tag' is not used; did you mean 'tags'?\n"
        "notes/testing.md:9:1: warning: math in the answer of 'What is a flaky test?' will not render: "
        "unbalanced braces in $x^{2$\n"
        "notes/testing.md:13:1: warning: question 'Why mock?' has a placeholder answer; no card made\n"
        "notes/testing.md:17:1: warning: heading 'What is coverage?' looks like a question but has no answer "
        "label (add a '**Answer:**' line under it); no card made\n"
        "notes/ci.md: body, 1 question\n"
        "notes/testing.md: labelled, 2 questions\n"
        "2 files, 3 questions, 0 errors, 4 warnings\n"
    )
    assert not Path("decks").exists()


def test_check_strict_json_github_and_paths(runner: CliRunner) -> None:
    """--strict fails on warnings; json and github formats; PATHS narrows the report."""
    assert runner.invoke(main, ["check", "--strict"]).exit_code == 1
    assert runner.invoke(main, ["check", "--strict", "notes/ci.md"]).exit_code == 0
    data = json.loads(runner.invoke(main, ["check", "--format", "json"]).stdout)
    assert data["files"] == [
        {"path": "notes/ci.md", "shape": "body", "questions": 1},
        {"path": "notes/testing.md", "shape": "labelled", "questions": 2},
    ]
    assert data["problems"][2] == {
        "path": "notes/testing.md",
        "line": 13,
        "col": 1,
        "severity": "warning",
        "message": "question 'Why mock?' has a placeholder answer; no card made",
    }
    github = runner.invoke(main, ["check", "--format", "github", "notes/testing.md"]).stdout.splitlines()
    assert github[2] == (
        "::warning file=notes/testing.md,line=13,col=1::"
        "question 'Why mock?' has a placeholder answer; no card made"
    )


def test_check_errors_exit_1(runner: CliRunner) -> None:
    """An error in the notes makes check exit 1."""
    Path("notes/bad.md").write_bytes(b"\xff")
    result = runner.invoke(main, ["-q", "check"])
    assert result.exit_code == 1
    assert result.stdout.startswith("notes/bad.md:1:1: error: not valid UTF-8")


def test_show_table_and_json(runner: CliRunner) -> None:
    """show lists deck, guid, source and question, with guids the build then uses."""
    result = runner.invoke(main, ["show"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["DECK", "GUID", "SOURCE", "QUESTION"]
    assert [re.split(r"\s{2,}", line)[0] for line in lines[1:]] == ["Ci", "Testing", "Testing"]
    rows = json.loads(runner.invoke(main, ["show", "--format", "json", "notes/ci.md"]).stdout)
    assert [(r["deck"], r["path"], r["line"], r["question"]["title"]) for r in rows] == [
        ("Ci", "notes/ci.md", 3, "What is CI?")
    ]
    assert runner.invoke(main, ["build", "-q"]).exit_code == 0
    lock = json.loads(Path("decks/dlcards.lock").read_text(encoding="utf-8"))
    assert {n["guid"] for n in lock["notes"]} == {line.split()[1] for line in lines[1:]}


def test_preview_writes_one_page_and_nothing_else(runner: CliRunner) -> None:
    """preview writes decks/preview.html with every card, and no lockfile or package."""
    result = runner.invoke(main, ["preview"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "decks/preview.html: 3 cards\n"
    assert sorted(p.name for p in Path("decks").iterdir()) == ["preview.html"]
    assert "What is a unit test?" in Path("decks/preview.html").read_text(encoding="utf-8")


def test_init_then_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """init scaffolds a project that builds; a second init keeps every file."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["init", "proj"])
    assert (
        result.stdout
        == "created proj/notes/example.md\ncreated proj/decks/.gitignore\ncreated proj/dlcards.toml\n"
    )
    assert runner.invoke(main, ["init", "proj"]).stdout.count("kept ") == 3
    monkeypatch.chdir(tmp_path / "proj")
    result = runner.invoke(main, ["build"])
    assert result.stdout == "decks/example.apkg: 3 notes (3 new, 0 updated, 0 unchanged)\n"


def test_config_file_settings_and_command_line_precedence(runner: CliRunner) -> None:
    """dlcards.toml sets the folders and packaging; command-line options win."""
    Path("notes").rename("vault")
    Path("dlcards.toml").write_text(
        'notes = "vault"\ndecks = "out"\npackaging = "single"\n', encoding="utf-8"
    )
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "out/all.apkg: 3 notes (3 new, 0 updated, 0 unchanged)\n"
    result = runner.invoke(main, ["-v", "build", "--decks", "elsewhere", "--output", "one.apkg"])
    assert result.stderr.startswith("settings from dlcards.toml\n")
    assert result.stdout == "one.apkg: 3 notes (3 new, 0 updated, 0 unchanged)\n"


def test_bad_config_exits_1_naming_it(runner: CliRunner) -> None:
    """An unknown key in dlcards.toml stops every command with a suggestion."""
    Path("dlcards.toml").write_text('note = "x"\n', encoding="utf-8")
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 1
    assert result.stderr.endswith("dlcards.toml: unknown key 'note'; did you mean 'notes'?\n")


def test_quiet_and_colour(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """--quiet prints nothing on success; colour only when asked for and never with NO_COLOR."""
    assert runner.invoke(main, ["-q", "build"]).output == ""
    coloured = runner.invoke(main, ["build"], color=True).stdout
    assert "\x1b[" not in coloured  # nothing changed: nothing to highlight
    Path("notes/ci.md").write_text(
        BODY + "\n### Q1- What is CD?\n\nShipping every change.\n", encoding="utf-8"
    )
    assert "\x1b[32m" in runner.invoke(main, ["build"], color=True).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    Path("notes/ci.md").write_text(BODY, encoding="utf-8")
    assert "\x1b[" not in runner.invoke(main, ["build"], color=True).output


@pytest.mark.parametrize("command", ["build", "check", "show", "preview", "watch", "init", "plan", "forget"])
def test_every_command_has_help_with_an_example(runner: CliRunner, command: str) -> None:
    """`dlcards COMMAND --help` exits 0 and shows an example."""
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and f"dlcards {command}" in result.output


def test_plan_build_forget_cycle_for_a_removed_question(runner: CliRunner) -> None:
    """plan predicts, build reports the removed question with its Anki search, forget drops it."""
    Path("notes/testing.md").unlink()
    Path("notes/t.md").write_text("### What is A?\n\n**Answer:** a\n\n### What is B?\n\n**Answer:** b\n")
    assert runner.invoke(main, ["-q", "build"]).exit_code == 0
    Path("notes/t.md").write_text("### What is A?\n\n**Answer:** a changed\n")
    plan = runner.invoke(main, ["plan", "notes"])
    assert plan.exit_code == 2  # plan takes no paths
    plan = runner.invoke(main, ["plan"])
    assert plan.exit_code == 0, plan.output
    assert plan.stdout == (
        "decks/ci.apkg: 0 new, 0 updated, 1 unchanged\n"
        "decks/t.apkg: 0 new, 1 updated (Answer), 0 unchanged, 1 removed\n"
        "updated:\n"
        "  notes/t.md:1: What is A? (Answer)\n"
        "removed from notes:\n"
        "  notes/t.md: What is B?\n"
        "  Anki search: tag:dlcards::removed\n"
    )
    assert not any(p.name.startswith("plan") for p in Path("decks").iterdir())
    build = runner.invoke(main, ["build"])
    assert build.stdout == (
        "1 question left the notes; Anki never deletes on import. After importing, delete its note in "
        "Anki's browser, then run `dlcards forget`:\n"
        "  notes/t.md: What is B?\n"
        "  Anki search: tag:dlcards::removed\n"
        "decks/ci.apkg: 1 note (0 new, 0 updated, 1 unchanged)\n"
        "decks/t.apkg: 2 notes (0 new, 1 updated, 0 unchanged, 1 removed)\n"
    )
    forget = runner.invoke(main, ["forget"])
    assert forget.exit_code == 0
    assert forget.stdout.endswith(": notes/t.md: What is B?\n1 removed question forgotten\n")
    assert runner.invoke(main, ["forget"]).stdout == "nothing to forget\n"
    assert runner.invoke(main, ["build"]).stdout.endswith(
        "decks/t.apkg: 1 note (0 new, 0 updated, 1 unchanged)\n"
    )


def test_config_names_decks_by_folder_and_adds_tags(runner: CliRunner) -> None:
    """[deck_names] renames the deck of a folder (its subfolders become subdecks), and
    tags are added to every note; a deck in front matter still wins."""
    Path("notes/testing.md").unlink()
    Path("notes/ops/deploy").mkdir(parents=True)
    Path("notes/ops/deploy/rollout.md").write_text(
        "### What is a canary?\n\n**Answer:** A small first release.\n"
    )
    Path("notes/pinned.md").write_text("---\ndeck: Mine\n---\n### Why pin?\n\n**Answer:** To stay put.\n")
    Path("dlcards.toml").write_text(
        'tags = ["prep", "team work"]\n[deck_names]\n"ops" = "Operations"\n"pinned.md" = "Ignored"\n',
        encoding="utf-8",
    )
    rows = json.loads(runner.invoke(main, ["show", "--format", "json"]).stdout)
    assert [(r["deck"], r["question"]["tags"]) for r in rows] == [
        ("Ci", ["prep", "team_work"]),
        ("Operations::Deploy::Rollout", ["prep", "team_work"]),
        ("Mine", ["prep", "team_work"]),
    ]


def test_progress_bar_shows_on_a_terminal_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bar appears only on a terminal and only once a build has run for a second;
    it is cleared at the end. Piped output never gets one (see the exact-output tests)."""
    import io
    import sys
    import time

    from dlcards.cli import _Progress, _Settings

    terminal = io.StringIO()
    terminal.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr(sys, "stderr", terminal)
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    with _Progress(_Settings()) as progress:
        progress(1, 10)
        assert terminal.getvalue() == ""
        now[0] += 1.5
        progress(5, 10)
        assert terminal.getvalue() == "\rbuilding [###############---------------] 5/10 files"
    assert terminal.getvalue().endswith("\r\x1b[K")
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with _Progress(_Settings()) as progress:
        now[0] += 5
        progress(5, 10)
    assert piped.getvalue() == ""
