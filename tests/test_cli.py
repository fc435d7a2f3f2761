"""The command line: exact output and exit codes, and nothing written on error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dlcards.cli import main
from dlcards.lockfile import lock_checksum

GOOD = """\
---
tags: [cli, test]
---

### 1. What does the CLI print?

**Answer:**

One line per package.

### 2. Which exit code marks bad notes?

**Answer:** 1, with the file and line of each problem.
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    return CliRunner()


def write(rel: str, content: str | bytes) -> Path:
    path = Path("notes") / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_build_prints_one_summary_line_per_package(runner: CliRunner) -> None:
    """`dlcards build` reads notes/, writes decks/<top deck>.apkg and the lockfile, exit 0."""
    write("cli-basics.md", GOOD)
    write("more/other.md", GOOD.replace("CLI print", "build print"))
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "decks/cli-basics.apkg: 2 notes (2 new, 0 updated, 0 unchanged)\n"
        "decks/more.apkg: 2 notes (2 new, 0 updated, 0 unchanged)\n"
    )
    assert sorted(p.name for p in Path("decks").iterdir()) == [
        ".dlcards.build-lock",
        "cli-basics.apkg",
        "dlcards.lock",
        "more.apkg",
    ]
    again = runner.invoke(main, ["build"])
    assert again.stdout == (
        "decks/cli-basics.apkg: 2 notes (0 new, 0 updated, 2 unchanged)\n"
        "decks/more.apkg: 2 notes (0 new, 0 updated, 2 unchanged)\n"
    )


def test_output_option_writes_everything_into_one_package(runner: CliRunner) -> None:
    """`--output FILE` puts every deck into one package."""
    write("a.md", GOOD)
    write("b.md", GOOD.replace("CLI print", "build print"))
    result = runner.invoke(main, ["build", "--output", "all.apkg"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "all.apkg: 4 notes (4 new, 0 updated, 0 unchanged)\n"
    assert Path("all.apkg").is_file()
    assert not list(Path("decks").glob("*.apkg"))


def test_warnings_name_file_and_line_and_do_not_fail(runner: CliRunner) -> None:
    """A question-like heading without an answer label is a warning with file:line, no card."""
    write("w.md", GOOD + "\n### 3. Where is my answer?\n\nI forgot the label.\n")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: notes/w.md:15: heading 'Where is my answer?' looks like a question but has no "
        "answer label (add a '**Answer:**' line under it); no card made\n"
    )
    assert result.stdout == "decks/w.apkg: 2 notes (2 new, 0 updated, 0 unchanged)\n"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"bad-yaml.md": "---\ntags: [unclosed\nother: 1\n---\n" + GOOD},
            "error: notes/bad-yaml.md:3: invalid YAML in front matter: ",
        ),
        (
            {"latin1.md": GOOD.encode() + "\n### 3. Caf\xe9?\n\n**Answer:** yes\n".encode("latin-1")},
            "error: notes/latin1.md:15: not valid UTF-8 (byte 0xe9); save the file as UTF-8",
        ),
        (
            {
                "x.md": GOOD,
                "y.md": "---\ndeck: X\n---\n\n### What does the CLI print?\n\n**Answer:** twice\n",
            },
            "error: notes/y.md:5: the same question is already in deck 'X' at notes/x.md:5; "
            "merge them or reword one",
        ),
        (
            {"open.md": "---\ntags: a\n\n### Q?\n\n**Answer:** a\n"},
            "error: notes/open.md:1: front matter opened with '---' is never closed",
        ),
        (
            {"nul.md": b"### Q?\n\n**Answer:** a\x00b\n"},
            "error: notes/nul.md:3: NUL byte: this is not a text file",
        ),
    ],
    ids=["invalid-yaml", "not-utf8", "duplicate-question", "unclosed-front-matter", "nul-byte"],
)
def test_bad_notes_fail_with_location_and_write_nothing(
    runner: CliRunner, files: dict[str, str | bytes], expected: str
) -> None:
    """Bad input: `error: file:line: ...`, exit 1, no traceback, decks and lockfile untouched."""
    write("fine.md", GOOD.replace("CLI print", "fine file print"))
    assert runner.invoke(main, ["build"]).exit_code == 0
    before = snapshot(Path("decks"))
    for rel, content in files.items():
        write(rel, content)
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert expected in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.endswith("; nothing was written\n")
    assert snapshot(Path("decks")) == before


def test_all_problems_in_all_files_are_reported_in_one_run(runner: CliRunner) -> None:
    """Two broken files: both errors are printed in one run."""
    write("a.md", "---\n: : :\n---\n")
    write("b.md", b"\xff\xfe")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()[:2]] == [
        "notes/a.md",
        "notes/b.md",
    ]
    assert result.stderr.splitlines()[-1] == "dlcards: 2 errors; nothing was written"


