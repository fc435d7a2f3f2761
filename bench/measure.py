"""Run one command as a child process and measure it alone: wall, CPU, peak memory.

`os.wait4` returns the resource usage of exactly the child it reaped (with any
grandchildren that child itself waited for), so each figure belongs to one run.
`getrusage(RUSAGE_CHILDREN)` would not do for the peak: its ru_maxrss is the largest
of all children so far, so one big run would hide every smaller one after it.
POSIX only (Linux, macOS): Windows has neither `resource` nor `os.wait4`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# ru_maxrss is in KiB on Linux and in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One run of one command."""

    wall: float  # seconds, from just before the fork to just after the reap
    cpu: float  # seconds, user + system, of the child (and the children it waited for)
    peak_bytes: int  # the child's peak resident set size (the largest single process)
    exit_code: int
    stdout: str
    stderr: str


def run_measured(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> Sample:
    """Run argv to completion; output goes to files, so a chatty child never blocks on a pipe.

    Raises OSError when argv cannot be started."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Sample(
            wall=wall,
            cpu=usage.ru_utime + usage.ru_stime,
            peak_bytes=usage.ru_maxrss * _MAXRSS_UNIT,
            exit_code=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )
