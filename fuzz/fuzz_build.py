"""Coverage-guided fuzzing of `dlcards build` with atheris (libFuzzer for Python).

Each input is the bytes of one notes file, run through the whole build (read, parse,
render, identify, package). The contract, the same as tests/test_fuzz.py checks with
hypothesis: the build returns a report, or raises BuildFailed whose every problem
names the file and a line in it (or the notes folder as a whole), or a DlcardsError.
Anything else (another exception, a RecursionError, a package whose fields Anki would
choke on) is a crash; libFuzzer's -timeout turns a hang into one too.

    make fuzz                                     # 60 s, then the big-input benchmark
    make fuzz FUZZ_TIME=600
    .venv/bin/python fuzz/fuzz_build.py CRASHFILE # replay one input

dlcards and the libraries it imports (mistune, PyYAML, genanki) are instrumented, so
libFuzzer steers towards new paths through the parser as well as our code.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from dlcards.build import BuildOptions, build
    from dlcards.errors import BuildFailed, DlcardsError, Problem

NOTES_FILE = "fuzz.md"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# tmpfs where there is one: the build fsyncs what it writes.
WORK = Path(tempfile.mkdtemp(prefix="dlcards-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))


def check_problem(problem: Problem, lines: int) -> None:
    if problem.path == f"notes/{NOTES_FILE}":
        if not 1 <= problem.line <= lines:
            raise AssertionError(f"line {problem.line} outside the file's {lines} lines: {problem}")
    elif (problem.path, problem.line) != ("notes", 0):
        raise AssertionError(f"problem without a location in the notes: {problem!r}")


def check_package(package: Path) -> None:
    """Five fields, a non-empty first one, NFC, no control characters: what Anki needs."""
    with zipfile.ZipFile(package) as zf:
        zf.extract("collection.anki2", WORK)
    conn = sqlite3.connect(WORK / "collection.anki2")
    try:
        rows = conn.execute("select flds from notes").fetchall()
    finally:
        conn.close()
    for (flds,) in rows:
        fields = str(flds).split("\x1f")
        if len(fields) != 5 or not fields[0].strip():
            raise AssertionError(f"bad fields: {fields!r}")
        for value in fields:
            if CONTROL.search(value) or not unicodedata.is_normalized("NFC", value):
                raise AssertionError(f"field Anki would choke on: {value!r}")


def test_one_input(data: bytes) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    notes, decks = WORK / "notes", WORK / "decks"
    notes.mkdir(parents=True)
    (notes / NOTES_FILE).write_bytes(data)
    lines = len(re.split(rb"\r\n|\r|\n", data))
    try:
        report = build(
            BuildOptions(notes_dir=notes, decks_dir=decks), clock=lambda: 1_800_000_000.0, wait=lambda s: None
        )
    except BuildFailed as exc:
        for problem in exc.problems:
            check_problem(problem, lines)
        return
    except DlcardsError:
        return
    for problem in report.warnings:
        check_problem(problem, lines)
    for summary in report.packages:
        check_package(decks / summary.filename)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