def test_missing_and_empty_notes_directories(runner: CliRunner) -> None:
    """No notes folder, or one without .md files: a clear error and exit 1."""
    result = runner.invoke(main, ["build", "--notes", "nowhere"])
    assert result.exit_code == 1
    assert result.stderr == "error: nowhere: no such notes directory (create it, or pass --notes DIR)\n"
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert result.stderr == "error: notes: no .md files found; nothing to build\n"


def test_notes_without_questions_fail(runner: CliRunner) -> None:
    """Markdown files with no question at all: exit 1 with a hint, nothing written."""
    write("plain.md", "# Just a page\n\nNo questions here.\n")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert "error: notes: no questions found" in result.stderr
    assert not Path("decks").exists()


def test_corrupt_lockfile_stops_the_build_with_a_recovery_hint(runner: CliRunner) -> None:
    """A mangled lockfile is never replaced by fresh guids: exit 1 and a hint."""
    write("a.md", GOOD)
    assert runner.invoke(main, ["build"]).exit_code == 0
    lock = Path("decks/dlcards.lock")
    lock.write_text(lock.read_text()[:-40], encoding="utf-8")
    before = snapshot(Path("decks"))
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: decks/dlcards.lock:")
    assert "is not valid JSON" in result.stderr
    assert "restore it from version control" in result.stderr
    assert snapshot(Path("decks")) == before


def test_lockfile_with_wrong_shape_is_rejected(runner: CliRunner) -> None:
    """Valid JSON that is not a dlcards lockfile is rejected, not overwritten."""
    write("a.md", GOOD)
    Path("decks").mkdir()
    Path("decks/dlcards.lock").write_text(json.dumps({"notes": []}), encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert "does not look like a dlcards lockfile" in result.stderr
    assert json.loads(Path("decks/dlcards.lock").read_text()) == {"notes": []}


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    """Click usage mistakes exit 2."""
    result = runner.invoke(main, ["build", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_help_shows_an_example(runner: CliRunner) -> None:
    """`--help` of the group and of build include an example."""
    assert "dlcards build" in runner.invoke(main, ["--help"]).output
    assert "Example:" in runner.invoke(main, ["build", "--help"]).output


def test_python_dash_m_works(tmp_path: Path) -> None:
    """`python -m dlcards` runs the same CLI."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "m.md").write_text(GOOD, encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-m", "dlcards", "build"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "decks/m.apkg: 2 notes (2 new, 0 updated, 0 unchanged)\n"


@pytest.mark.parametrize(
    "packages",
    [["../victim.txt"], ["/etc/passwd.apkg"], ["sub/x.apkg"], "abc"],
    ids=["parent", "absolute", "subfolder", "not-a-list"],
)
def test_lockfile_cannot_make_the_build_delete_other_files(runner: CliRunner, packages: object) -> None:
    """Package names in the lockfile are checked: a build only ever removes its own .apkg files."""
    write("a.md", GOOD)
    assert runner.invoke(main, ["build"]).exit_code == 0
    Path("victim.txt").write_text("keep me", encoding="utf-8")
    lock = Path("decks/dlcards.lock")
    data = json.loads(lock.read_text(encoding="utf-8"))
    data["packages"] = packages
    lock.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert "does not look like a dlcards lockfile" in result.stderr
    assert Path("victim.txt").read_text(encoding="utf-8") == "keep me"


def test_lockfile_from_the_future_is_refused(runner: CliRunner) -> None:
    """A lockfile whose changes lie in the future (clock skew) stops the build instead of hanging."""
    write("a.md", GOOD)
    assert runner.invoke(main, ["build"]).exit_code == 0
    lock = Path("decks/dlcards.lock")
    data = json.loads(lock.read_text(encoding="utf-8"))
    data["notes"][0]["mod"] += 3600
    data["checksum"] = lock_checksum(data)  # as if a machine with a fast clock had written it
    lock.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert "records changes made in the future; check this computer's clock" in result.stderr


def test_uppercase_md_files_are_read(runner: CliRunner) -> None:
    """`Notes.MD` is a notes file too."""
    write("Upper.MD", GOOD)
    result = runner.invoke(main, ["build"])
    assert result.stdout == "decks/upper.apkg: 2 notes (2 new, 0 updated, 0 unchanged)\n"


def test_lockfile_hint_names_the_file_to_restore(runner: CliRunner) -> None:
    """The recovery hint names the lockfile itself, not file:line."""
    write("a.md", GOOD)
    assert runner.invoke(main, ["build"]).exit_code == 0
    Path("decks/dlcards.lock").write_text("{\n oops\n", encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.stderr.startswith("error: decks/dlcards.lock:2: is not valid JSON")
    assert "git checkout -- decks/dlcards.lock)" in result.stderr
