"""The benchmark's results as a Markdown table, growth lines and JSON.

Every figure is the median of its repeats (each metric on its own) and is also shown
as a ratio to the floor measured in the same run: the build cases against the
no-Markdown floor of their vault, `dlcards --help` against `python -c pass`.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from measure import Sample

COLUMNS = (
    "vault",
    "case",
    "wall s",
    "CPU s",
    "peak MB",
    "questions/s",
    "wall × floor",
    "CPU × floor",
    "peak × floor",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """The repeats of one case, on one vault (questions=None for the start-up cases)."""

    questions: int | None
    case: str  # a stable key: floor, cold, one-changed, unchanged, python, help
    label: str  # how the table names it
    samples: tuple[Sample, ...]
    reference: str  # the case key this one is a ratio to (itself for a floor)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def peak_bytes(self) -> float:
        return statistics.median(s.peak_bytes for s in self.samples)

    @property
    def questions_per_s(self) -> float | None:
        return self.questions / self.wall if self.questions and self.wall > 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Growth:
    """How a case's median wall and CPU grow between two vault sizes."""

    case: str
    small: int
    large: int
    wall: float
    cpu: float


def find_reference(result: Result, results: Sequence[Result]) -> Result:
    for other in results:
        if other.questions == result.questions and other.case == result.reference:
            return other
    raise LookupError(f"no {result.reference} result for {result.case} on {result.questions}")


def _ratio(value: float, floor: float) -> float | None:
    return value / floor if floor > 0 else None


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(results: Sequence[Result]) -> str:
    """The Markdown table, one row per case, vault by vault, start-up cases first."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join(["---"] * 2 + ["---:"] * 7) + " |"]
    for result in results:
        floor = find_reference(result, results)
        qps = result.questions_per_s
        cells = [
            "-" if result.questions is None else f"{result.questions:,}",
            result.label,
            f"{result.wall:.3f}",
            f"{result.cpu:.3f}",
            f"{result.peak_bytes / 1e6:.1f}",
            "-" if qps is None else f"{qps:,.0f}",
            _fmt_ratio(_ratio(result.wall, floor.wall)),
            _fmt_ratio(_ratio(result.cpu, floor.cpu)),
            _fmt_ratio(_ratio(result.peak_bytes, floor.peak_bytes)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(results: Sequence[Result], case: str) -> list[Growth]:
    """The case's growth from each vault size to the next larger one."""
    by_size = sorted((r for r in results if r.case == case and r.questions), key=lambda r: r.questions or 0)
    return [
        Growth(
            case=case,
            small=small.questions or 0,
            large=large.questions or 0,
            wall=large.wall / small.wall,
            cpu=large.cpu / small.cpu if small.cpu > 0 else float("nan"),
        )
        for small, large in itertools.pairwise(by_size)
    ]


def format_growth(lines: Sequence[Growth], label: str) -> list[str]:
    return [
        f"- {label}, {g.small:,} → {g.large:,} questions ({g.large / g.small:.0f}× the questions): "
        f"{g.wall:.2f}× the wall time, {g.cpu:.2f}× the CPU time"
        for g in lines
    ]


def to_json(results: Sequence[Result], growths: Sequence[Growth], context: dict[str, Any]) -> dict[str, Any]:
    """Everything the table shows, plus each repeat's own figures."""
    rows = []
    for result in results:
        floor = find_reference(result, results)
        rows.append(
            {
                "questions": result.questions,
                "case": result.case,
                "label": result.label,
                "reference": result.reference,
                "median": {"wall_s": result.wall, "cpu_s": result.cpu, "peak_bytes": result.peak_bytes},
                "questions_per_s": result.questions_per_s,
                "ratio": {
                    "wall": _ratio(result.wall, floor.wall),
                    "cpu": _ratio(result.cpu, floor.cpu),
                    "peak": _ratio(result.peak_bytes, floor.peak_bytes),
                },
                "samples": [
                    {"wall_s": s.wall, "cpu_s": s.cpu, "peak_bytes": s.peak_bytes} for s in result.samples
                ],
            }
        )
    return {
        **context,
        "results": rows,
        "growth": [
            {"case": g.case, "from": g.small, "to": g.large, "wall": g.wall, "cpu": g.cpu} for g in growths
        ],
    }
