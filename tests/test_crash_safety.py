"""Crash safety: a build killed at any moment leaves every file in decks/ whole (the
old one or the new one), the next build finishes the job correctly, two builds never
run at once, and a damaged lockfile is refused, never replaced by fresh guids.

The kills are real: `dlcards build` runs as its own process and gets SIGKILL, either
right after each change it makes to decks/ in turn (found with an audit hook, so
every crash point is hit every time) or after seeded random delays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeClock

from dlcards.build import BuildOptions, build
from dlcards.cli import main
from dlcards.errors import DlcardsError, LockfileError
from dlcards.lockfile import FORMAT, LOCK_NAME, load_lock

fcntl = pytest.importorskip("fcntl", reason="the kill and lock tests use POSIX signals and flock")

ROOT = Path(__file__).resolve().parents[1]
BUILD_LOCK = ".dlcards.build-lock"
TMP_SUFFIX = ".dlcards-tmp"
ITERATIONS = int(os.environ.get("DLCARDS_KILL_ITERATIONS", "30"))  # more for a soak run

# Runs `dlcards build` with an audit hook that counts every change to the decks folder
# (a file opened for writing, renamed, removed, chmod-ed, a folder made). At the Nth,
# it kills itself (SIGKILL) or pauses until a line arrives on stdin, as soon as the
# change is done: a profile function set by the hook fires at the next call or return.
# "count" lists the changes on stderr instead.
HARNESS = r"""
import os, signal, sys
decks, mode, point = os.path.realpath(sys.argv[1]), sys.argv[2], int(sys.argv[3])
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
seen = []

