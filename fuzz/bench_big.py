"""Benchmark: builds of the biggest inputs the issue names, timed at a quarter and full size.

    a 20 MB notes file, a file of 100,000 questions, 5,000 files, 50,000-character
    lines of every inline construct, and 10,000 levels of nesting

Each case is built (the whole build, to packages on disk) at n/4 and at n. Linear
work gives a time ratio near 4 (n² gives 16, and a quadratic part that is still
smaller than the linear rest lands in between): a ratio above 5 for a build that
takes over 2 seconds, an exception other than BuildFailed/DlcardsError, or a build
over the time limit fails the run. Below 2 seconds timings are too noisy to judge.
Timings belong here, not in the test suite: `make fuzz` runs this after the fuzzer.

    .venv/bin/python fuzz/bench_big.py            # every case
    .venv/bin/python fuzz/bench_big.py nesting    # cases whose name contains "nesting"
"""

from __future__ import annotations

import gc
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from dlcards.build import BuildOptions, build
from dlcards.errors import BuildFailed, DlcardsError

LIMIT_SECONDS = 600  # one build; a hang or n² at these sizes blows through it
MAX_RATIO = 5.0
MIN_SECONDS = 2.0  # shorter builds are reported, not judged

WORDS = ["gradient", "tensor", "batch", "layer", "kernel", "cache", "vector", "token", "model", "weight"]


def long_notes(size: int) -> str:
    """Realistic notes of about `size` characters: questions with long answers."""
    rng = random.Random(size)
    parts: list[str] = []
    total = n = 0
    while total < size:
        n += 1
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        block = (
            f"## {n}. What does the {rng.choice(WORDS)} {n} do?\n\n**Answer:** {words}\n\n"
            f"- **{rng.choice(WORDS)}:** {words}\n- `{rng.choice(WORDS)}()` and $x_{n}^2$\n\n"
            f"```python\ndef f{n}(x):\n    return x * {n}\n```\n\n"
            f"| a | b |\n|---|---|\n| {n} | {words[:40]} |\n\n"
            f"**Discussion Points:**\n\n- {words}\n\n"
        )
        parts.append(block)
        total += len(block)
    return "".join(parts)


def questions(count: int) -> str:
    return "".join(
        f"### {i}. What does component {i} of the system do?\n\n**Answer:** It handles part {i}.\n\n"
        for i in range(count)
    )


def many_files(count: int) -> dict[str, str]:
    """count files of two questions in a few folders: every file is a deck of its own."""
    return {f"topic{i % 5}/file-{i}.md": questions(2).replace("component", f"part {i}") for i in range(count)}


def line_of(unit: str) -> Callable[[int], str]:
    return lambda n: "### What is on this line?\n\n**Answer:** " + (unit * (n // len(unit) + 1))[:n] + "\n"


def nested(opening: str, closing: str = "") -> Callable[[int], str]:
    return lambda n: "### What nests?\n\n**Answer:** a\n\n" + opening * n + "x" + closing * n + "\n"


# name -> (make the notes for size n: one file's text, or files by path; full size n)
CASES: dict[str, tuple[Callable[[int], str | dict[str, str]], int]] = {
    "20 MB notes file": (long_notes, 20_000_000),
    "100,000 questions": (questions, 100_000),
    "5,000 files, a deck each": (many_files, 5_000),
    "50,000-char line: words": (line_of("word "), 50_000),
    "50,000-char line: emphasis": (line_of("*a* **b** _c_ "), 50_000),
    "50,000-char line: brackets": (line_of("["), 50_000),
    "50,000-char line: links": (line_of("[a](b) ![c](d) <http://e> "), 50_000),
    "50,000-char line: code spans": (line_of("`a` ``b`` "), 50_000),
    "50,000-char line: math and dollars": (line_of("$x$ $5 $$y$$ "), 50_000),
    "50,000-char line: raw HTML": (line_of("<b>x</b> <!-- c --> &amp; "), 50_000),
    "50,000-char heading": (lambda n: "### " + "word " * (n // 5) + "?\n\n**Answer:** a\n", 50_000),
    "nesting: 10,000 quotes": (nested("> "), 10_000),
    "nesting: 10,000 lists": (nested("- "), 10_000),
    "nesting: 10,000 quoted lists": (nested("> - "), 10_000),
    "nesting: 10,000 links": (nested("[", "](u)"), 10_000),
    "nesting: 10,000 emphasis": (nested("*a ", " b*"), 10_000),
    "nesting: 10,000 strong": (nested("**", "**"), 10_000),
    "nesting: 10,000 HTML": (nested("<div>", "</div>"), 10_000),
}


class Overtime(Exception):
    pass


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Overtime


def timed_build(notes_text: str | dict[str, str]) -> tuple[float, str]:
    """Seconds for one whole build of the notes (one file's text, or files by path), and its outcome."""
    work = Path(tempfile.mkdtemp(prefix="dlcards-bench-"))
    try:
        notes = work / "notes"
        files = {"big.md": notes_text} if isinstance(notes_text, str) else notes_text
        for name, text in files.items():
            (notes / name).parent.mkdir(parents=True, exist_ok=True)
            (notes / name).write_text(text, encoding="utf-8")
        options = BuildOptions(notes_dir=notes, decks_dir=work / "decks")
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(LIMIT_SECONDS)
        # Python's cyclic collector makes building a large heap superlinear by itself and
        # varies from run to run: off while timing, to see the algorithms alone.
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        try:
            report = build(options, clock=time.time, wait=time.sleep)
            outcome = f"{sum(p.notes for p in report.packages)} notes"
        except BuildFailed as exc:
            outcome = f"reported {len(exc.problems)} problems"
        except DlcardsError as exc:
            outcome = f"error: {exc}"
        finally:
            signal.alarm(0)
            gc.enable()
        return time.perf_counter() - start, outcome
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str]) -> int:
    chosen = {name: case for name, case in CASES.items() if not argv or any(a in name for a in argv)}
    failures = 0
    print(f"{'case':38} {'n/4 s':>8} {'n s':>8} {'ratio':>6}  outcome")
    for name, (make, size) in chosen.items():
        try:
            small, _ = timed_build(make(size // 4))
            large, outcome = timed_build(make(size))
        except Overtime:
            print(f"{name:38} FAIL: a build took over {LIMIT_SECONDS} s", flush=True)
            failures += 1
            continue
        except Exception as exc:  # the build's contract allows BuildFailed and DlcardsError only
            print(f"{name:38} FAIL: {type(exc).__name__}: {exc}", flush=True)
            failures += 1
            continue
        ratio = large / max(small, 0.05)
        nonlinear = ratio > MAX_RATIO and large >= MIN_SECONDS
        verdict = f"  FAIL: {ratio:.1f}x the time for 4x the input" if nonlinear else ""
        failures += bool(verdict)
        print(f"{name:38} {small:8.2f} {large:8.2f} {ratio:6.1f}  {outcome}{verdict}", flush=True)
    print(f"{failures} failed, {len(chosen) - failures} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
