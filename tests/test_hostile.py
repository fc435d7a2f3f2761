"""Hostile notes: whatever a notes tree holds, the build says what is wrong or copes.

Text that tries to break out of an Anki field, YAML that tries to run code or blow
up, links that lead out of the notes folder or round in circles, files that are
huge, not files at all, or gone by the time they are read. Each gets an error that
names the file (and line, where there is one) or is handled, nothing else escapes,
and whatever is built still imports into Anki with a clean "Check Database".
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from anki_import import check_database, collection_notes, import_packages, open_collection, package_notes
from click.testing import CliRunner
from conftest import Project

from dlcards import read
from dlcards.cli import main
from dlcards.errors import BuildFailed, DlcardsError, Problem, Severity
from dlcards.model import BuildReport

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
QUESTION = "### What does a cache store?\n\n**Answer:** Recently used data.\n"


def failed(project: Project) -> list[Problem]:
    """The problems of a build that must fail, after checking it wrote nothing."""
    with pytest.raises(BuildFailed) as caught:
        project.build()
    assert not project.decks.exists(), "a failed build wrote something"
    return caught.value.problems


def errors(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity is Severity.ERROR]


def packages(project: Project, report: BuildReport) -> list[Path]:
    return [project.decks / p.filename for p in report.packages]


def assert_imports_cleanly(project: Project, report: BuildReport, tmp_path: Path) -> dict[str, list[str]]:
    """Import every package into a fresh collection: no note rejected, Check Database clean,
    and every field exactly as dlcards wrote it. Returns the notes by guid."""
    written: dict[str, list[str]] = {}
    for package in packages(project, report):
        written |= package_notes(package)
    col = open_collection(tmp_path / "anki" / "collection.anki2")
    try:
        assert import_packages(col, packages(project, report)) == 0
        stored = collection_notes(col)
        assert check_database(col) == []
    finally:
        col.close(downgrade=False)
    assert stored == written
    for fields in written.values():
        assert len(fields) == 5
        assert fields[0], "an empty first field gives a note without cards"
        assert not any(CONTROL.search(f) for f in fields), fields
    return written


# --- text that tries to break out of a field ----------------------------------------------

BREAKOUT = (
    "---\n"
    'tags: ["sep\\x1fin", "bell\\x07", "lone\\ud800half", "zero\\u200bwidth"]\n'
    "---\n"
    "### What\x1f does\x01 the\x7f separator\x0b do\x0c?\n"
    "\n"
    "Prompt with\x1f a unit separator, C1\u0085\u009f controls and a line\u2028separator.\n"
    "\n"
    "**Answer:** It\x1fends\x1e a\x1d field\x1c in\x02 Anki's\x08 storage \u202eright-to-left\u202c, "
    "byte order mark\ufeff inside.\n"
    "\n"
    "**Discussion Points:**\n"
    "\n"
    "- What if\x1f a field holds it?\x1b[31m\n"
    "\n"
    "### {{Answer}} {{#Question}}template{{/Question}} <script>alert(1)</script>?\n"
    "\n"
    "**Answer:** {{c1::cloze}} <img src=\"https://example.org/x.png\" onerror=alert(1)> "
    "<b onclick=alert(1)>bold</b> &#x1f; &#0; \\x1f\n"
)


def test_control_characters_never_reach_a_field_and_the_package_imports_cleanly(
    project: Project, tmp_path: Path
) -> None:
    """`\\x1f` (Anki's field separator) and every other control character is kept off the
    cards; template syntax stays text and raw HTML is sanitized; Anki stores exactly what
    was written."""
    project.write("breakout.md", BREAKOUT, dedent=False)
    report = project.build()
    notes = assert_imports_cleanly(project, report, tmp_path)
    assert len(notes) == 2
    first, second = sorted(notes.values(), key=lambda f: "template" in f[0])
    assert first[0].startswith('<div class="dlc-title">What does the separator do?</div>')
    assert "Prompt with a unit separator, C1 controls and a line\u2028separator." in first[0]
    assert "Itends a field in Anki's storage" in first[1]
    assert "What if a field holds it?[31m" in first[2]
    assert "{{Answer}} {{#Question}}template{{/Question}}" in second[0]
    assert "<script" not in "".join(second) and "alert(1)" not in "".join(second)
    assert "<b>bold</b>" in second[0] and '<a href="https://example.org/x.png">' in second[0]


def test_tags_from_yaml_escapes_keep_only_printable_characters() -> None:
    """YAML escapes can spell any character; a tag keeps only printable ones."""
    source, problems = read.read_source(BREAKOUT.encode(), path="t.md", display_path="notes/t.md")
    assert problems == [] and source is not None
    assert source.tags == ("sep_in", "bell", "lonehalf", "zerowidth")


def test_nul_byte_is_an_error_at_its_line(project: Project) -> None:
    (project.notes / "nul.md").write_bytes(b"### Q?\n\n**Answer:** a\x00b\n")
    assert errors(failed(project)) == [
        "error: notes/nul.md:3: NUL byte: this is not a text file (save it as UTF-8 text)"
    ]


@pytest.mark.parametrize(
    ("bad", "byte"),
    [
        (b"\xed\xa0\x80", "0xed"),  # a lone surrogate, UTF-8 encoded
        (b"\xc0\xaf", "0xc0"),  # an overlong "/"
        (b"\xe2\x82", "0xe2"),  # a sequence cut short
        (b"\x80", "0x80"),  # a stray continuation byte
        (b"\xff", "0xff"),
    ],
)
def test_invalid_utf8_is_an_error_at_its_line(project: Project, bad: bytes, byte: str) -> None:
    (project.notes / "bad.md").write_bytes(b"### Q?\n\n**Answer:** ok " + bad + b" rest\n")
    assert errors(failed(project)) == [
        f"error: notes/bad.md:3: not valid UTF-8 (byte {byte}); save the file as UTF-8"
    ]


def test_utf16_file_is_an_error_that_says_so(project: Project) -> None:
    (project.notes / "wide.md").write_bytes(QUESTION.encode("utf-16"))
    assert errors(failed(project)) == ["error: notes/wide.md:1: the file is UTF-16 text; save it as UTF-8"]


@pytest.mark.parametrize("name", [b"bad\xffname.md", b"ctl\x1fname.md", b"new\nline.md"])
def test_file_names_that_are_not_printable_utf8_are_refused(project: Project, name: bytes) -> None:
    """A file name becomes the Source field and the deck: it must be printable text.
    The error names the file in a form a terminal can show."""
    (project.notes / os.fsdecode(name)).write_bytes(QUESTION.encode())
    [message] = errors(failed(project))
    assert message.startswith("error: notes/") and "rename the file" in message
    assert message.isprintable()
    message.encode("utf-8")  # no lone surrogates left to crash the terminal


@pytest.mark.parametrize("deck", ["A\\x1fB", "A\\ud800", "A\\tB", "A::\\x00"])
def test_deck_names_with_control_characters_are_refused(project: Project, deck: str) -> None:
    project.write("d.md", f'---\ndeck: "{deck}"\n---\n{QUESTION}', dedent=False)
    [message] = errors(failed(project))
    assert message.startswith("error: notes/d.md:2: deck name ")
    assert message.endswith("holds a control character")


@pytest.mark.parametrize("name", ["::.md", "a/::/b.md", "   .md"])
def test_paths_that_give_a_deck_an_empty_name_are_refused(project: Project, name: str) -> None:
    project.write(name, QUESTION, dedent=False)
    [message] = errors(failed(project))
    assert message.startswith(f"error: notes/{name}: the file's path gives the deck name")


# --- YAML ----------------------------------------------------------------------------------


def front_matter(yaml_text: str) -> str:
    return f"---\n{yaml_text}\n---\n{QUESTION}"


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:builtins.open [{marker!r}, 'w']",
        "!!python/object/new:builtins.open [{marker!r}, 'w']",
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/object:pathlib.PosixPath {{}}",
    ],
)
def test_yaml_tags_that_construct_objects_are_errors_and_never_run(
    project: Project, tmp_path: Path, tag: str
) -> None:
    """Front matter is only ever loaded as plain data: no constructor of a Python object
    runs (the marker file is never created), and the build names the file and line."""
    marker = tmp_path / "pwned"
    project.write("evil.md", front_matter("tags: [a]\nlast: " + tag.format(marker=str(marker))), dedent=False)
    [message] = errors(failed(project))
    assert message.startswith("error: notes/evil.md:3: invalid YAML in front matter: ")
    assert "tag:yaml.org,2002:python/" in message
    assert not marker.exists()


LAUGHS = "\n".join(
    [
        "lol0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)),
        "tags: *l8",
    ]
)
MAP_LAUGHS = "\n".join(
    [
        "m0: &m0 {a: x, b: x, c: x, d: x, e: x, f: x, g: x, h: x, i: x, j: x}",
        *(f"m{i}: &m{i} {{{', '.join(f'k{k}: *m{i - 1}' for k in range(10))}}}" for i in range(1, 9)),
    ]
)
MERGE_LAUGHS = "\n".join(
    [
        "b0: &b0 {x: 1}",
        *(f"b{i}: &b{i} {{<<: [*b{i - 1}], l: [*b{i - 1}, *b{i - 1}, *b{i - 1}]}}" for i in range(1, 30)),
    ]
)


@pytest.mark.parametrize(
    ("bomb", "line"), [(LAUGHS, 5), (MAP_LAUGHS, 5), (MERGE_LAUGHS, 8)], ids=["lists", "maps", "merges"]
)
def test_yaml_bombs_are_errors_at_their_line(project: Project, bomb: str, line: int) -> None:
    """Aliases that multiply into billions of values stop the build at the line where
    the expansion passes the limit, instead of handing on a value no one could walk."""
    project.write("bomb.md", front_matter(bomb), dedent=False)
    assert errors(failed(project)) == [
        f"error: notes/bomb.md:{line}: invalid YAML in front matter: aliases here expand to more "
        "than 10000 values (a YAML bomb?)"
    ]


def test_modest_aliases_are_fine(project: Project) -> None:
    project.write(
        "ok.md",
        front_matter("common: &c [ml, basics]\ntags: *c\nbase: &b {x: 1}\nmerged: {<<: *b, y: 2}"),
        dedent=False,
    )
    assert project.build().packages[0].notes == 1


@pytest.mark.parametrize("cycle", ["a: &a [*a]", "a: &a {self: *a}", "a: &a {<<: *a}"])
def test_an_alias_inside_its_own_value_is_an_error(project: Project, cycle: str) -> None:
    project.write("cycle.md", front_matter(cycle), dedent=False)
    assert errors(failed(project)) == [
        "error: notes/cycle.md:2: invalid YAML in front matter: an alias refers to the value that contains it"
    ]


@pytest.mark.parametrize(
    ("nested", "line"),
    [
        ("a: " + "[" * 10_000, 2),
        ("a: " + "{x: " * 10_000, 2),
        ("a:\n" + "- " * 10_000 + "x", 3),
        ("a0: &a0 {x: 1}\n" + "".join(f"a{i}: &a{i} {{<<: *a{i - 1}}}\n" for i in range(1, 2000)), 65),
    ],
    ids=["flow-lists", "flow-maps", "block-lists", "merge-chain"],
)
def test_deeply_nested_yaml_is_an_error_not_a_recursion_error(
    project: Project, nested: str, line: int
) -> None:
    """10,000 levels of YAML nesting (or a chain of merges) is refused at its line; the
    loader never recurses that deep."""
    limit = sys.getrecursionlimit()
    project.write("deep.md", front_matter(nested), dedent=False)
    [message] = errors(failed(project))
    assert message.startswith(f"error: notes/deep.md:{line}: invalid YAML in front matter: ")
    assert "more than 64 levels deep" in message
    assert sys.getrecursionlimit() == limit


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1" * 5000, "a number longer than 256 digits"),
        ("0x" + "f" * 5000, "a number longer than 256 digits"),
        ("!!timestamp not-a-date", "cannot read this value"),
        ("!!int twelve", "cannot read this value"),
        ("!!float many", "cannot read this value"),
        ("!!binary not*base64", "failed to decode base64 data"),
    ],
)
def test_values_yaml_cannot_build_are_errors_at_their_line(project: Project, value: str, reason: str) -> None:
    """Python refuses to print integers over 4300 digits; PyYAML's typed values raise
    whatever their converter raises. Each becomes an error at its line."""
    project.write("v.md", front_matter(f"title: x\ntags: {value}"), dedent=False)
    [message] = errors(failed(project))
    assert message.startswith(f"error: notes/v.md:3: invalid YAML in front matter: {reason}")


def test_control_character_in_front_matter_is_an_error_at_its_line(project: Project) -> None:
    """YAML refuses raw control characters; found by fuzz/fuzz_build.py (it used to escape)."""
    project.write("ctl.md", front_matter("title: x\ntags: [a]\x1f"), dedent=False)
    assert errors(failed(project)) == [
        "error: notes/ctl.md:3: invalid YAML in front matter: special characters are not allowed (U+001F)"
    ]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_yaml_errors_count_lines_as_the_file_does(project: Project, separator: str) -> None:
    """YAML counts U+2028, U+2029 and NEL as line breaks; the file's lines are its
    newlines, so the error points at the line an editor shows. (Found by atheris.)"""
    project.write(
        "sep.md", front_matter(f"title: x\nnote: a{separator}b{separator}c\ntags: [a]"), dedent=False
    )
    assert errors(failed(project)) == [
        "error: notes/sep.md:3: invalid YAML in front matter: could not find expected ':'"
    ]


def test_front_matter_over_the_limit_is_an_error(project: Project) -> None:
    project.write("long.md", front_matter("notes: " + "x" * 70_000), dedent=False)
    assert errors(failed(project)) == [
        "error: notes/long.md:2: front matter is longer than 64 KB; keep long text in the notes body"
    ]


# --- the notes tree: links, special files, huge files, files that vanish ---------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.md").write_text("### What is the secret?\n\n**Answer:** hunter2\n", encoding="utf-8")
    return folder


def test_link_to_a_file_outside_the_notes_is_refused(project: Project, outside: Path) -> None:
    """A notes file that resolves outside the notes folder is never read: the error names it."""
    project.write("ok.md", QUESTION, dedent=False)
    (project.notes / "leak.md").symlink_to(outside / "secret.md")
    (project.notes / "sub").mkdir()
    (project.notes / "sub" / "relative.md").symlink_to(Path("..") / ".." / "elsewhere" / "secret.md")
    messages = errors(failed(project))
    real = os.path.realpath(outside / "secret.md")
    assert messages == [
        f"error: notes/leak.md: is a link to {real}, outside notes; dlcards only reads notes inside notes "
        "(move the file in, or remove the link)",
        f"error: notes/sub/relative.md: is a link to {real}, outside notes; dlcards only reads notes "
        "inside notes (move the file in, or remove the link)",
    ]


def test_link_to_a_file_inside_the_notes_is_read(project: Project) -> None:
    project.write("a/real.md", QUESTION, dedent=False)
    (project.notes / "b").mkdir()
    (project.notes / "b" / "alias.md").symlink_to(Path("..") / "a" / "real.md")
    report = project.build()
    assert sorted(p.filename for p in report.packages) == ["a.apkg", "b.apkg"]


def test_notes_folder_itself_may_be_a_link(tmp_path: Path, project: Project) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "v.md").write_text(QUESTION, encoding="utf-8")
    project.notes.rmdir()
    project.notes.symlink_to(vault)
    assert project.build().packages[0].notes == 1


def test_link_to_a_folder_outside_is_not_followed_and_says_so(
    project: Project, outside: Path, tmp_path: Path
) -> None:
    project.write("ok.md", QUESTION, dedent=False)
    (project.notes / "shared").symlink_to(outside)
    report = project.build()
    assert [str(w) for w in report.warnings] == [
        f"warning: notes/shared: is a link to the folder {os.path.realpath(outside)}, outside notes; links "
        "are not followed, so its notes are not read (move the folder into notes)"
    ]
    notes = assert_imports_cleanly(project, report, tmp_path)
    assert [f[0] for f in notes.values()] == ["What does a cache store?"]


def test_link_loops_never_trap_the_walk(project: Project, tmp_path: Path) -> None:
    """Links to folders are not followed, so a loop through them is harmless."""
    project.write("sub/ok.md", QUESTION, dedent=False)
    (project.notes / "sub" / "up").symlink_to(Path(".."))
    (project.notes / "sub" / "round").symlink_to(project.notes)
    (project.notes / "self").symlink_to(Path("self"))
    report = project.build()
    assert report.warnings == ()
    assert_imports_cleanly(project, report, tmp_path)


def test_file_link_loop_and_dangling_link_are_errors_naming_them(project: Project) -> None:
    project.write("ok.md", QUESTION, dedent=False)
    (project.notes / "loop.md").symlink_to(Path("loop.md"))
    (project.notes / "ping.md").symlink_to(Path("pong.md"))
    (project.notes / "pong.md").symlink_to(Path("ping.md"))
    (project.notes / "gone.md").symlink_to(Path("nowhere.md"))
    assert errors(failed(project)) == [
        "error: notes/gone.md: is a link to nowhere.md, which does not exist; fix or remove the link",
        "error: notes/loop.md: is a symbolic link that loops back on itself; fix or remove the link",
        "error: notes/ping.md: is a symbolic link that loops back on itself; fix or remove the link",
        "error: notes/pong.md: is a symbolic link that loops back on itself; fix or remove the link",
    ]


def build_in_thread(project: Project, seconds: float = 20) -> BaseException | BuildReport:
    """Build in a daemon thread: a build that blocks forever fails the test instead of hanging it."""
    outcome: list[BaseException | BuildReport] = []

    def run() -> None:
        try:
            outcome.append(project.build())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the build hangs"
    return outcome[0]


def test_fifo_is_refused_without_waiting_for_a_writer(project: Project) -> None:
    project.write("ok.md", QUESTION, dedent=False)
    os.mkfifo(project.notes / "pipe.md")
    outcome = build_in_thread(project)
    assert isinstance(outcome, BuildFailed)
    assert errors(outcome.problems) == [
        "error: notes/pipe.md: is not an ordinary file (a FIFO, socket or device); dlcards reads only "
        "ordinary files"
    ]


def test_file_over_the_size_limit_is_refused_before_it_is_read(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("ok.md", QUESTION, dedent=False)
    with open(project.notes / "huge.md", "wb") as fh:
        fh.truncate(read.MAX_FILE_BYTES + 1)  # sparse: no disk used, all NUL bytes if read
    real_read = os.read
    taken = 0

    def counting_read(fd: int, n: int) -> bytes:
        nonlocal taken
        data = real_read(fd, n)
        taken += len(data)
        return data

    monkeypatch.setattr(read.os, "read", counting_read)
    assert errors(failed(project)) == [
        "error: notes/huge.md: is 32 MB; notes files over 32 MB are not read (split it into smaller files)"
    ]
    assert taken == len(QUESTION.encode())  # ok.md only


def test_file_that_grows_while_it_is_read_is_refused_without_reading_it_all(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size checked when the file is opened may be stale (a file still being written):
    reading stops once past the limit, whatever the file holds by then."""
    project.write("ok.md", QUESTION, dedent=False)
    with open(project.notes / "growing.md", "wb") as fh:
        fh.truncate(3 * read.MAX_FILE_BYTES)
    real_fstat, real_read = os.fstat, os.read
    taken = 0

    def fstat_when_small(fd: int) -> os.stat_result:
        info = real_fstat(fd)
        return os.stat_result((info.st_mode, *info[1:6], 10, *info[7:]))  # st_size: 10 bytes

    def counting_read(fd: int, n: int) -> bytes:
        nonlocal taken
        data = real_read(fd, n)
        taken += len(data)
        return data

    monkeypatch.setattr(read.os, "fstat", fstat_when_small)
    monkeypatch.setattr(read.os, "read", counting_read)
    [message] = errors(failed(project))
    assert message.startswith("error: notes/growing.md: is 33 MB; notes files over 32 MB are not read")
    assert taken <= read.MAX_FILE_BYTES + 2 * 1024 * 1024


def test_file_deleted_between_listing_and_reading_is_a_clear_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("a.md", QUESTION, dedent=False)
    project.write("b.md", QUESTION.replace("cache", "queue"), dedent=False)
    real_find = read.find_note_files

    def find_then_delete(root: Path, display_root: str) -> tuple[list[Path], list[Problem]]:
        found = real_find(root, display_root)
        (project.notes / "b.md").unlink()
        return found

    monkeypatch.setattr(read, "find_note_files", find_then_delete)
    assert errors(failed(project)) == [
        "error: notes/b.md: was moved or deleted while the build was reading the notes; run the build again"
    ]


def test_folder_deleted_while_the_notes_are_walked_is_a_clear_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("a.md", QUESTION, dedent=False)
    project.write("sub/b.md", QUESTION.replace("cache", "queue"), dedent=False)
    real_scandir = os.scandir
    doomed = project.notes / "sub"

    def scandir_after_delete(path: Path | str | int) -> Iterator[os.DirEntry[str]]:
        if isinstance(path, Path | str) and Path(path) == doomed and doomed.exists():
            shutil.rmtree(doomed)
        return real_scandir(path)

    monkeypatch.setattr(read.os, "scandir", scandir_after_delete)
    assert errors(failed(project)) == [
        "error: notes/sub: folder was moved or deleted while the build was reading the notes; run the "
        "build again"
    ]


def test_notes_changing_during_builds_never_crash(project: Project) -> None:
    """A tree that changes under the build (files and folders created, rewritten, renamed,
    deleted) gives a report or a clear error on every build, never a traceback."""
    for i in range(5):
        project.write(f"keep{i}.md", QUESTION.replace("cache", f"cache {i}"), dedent=False)
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            folder = project.notes / f"churn{n % 3}"
            try:
                folder.mkdir(exist_ok=True)
                (folder / "x.md").write_text(QUESTION.replace("cache", f"churn {n}"), encoding="utf-8")
                (folder / "x.md").rename(folder / "y.md")
                shutil.rmtree(folder)
            except OSError:
                pass  # the other side of the race, on our side

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for _ in range(25):
            try:
                report = project.build()
            except BuildFailed as exc:
                assert all(p.path.startswith("notes/") for p in exc.problems), exc.problems
            except DlcardsError:
                pass
            else:
                assert sum(p.notes for p in report.packages) >= 5
            project.clock.advance()
    finally:
        stop.set()
        thread.join()


def test_the_command_line_reports_hostile_notes_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outside: Path
) -> None:
    """`dlcards build` on a tree with a bomb, a link out, an undecodable file name and
    a FIFO: exit 1, one printable `error:` line each, nothing written, no traceback."""
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ok.md").write_text(QUESTION, encoding="utf-8")
    (notes / "bomb.md").write_text(front_matter(LAUGHS), encoding="utf-8")
    (notes / "leak.md").symlink_to(outside / "secret.md")
    (notes / os.fsdecode(b"bad\xffname.md")).write_text(QUESTION, encoding="utf-8")
    os.mkfifo(notes / "pipe.md")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines if line.startswith("error:")] == [
        "notes/bad\ufffdname.md",
        "notes/bomb.md",
        "notes/leak.md",
        "notes/pipe.md",
    ]
    assert all(line.isprintable() for line in lines)
    assert not (tmp_path / "decks").exists()