def inside(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    full = os.path.realpath(os.fsdecode(path))
    return full == decks or full.startswith(decks + os.sep)

def hook(event, args):
    if event == "open":
        changes = bool((args[2] or 0) & WRITE) and inside(args[0])
    elif event == "os.mkdir":
        changes = inside(args[0]) and not os.path.exists(args[0])
    else:
        changes = event in ("os.rename", "os.remove", "os.chmod") and inside(args[0])
    if not changes or len(seen) >= point > 0:
        return
    seen.append((event, os.path.basename(os.fsdecode(args[-3 if event == "os.rename" else 0]))))
    if len(seen) == point:
        sys.setprofile(strike)

def strike(frame, event, arg):
    if frame.f_code is hook.__code__:
        return
    sys.setprofile(None)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("paused", flush=True)
    sys.stdin.readline()

sys.addaudithook(hook)
from dlcards.cli import main
try:
    main(sys.argv[4:], prog_name="dlcards")
finally:
    if mode == "count":
        for event, name in seen:
            print(event, name, file=sys.stderr)
"""


# ---------------------------------------------------------------------------
# a project in two versions: the build under test turns v1's decks into v2's
# ---------------------------------------------------------------------------


def topic(name: str, questions: int, *, revised: bool = False) -> str:
    parts = [f"---\ntags: [{name}, crash]\n---\n\n# {name.title()}\n"]
    for i in range(questions):
        extra = " (revised)" if revised and i % 3 == 0 else ""
        parts.append(
            f"\n### {i + 1}. How does step {i} of {name} work?\n\n"
            f"**Answer:** Step {i} of {name} comes in *three* parts{extra}:\n\n"
            f"- first `a{i}`, then **b**\n- then a table\n\n| x | y |\n|---|---|\n| {i} | {i * i} |\n\n"
            f"```python\ndef step_{i}(x: int) -> int:\n    return x * {i} + 1\n```\n\n"
            f"**Discussion Points:**\n\n- What if $x = {i}$?\n"
        )
    return "".join(parts)


def write_notes(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def read_package(path: Path) -> dict[str, tuple[int, str, str]]:
    """guid -> (mod, fields, tags), after checking the file is a whole zip with a sound collection."""
    try:
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            assert zf.namelist() == ["collection.anki2", "media"]
            db = zf.read("collection.anki2")
        conn = sqlite3.connect(":memory:")
        conn.deserialize(db)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT guid, mod, flds, tags FROM notes").fetchall()
        assert conn.execute("SELECT count(*) FROM cards").fetchone() == (len(rows),)
    except (zipfile.BadZipFile, sqlite3.Error, KeyError, OSError) as exc:
        raise AssertionError(f"{path.name} is not a whole package: {exc!r}") from None
    return {guid: (mod, flds, tags) for guid, mod, flds, tags in rows}


def files_in(decks: Path) -> dict[str, bytes]:
    """The decks folder's files, without the build lock and a killed build's temporary files."""
    return {
        p.name: p.read_bytes()
        for p in sorted(decks.iterdir())
        if p.name != BUILD_LOCK and not p.name.endswith(TMP_SUFFIX)
    }


@dataclass
class Scenario:
    """v1 built into decks/ (the state before), v2 in notes/, and what v2 must give."""

    root: Path
    before: dict[str, bytes]
    expected: dict[str, dict[str, tuple[str, str]]]  # package -> guid -> (fields, tags)
    v2_questions: set[str]
    kept_mods: dict[str, int]  # notes v2 leaves unchanged, with their v1 mods
    recovered: dict[str, str] = field(default_factory=dict)  # state digest -> verdict

    @property
    def notes(self) -> Path:
        return self.root / "notes"

    @property
    def decks(self) -> Path:
        return self.root / "decks"

    def reset(self) -> None:
        shutil.rmtree(self.decks)
        self.decks.mkdir()
        for name, data in self.before.items():
            (self.decks / name).write_bytes(data)

    def check_whole(self) -> dict[str, bytes]:
        """After a kill: every file loads, and is the old one or a complete new one;
        the lockfile is never older than a package next to it."""
        now = files_in(self.decks)
        assert set(now) <= set(self.before) | set(self.expected) | {LOCK_NAME}, sorted(now)
        assert LOCK_NAME in now
        lock = load_lock(self.decks / LOCK_NAME, LOCK_NAME)  # parses, fits, checksum matches
        lock_is_new = now[LOCK_NAME] != self.before[LOCK_NAME]
        if lock_is_new:
            assert {e.title for e in lock.entries if not e.removed} == self.v2_questions
        for name, data in now.items():
            if name.endswith(".apkg"):
                guids = set(read_package(self.decks / name))
                if data != self.before.get(name):
                    assert guids == set(self.expected[name]), f"{name} is neither the old nor the new package"
                    assert lock_is_new, f"{name} is new but the lockfile is old"
        if set(self.before) - set(now):
            assert lock_is_new, "a package was deleted but the lockfile is old"
        return now

    def check_next_build(self, after_kill: dict[str, bytes]) -> None:
        """The next build succeeds (later, on another clock) and writes v2's decks: the
        expected notes, mods as in the lockfile, unchanged notes keeping their mods, no
        leftovers; a package the killed build already wrote comes out byte for byte."""
        digest = hashlib.sha256(repr(sorted(after_kill.items())).encode()).hexdigest()
        if digest in self.recovered:  # the next build is a function of the folder: seen it
            assert self.recovered[digest] == "ok", self.recovered[digest]
            return
        self.recovered[digest] = "failed"
        clock = FakeClock(now=time.time() + 100)
        build(BuildOptions(notes_dir=self.notes, decks_dir=self.decks), clock=clock, wait=clock.wait)
        assert sorted(p.name for p in self.decks.iterdir()) == sorted({*self.expected, LOCK_NAME, BUILD_LOCK})
        lock_mods = {e.guid: e.mod for e in load_lock(self.decks / LOCK_NAME, LOCK_NAME).entries}
        for name, expected in self.expected.items():
            package = read_package(self.decks / name)
            assert {g: (f, t) for g, (_, f, t) in package.items()} == expected, name
            assert all(mod == lock_mods[g] for g, (mod, _, _) in package.items()), name
            assert all(package[g][0] == mod for g, mod in self.kept_mods.items() if g in package), name
            if name in after_kill and after_kill[name] != self.before.get(name):
                assert (self.decks / name).read_bytes() == after_kill[name], f"{name} was stamped again"
        self.recovered[digest] = "ok"


def make_scenario(root: Path, questions: int) -> Scenario:
    """v1: alpha, beta, gamma. v2: alpha the same, beta revised and one question more,
    gamma gone (its package is stale), delta new."""
    v1 = {
        "alpha.md": topic("alpha", questions),
        "beta.md": topic("beta", questions),
        "gamma.md": topic("gamma", 3),
    }
    v2 = {
        "alpha.md": v1["alpha.md"],
        "beta.md": topic("beta", questions + 1, revised=True),
        "delta.md": topic("delta", 3),
    }
    write_notes(root / "v1", v1)
    write_notes(root / "notes", v2)
    clock = FakeClock(now=time.time() - 1000)  # behind the real clock of the killed builds
    build(BuildOptions(notes_dir=root / "v1", decks_dir=root / "decks"), clock=clock, wait=clock.wait)
    before = files_in(root / "decks")
    reference = root / "reference"
    shutil.copytree(root / "decks", reference)
    clock.advance(10)
    build(BuildOptions(notes_dir=root / "notes", decks_dir=reference), clock=clock, wait=clock.wait)
    expected = {
        p.name: {g: (f, t) for g, (_, f, t) in read_package(p).items()}
        for p in sorted(reference.glob("*.apkg"))
    }
    old = {e.guid: e for e in load_lock(root / "decks" / LOCK_NAME, LOCK_NAME).entries}
    new = load_lock(reference / LOCK_NAME, LOCK_NAME).entries
    kept = {e.guid: e.mod for e in new if e.guid in old and old[e.guid].hash == e.hash and not e.removed}
    assert set(expected) == {"alpha.apkg", "beta.apkg", "delta.apkg"} and kept
    return Scenario(
        root=root,
        before=before,
        expected=expected,
        v2_questions={e.title for e in new if not e.removed},
        kept_mods=kept,
    )


def env() -> dict[str, str]:
    variables = {**os.environ, "PYTHONPATH": str(ROOT)}
    variables.pop("SOURCE_DATE_EPOCH", None)
    return variables


BUILD_ARGS = ["build", "--notes", "notes", "--decks", "decks"]


def harness(scenario: Scenario, mode: str, point: int, *, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HARNESS, "decks", mode, str(point), *BUILD_ARGS],
        cwd=scenario.root,
        env=env(),
        text=True,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def changes_made(scenario: Scenario) -> list[str]:
    """Every change an uninterrupted build makes to decks/, in order."""
    scenario.reset()
    proc = harness(scenario, "count", 0)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err.splitlines()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return make_scenario(tmp_path_factory.mktemp("small"), questions=4)


# ---------------------------------------------------------------------------
# kills
# ---------------------------------------------------------------------------


def test_kill_after_every_change_to_decks_leaves_whole_files_and_a_good_next_build(small: Scenario) -> None:
    """SIGKILL right after each change the build makes to decks/ (each temporary file,
    rename, removal): every file is the old or a complete new one, the lockfile loads,
    and the next build finishes v2 correctly without stamping anything twice."""
    changes = changes_made(small)
    touched = " ".join(changes)
    assert all(name in touched for name in (LOCK_NAME, "beta.apkg", "delta.apkg", "gamma.apkg")), changes
    for point in range(1, len(changes) + 1):
        small.reset()
        proc = harness(small, "kill", point)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, f"point {point} ({changes[point - 1]}): {err}"
        event, name = changes[point - 1].split()
        if event == "os.rename" and name not in small.before:  # killed after the change, not before
            assert (small.decks / name).exists()
        try:
            small.check_next_build(small.check_whole())
        except (AssertionError, DlcardsError) as exc:
            raise AssertionError(f"killed after {changes[point - 1]!r} (point {point}): {exc}") from None


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return make_scenario(tmp_path_factory.mktemp("large"), questions=60)


def test_random_kills_leave_whole_files_and_a_good_next_build(large: Scenario) -> None:
    """`dlcards build` on a vault that takes about a second, killed after seeded random
    delays spread over a whole build, again and again: every file in decks/ stays whole
    and the next build after each kill succeeds and writes the right decks."""
    large.reset()
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "dlcards", *BUILD_ARGS], cwd=large.root, env=env(), check=True)
    duration = time.monotonic() - started  # only to spread the kills; nothing asserts on it
    rng = random.Random(20261125)
    for iteration in range(ITERATIONS):
        large.reset()
        delay = rng.uniform(0, duration * 1.1)
        proc = subprocess.Popen([sys.executable, "-m", "dlcards", *BUILD_ARGS], cwd=large.root, env=env())
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            large.check_next_build(large.check_whole())
        except (AssertionError, DlcardsError) as exc:
            raise AssertionError(f"iteration {iteration}, killed after {delay:.3f}s: {exc}") from None


def test_next_build_removes_temporary_files_left_by_a_killed_build(small: Scenario) -> None:
    """Temporary files a killed build left in decks/ go with the next build; other files stay."""
    small.reset()
    leftover = small.decks / f".beta.apkg.k1ll3d00{TMP_SUFFIX}"
    leftover.write_bytes(b"half a zip")
    keep = small.decks / ".keep"
    keep.write_text("mine", encoding="utf-8")
    clock = FakeClock(now=time.time())
    build(BuildOptions(notes_dir=small.notes, decks_dir=small.decks), clock=clock, wait=clock.wait)
    assert not leftover.exists()
    assert keep.read_text(encoding="utf-8") == "mine"


# ---------------------------------------------------------------------------
# one build at a time
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def holding_build_lock(decks: Path) -> Iterator[None]:
    with open(decks / BUILD_LOCK, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield


def test_build_waits_while_the_build_lock_is_held(small: Scenario) -> None:
    """While another process holds decks/.dlcards.build-lock, `dlcards build` says it is
    waiting and writes nothing; once the lock is free it builds."""
    small.reset()
    with holding_build_lock(small.decks):
        proc = subprocess.Popen(
            [sys.executable, "-m", "dlcards", *BUILD_ARGS],
            cwd=small.root,
            env=env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stderr is not None
            assert proc.stderr.readline() == "waiting for another dlcards build in decks/ to finish...\n"
            assert proc.poll() is None
            assert files_in(small.decks) == small.before
        except BaseException:
            proc.kill()
            raise
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "decks/beta.apkg:" in out
    small.check_next_build(small.check_whole())


def test_two_builds_at_once_run_one_after_the_other(small: Scenario) -> None:
    """Two real `dlcards build` processes on one project: the second waits (saying so)
    while the first is paused mid-write, then builds on the first one's lockfile, so it
    finds every note unchanged; the lockfile ends whole and matching the packages."""
    changes = changes_made(small)
    pause_at = changes.index(f"os.rename {LOCK_NAME}") + 1  # the first build wrote its lockfile
    small.reset()
    first = harness(small, "pause", pause_at, stdin=subprocess.PIPE)
    second: subprocess.Popen[str] | None = None
    try:
        assert first.stdout is not None and first.stdin is not None
        assert first.stdout.readline() == "paused\n"
        second = subprocess.Popen(
            [sys.executable, "-m", "dlcards", *BUILD_ARGS],
            cwd=small.root,
            env=env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert second.stderr is not None
        assert second.stderr.readline() == "waiting for another dlcards build in decks/ to finish...\n"
        assert second.poll() is None and first.poll() is None
        first.stdin.write("\n")
        first.stdin.flush()
        out1, err1 = first.communicate(timeout=60)
        out2, err2 = second.communicate(timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert "decks/beta.apkg: 5 notes (1 new, 2 updated, 2 unchanged)" in out1
    assert out2.splitlines() == [
        "decks/alpha.apkg: 4 notes (0 new, 0 updated, 4 unchanged)",
        "decks/beta.apkg: 5 notes (0 new, 0 updated, 5 unchanged)",
        "decks/delta.apkg: 3 notes (0 new, 0 updated, 3 unchanged)",
    ]
    small.check_next_build(small.check_whole())


# ---------------------------------------------------------------------------
# the lockfile's checksum
# ---------------------------------------------------------------------------


GOOD = "### 1. What does the checksum cover?\n\n**Answer:** Everything else in the lockfile.\n"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    Path("notes").mkdir()
    Path("notes/sum.md").write_text(GOOD + GOOD.replace("What does", "What doesn't"), encoding="utf-8")
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    return CliRunner()


def snapshot() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path("decks").iterdir())}


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: re.sub(r'"mod": (\d+)', lambda m: f'"mod": {int(m[1]) - 1}', text, count=1),
        lambda text: text.replace('"guid": "', '"guid": "x', 1),
        lambda text: text.replace('"packages": ["sum.apkg"]', '"packages": []'),
    ],
    ids=["mod-changed", "guid-damaged", "package-dropped"],
)
def test_lockfile_that_does_not_match_its_checksum_is_refused(runner: CliRunner, edit: object) -> None:
    """A lockfile edited by hand or damaged, still valid JSON, fails the build naming the
    file with a recovery hint, and is left as it is: no fresh guids replace it."""
    lock = Path("decks/dlcards.lock")
    edited = edit(lock.read_text(encoding="utf-8"))  # type: ignore[operator]
    assert json.loads(edited) != json.loads(lock.read_text(encoding="utf-8"))
    lock.write_text(edited, encoding="utf-8")
    before = snapshot()
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'error: decks/dlcards.lock: its "checksum" does not match its content, '
        "so it was damaged or edited by hand"
    )
    assert "restore it from version control (git checkout -- decks/dlcards.lock)" in result.stderr
    assert snapshot() == before


def test_lockfile_checksum_survives_reformatting(runner: CliRunner) -> None:
    """The checksum covers the content, not the layout: a re-indented lockfile with its
    keys in another order still loads, and the build finds nothing changed."""
    lock = Path("decks/dlcards.lock")
    data = json.loads(lock.read_text(encoding="utf-8"))
    lock.write_text(json.dumps(data, indent=4, sort_keys=True, ensure_ascii=True), encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "decks/sum.apkg: 2 notes (0 new, 0 updated, 2 unchanged)\n"


def test_lockfile_without_checksum_is_refused_unless_it_is_format_1(runner: CliRunner) -> None:
    """A lockfile of format 2 or later without its checksum is refused; a format 1
    lockfile (written before checksums) is read as it is and gets a checksum on the next build."""
    lock = Path("decks/dlcards.lock")
    data = json.loads(lock.read_text(encoding="utf-8"))
    assert data["dlcards_lock"] == FORMAT and data["checksum"].startswith("sha256:")
    del data["checksum"]
    lock.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 1
    assert 'does not look like a dlcards lockfile (expected a "checksum" text)' in result.stderr

    data["dlcards_lock"] = 1
    lock.write_text(json.dumps(data), encoding="utf-8")
    result = runner.invoke(main, ["build"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "decks/sum.apkg: 2 notes (0 new, 0 updated, 2 unchanged)\n"
    upgraded = json.loads(lock.read_text(encoding="utf-8"))
    assert upgraded["dlcards_lock"] == FORMAT and upgraded["checksum"].startswith("sha256:")


def test_checksum_error_is_a_lockfile_error(tmp_path: Path) -> None:
    """load_lock raises LockfileError (a DlcardsError) for a checksum mismatch."""
    path = tmp_path / LOCK_NAME
    path.write_text(json.dumps({"dlcards_lock": 2, "checksum": "sha256:0", "notes": []}), encoding="utf-8")
    with pytest.raises(LockfileError) as failed:
        load_lock(path, "decks/dlcards.lock")
    assert failed.value.path == "decks/dlcards.lock"
