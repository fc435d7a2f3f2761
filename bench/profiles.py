"""Where a case spends its time: one more run of it under cProfile, and its top lines.

`bench.py --profile SIZE` runs each build case on the vault of that size once more,
after the timed runs and set up the same way, as

    python -m cProfile -o CASE.prof -m dlcards build --notes notes --decks decks

and prints, per case, the functions with the most time of their own and the dlcards
functions with the most time in all (their callees included). cProfile slows Python
code down (function calls most), so read the shares, not the seconds; and it sees only
the main process: a cold build's parsing and rendering in its worker processes shows
as the time the main process waits for them (`each_file`, waiting on its futures).
"""

from __future__ import annotations

import pstats
from pathlib import Path

_OURS = "/dlcards/"


def profiled(python: str, out: Path, args: list[str]) -> list[str]:
    """The argv that runs `dlcards ARGS` under cProfile, writing its profile to out."""
    return [python, "-m", "cProfile", "-o", str(out), "-m", "dlcards", *args]


def summarize(path: Path, label: str, top: int = 12) -> list[str]:
    """Markdown lines: the case's total, its top functions by own time, and the top
    dlcards functions by cumulative time."""
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]

    def name(func: tuple[str, int, str]) -> str:
        filename, line, function = func
        if _OURS in filename:
            filename = "dlcards/" + filename.rsplit(_OURS, 1)[1]
        elif "site-packages/" in filename:
            filename = filename.rsplit("site-packages/", 1)[1]
        elif filename.startswith("~") or filename.startswith("<"):
            return function
        else:
            filename = Path(filename).name
        return f"{filename}:{line}({function})"

    own = sorted(rows.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    ours = sorted(((f, v) for f, v in rows.items() if _OURS in f[0]), key=lambda kv: kv[1][3], reverse=True)[
        :top
    ]
    lines = [
        f"#### {label}: {total:.2f} s under cProfile",
        "",
        "| own s | calls | function |",
        "| ---: | ---: | --- |",
    ]
    lines += [f"| {v[2]:.3f} | {v[1]:,} | `{name(f)}` |" for f, v in own]
    lines += ["", "| cumulative s | share | dlcards function |", "| ---: | ---: | --- |"]
    lines += [f"| {v[3]:.3f} | {v[3] / total:.0%} | `{name(f)}` |" for f, v in ours]
    return lines
