"""`make bench`: how fast dlcards builds vaults of 1,000 to 50,000 questions.

For each vault size it generates its own synthetic vault (see vault.py) and times,
each as its own child process, repeated and reported as the median:

* floor: bench/floor.py, the same files read and the same rows written to SQLite
  and zipped, with no Markdown at all (see floor.py);
* cold build: `dlcards build` with a fresh decks folder, no lockfile, no cache;
* rebuild after one file changed: a sentence appended to one answer in one file;
* rebuild with nothing changed;

and once per run `python -c pass` (the start-up floor) and `dlcards --help`.
It prints the machine (CPU, cores, Python, load average before and after), a
Markdown table of wall time, CPU time, peak memory and questions per second, each
also as a ratio to its floor, how the time grows with the vault, the size and
packing time of each vault's packages at each deflate level (deflate.py), and with
--profile the top cProfile lines of each case (profiles.py).

    python bench/bench.py [--sizes 1000,10000,50000 | --quick] [--repeat 3] [--json FILE]
                          [--profile 10000] [--no-deflate]

Runs the working tree's dlcards: the folder above bench/ goes first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deflate import table as deflate_table
from measure import Sample, run_measured
from profiles import profiled, summarize
from report import Result, format_growth, format_table, growth, to_json
from vault import Vault, append_to_answer, generate_vault

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_SIZES = (1_000, 10_000, 50_000)
QUICK_SIZES = (1_000, 10_000)

_SUMMARY = re.compile(r"(\d+) notes? \((\d+) new, (\d+) updated, (\d+) unchanged\)")


class BenchError(Exception):
    """A measured command failed or did not do what the case needs; the figures would lie."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    dlcards: tuple[str, ...]  # the command that runs dlcards
    python: str  # the interpreter for the floor and `python -c pass`
    workdir: Path
    repeat: int
    seed: int
    cache_globs: tuple[str, ...]
    env: dict[str, str]
    profile_sizes: tuple[int, ...] = ()  # vaults whose cases also run once under cProfile
    deflate: bool = True  # measure each vault's packages at each deflate level


@dataclass(frozen=True, slots=True, kw_only=True)
class Counts:
    """What a build's report lines say it did, summed over its packages."""

    new: int
    updated: int
    unchanged: int


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    sizes: tuple[int, ...] = QUICK_SIZES if args.quick else args.sizes
    dlcards = _dlcards_command(args)
    if dlcards is None:
        where = args.dlcards or Path(sys.executable).parent / "dlcards"
        print(
            f"bench: no dlcards executable at {where}; pass --dlcards PATH or --dlcards-module",
            file=sys.stderr,
        )
        return 2
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="dlcards-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = Config(
        dlcards=dlcards,
        python=sys.executable,
        workdir=workdir.resolve(),
        repeat=args.repeat,
        seed=args.seed,
        cache_globs=tuple(args.cache_dir_glob or ["decks/.cache"]),
        env=_child_env(workdir.resolve()),
        profile_sizes=tuple(args.profile or ()),
        deflate=not args.no_deflate,
    )
    load_before = _load()
    try:
        results, vaults, sections = run_all(config, sizes)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    cold_growth, floor_growth = growth(results, "cold"), growth(results, "floor")
    print(_preamble(config, vaults, load_before, _load()))
    print()
    print(format_table(results))
    growth_lines = format_growth(cold_growth, "cold build") + format_growth(floor_growth, "floor")
    if growth_lines:
        print()
        print("\n".join(growth_lines))
    for section in sections:
        print()
        print("\n".join(section))
    if args.json:
        context = {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "repeat": config.repeat,
            "seed": config.seed,
            "dlcards": list(config.dlcards),
            "vaults": [{"questions": v.questions, "files": len(v.files), "bytes": v.bytes} for v in vaults],
        }
        Path(args.json).write_text(
            json.dumps(to_json(results, cold_growth + floor_growth, context), indent=2) + "\n"
        )
    return 0


def run_all(config: Config, sizes: Sequence[int]) -> tuple[list[Result], list[Vault], list[list[str]]]:
    """Every case: the start-up pair once, then each vault size in turn; also the
    sections printed below the table (deflate levels, profiles)."""
    results = run_startup(config)
    vaults = []
    sections: list[list[str]] = []
    for size in sizes:
        vault_results, vault = run_vault(config, size)
        results.extend(vault_results)
        vaults.append(vault)
        root = config.workdir / f"vault-{size}"
        if config.deflate:
            _progress(f"vault {size:,}: packages at each deflate level")
            sections.append(
                [
                    f"### Package size by zip level, {size:,} questions",
                    "",
                    *deflate_table(root / "decks", config.repeat),
                ]
            )
        if size in config.profile_sizes:
            sections.append(run_profiles(config, size, vault))
    return results, vaults, sections


def run_profiles(config: Config, size: int, vault: Vault) -> list[str]:
    """Each build case once more under cProfile, set up as for its timed runs, and
    `dlcards --help`: their top lines."""
    root = config.workdir / f"vault-{size}"
    build_args = ["build", "--notes", "notes", "--decks", "decks"]
    lines = [f"### Profiles, {size:,} questions", ""]
    for case, label in (
        ("cold", "cold build"),
        ("one-changed", "rebuild, one file changed"),
        ("unchanged-first", "rebuild, nothing changed (first after a change)"),
        ("unchanged", "rebuild, nothing changed (again)"),
        ("help", "`dlcards --help`"),
    ):
        if case == "cold":
            shutil.rmtree(root / "decks", ignore_errors=True)
            _clear_caches(config, root)
        elif case == "one-changed":
            _wait_next_second()
            append_to_answer(
                vault.files[len(vault.files) // 2], "A profiled revision adds one more sentence."
            )
        elif case == "unchanged-first":
            _wait_next_second()
            append_to_answer(vault.files[0], "A profiled edit before a rebuild with nothing to do.")
            plain = [*config.dlcards, *build_args]
            _check_exit(_run(plain, root, config.env), plain)
        out = root / f"{case}.prof"
        argv = profiled(config.python, out, ["--help"] if case == "help" else build_args)
        _progress(f"vault {size:,}: {label} under cProfile")
        _check_exit(_run(argv, root, config.env), argv)
        lines += [*summarize(out, label), ""]
    return lines


def run_startup(config: Config) -> list[Result]:
    """`python -c pass` and `dlcards --help`, after one untimed run of each (which also
    leaves the working tree's bytecode compiled, so no case pays for that)."""
    python = [config.python, "-c", "pass"]
    help_ = [*config.dlcards, "--help"]
    for argv in (python, help_):
        _check_exit(_run(argv, config.workdir, config.env), argv)
    return [
        _repeat(config, None, "python", "floor: `python -c pass`", "python", lambda _: python),
        _repeat(config, None, "help", "`dlcards --help`", "python", lambda _: help_),
    ]


def run_vault(config: Config, size: int) -> tuple[list[Result], Vault]:
    """The four cases on a freshly generated vault of `size` questions."""
    root = config.workdir / f"vault-{size}"
    _progress(f"vault {size:,}: generating")
    started = time.perf_counter()
    vault = generate_vault(root / "notes", size, seed=config.seed)
    _progress(
        f"vault {size:,}: {len(vault.files)} files, {vault.bytes / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f} s"
    )
    floor_out = root / "floor-decks"
    floor = [config.python, str(BENCH_DIR / "floor.py"), "--notes", "notes", "--decks", str(floor_out)]
    floor += ["--level", str(_deflate_level())]
    build = [*config.dlcards, "build", "--notes", "notes", "--decks", "decks"]

    def fresh_floor(_: int) -> list[str]:
        shutil.rmtree(floor_out, ignore_errors=True)
        return floor

    def cold(_: int) -> list[str]:
        shutil.rmtree(root / "decks", ignore_errors=True)
        _clear_caches(config, root)
        return build

    def one_changed(run: int) -> list[str]:
        # dlcards waits for the clock when a note changes within the second it was last
        # stamped (its new mod must be larger); a person never edits that fast, so the
        # bench waits here, untimed, instead of inside the measured build.
        _wait_next_second()
        target = vault.files[len(vault.files) // 2]
        append_to_answer(target, f"Revision {run + 1} adds one more sentence to this answer.")
        return build

    def after_change(run: int) -> list[str]:
        # The first rebuild after a change, which is answered from the record the
        # change's build left of what it would report (fastpath.py); the change is
        # built here, untimed.
        _wait_next_second()
        append_to_answer(vault.files[0], f"Edit {run + 1} before a rebuild with nothing to do.")
        _check_exit(_run(build, root, config.env), build)
        return build

    results = [
        _repeat(config, size, "floor", "floor: no Markdown", "floor", fresh_floor, root=root),
        _repeat(
            config,
            size,
            "cold",
            "cold build",
            "floor",
            cold,
            root=root,
            expect=Counts(new=size, updated=0, unchanged=0),
        ),
        _repeat(
            config,
            size,
            "one-changed",
            "rebuild, one file changed",
            "floor",
            one_changed,
            root=root,
            expect=Counts(new=0, updated=1, unchanged=size - 1),
        ),
        _repeat(
            config,
            size,
            "unchanged-first",
            "rebuild, nothing changed (first after a change)",
            "floor",
            after_change,
            root=root,
            expect=Counts(new=0, updated=0, unchanged=size),
        ),
        _repeat(
            config,
            size,
            "unchanged",
            "rebuild, nothing changed (again)",
            "floor",
            lambda _: build,
            root=root,
            expect=Counts(new=0, updated=0, unchanged=size),
        ),
    ]
    return results, vault


def _repeat(
    config: Config,
    questions: int | None,
    case: str,
    label: str,
    reference: str,
    prepare: Callable[[int], list[str]],
    *,
    root: Path | None = None,
    expect: Counts | None = None,
) -> Result:
    """Run a case config.repeat times; prepare(run) sets the stage (untimed) and gives argv."""
    samples: list[Sample] = []
    for run in range(config.repeat):
        argv = prepare(run)
        sample = _run(argv, root or config.workdir, config.env)
        _check_exit(sample, argv)
        if expect is not None:
            _check_counts(sample, expect, label)
        if case == "floor" and questions is not None and f": {questions} questions" not in sample.stdout:
            raise BenchError(f"the floor did not write {questions:,} questions: {sample.stdout.strip()}")
        _progress(
            f"{'start-up' if questions is None else f'vault {questions:,}'}: {label} "
            f"[{run + 1}/{config.repeat}] {sample.wall:.3f} s"
        )
        samples.append(sample)
    return Result(questions=questions, case=case, label=label, samples=tuple(samples), reference=reference)


def _run(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> Sample:
    try:
        return run_measured(argv, cwd=cwd, env=env)
    except OSError as exc:
        raise BenchError(f"cannot run `{' '.join(argv)}`: {exc.strerror or exc}") from None


def _check_exit(sample: Sample, argv: Sequence[str]) -> None:
    if sample.exit_code != 0:
        tail = "\n".join(sample.stderr.strip().splitlines()[-20:])
        raise BenchError(f"`{' '.join(argv)}` exited with {sample.exit_code}:\n{tail}")


def _check_counts(sample: Sample, expect: Counts, label: str) -> None:
    """A build must do what its case claims (a cold build makes every note new, ...);
    report lines that cannot be read are let through with a notice."""
    found = _SUMMARY.findall(sample.stdout)
    if not found:
        _progress(f"notice: {label}: no 'N notes (...)' report line to verify the build against")
        return
    counts = Counts(
        new=sum(int(f[1]) for f in found),
        updated=sum(int(f[2]) for f in found),
        unchanged=sum(int(f[3]) for f in found),
    )
    if counts != expect:
        raise BenchError(f"{label}: expected {expect}, the build reported {counts}:\n{sample.stdout}")
    warnings = [line for line in sample.stderr.splitlines() if line.startswith("warning:")]
    if warnings:
        _progress(f"notice: {label}: {len(warnings)} warnings, first: {warnings[0]}")


def _clear_caches(config: Config, root: Path) -> None:
    """Delete whatever --cache-dir-glob names (relative to the vault's folder), and the
    children's own XDG cache folder."""
    patterns = [os.path.expanduser(p) for p in config.cache_globs]
    matches = [
        Path(m)
        for p in patterns
        for m in glob.glob(p if os.path.isabs(p) else str(root / p), include_hidden=True)
    ]
    for path in [*matches, Path(config.env["XDG_CACHE_HOME"])]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _wait_next_second() -> None:
    now = time.time()
    time.sleep(int(now) + 1 - now + 0.01)


def _child_env(workdir: Path) -> dict[str, str]:
    """The working tree's dlcards first on the path; a cache folder the bench owns."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env["XDG_CACHE_HOME"] = str(workdir / "xdg-cache")
    env.pop("SOURCE_DATE_EPOCH", None)  # builds stamp the clock's time, as they do for a user
    return env


def _dlcards_command(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.dlcards_module:
        return (sys.executable, "-m", "dlcards")
    if args.dlcards:
        path = Path(args.dlcards).resolve()
        return (str(path),) if path.is_file() else None
    beside = Path(sys.executable).parent / "dlcards"
    return (str(beside),) if beside.exists() else None


def _deflate_level() -> int:
    """The deflate level of the working tree's dlcards, for the floor to zip alike."""
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from dlcards.package import DEFLATE_LEVEL
    finally:
        sys.path.remove(str(REPO_ROOT))
    return DEFLATE_LEVEL


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _preamble(config: Config, vaults: Sequence[Vault], load_before: str, load_after: str) -> str:
    described = ", ".join(
        f"{v.questions:,} questions ({len(v.files)} file{'s' if len(v.files) != 1 else ''}, "
        f"{v.bytes / 1e6:.1f} MB)"
        for v in vaults
    )
    return (
        f"dlcards benchmark: median of {config.repeat} run{'s' if config.repeat != 1 else ''}; "
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{_cpu_model()}, {os.cpu_count()} CPUs; load average {load_before} before, {load_after} after\n"
        f"vaults (seed {config.seed}): {described}\n"
        f"build cases are ratios to the floor of their vault, `dlcards --help` to `python -c pass`"
    )


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma separated list of numbers: {text!r}") from None
    if not sizes or any(s <= 0 or s % 100 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive multiples of 100: {text!r}")
    return tuple(sorted(set(sizes)))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench.py", description="Time dlcards on synthetic vaults against a no-Markdown floor."
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--sizes",
        type=_sizes,
        default=DEFAULT_SIZES,
        metavar="N,N,...",
        help="vault sizes in questions (default 1000,10000,50000)",
    )
    which.add_argument("--quick", action="store_true", help="only the 1,000 and 10,000 question vaults")
    parser.add_argument("--repeat", type=_positive, default=3, help="runs of each case; the median is shown")
    parser.add_argument("--workdir", help="where vaults and decks go (kept); default a temporary folder")
    parser.add_argument("--seed", type=int, default=1, help="vault generator seed (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the results, every run included, here")
    parser.add_argument(
        "--profile",
        type=_sizes,
        metavar="N,N,...",
        help="also run each case on these vault sizes once under cProfile and print its top lines",
    )
    parser.add_argument(
        "--no-deflate", action="store_true", help="skip measuring the packages at each deflate level"
    )
    parser.add_argument(
        "--cache-dir-glob",
        action="append",
        metavar="GLOB",
        help="a cache dlcards may keep, deleted before each cold build; relative to the vault's folder "
        "(which holds notes/ and decks/); repeatable (default decks/.cache)",
    )
    command = parser.add_mutually_exclusive_group()
    command.add_argument("--dlcards", metavar="PATH", help="the dlcards executable (default: next to python)")
    command.add_argument(
        "--dlcards-module", action="store_true", help="run `python -m dlcards` instead of an executable"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
