"""How the bench measures, one place for every part of it: CPU time of a process, peak memory,
the time an import takes in a fresh interpreter, and what measured invocations of a function
gave."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMPORT_RUNS = 7
PYTHONPATH = f"{ROOT / 'layers' / 'crmsync'}:{ROOT}"
"""What `make` gives a fresh interpreter: the layer's package, then the repository."""


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """This process's peak resident set, ru_maxrss (what Lambda's Max Memory Used reports)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def peak_resident_mb() -> float:
    """This process's peak resident set (VmHWM, Linux). Not ru_maxrss in a spawned process: that
    starts from the resident set its parent had when it forked."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def import_seconds(statement: str) -> float:
    """How long `statement` takes in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "PYTHONDONTWRITEBYTECODE": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def median_import_ms(statement: str, runs: int = IMPORT_RUNS) -> float:
    """The median of `runs` fresh interpreters, after one that warms the bytecode cache (as a
    deployed package has it)."""
    import_seconds(statement)
    return statistics.median(import_seconds(statement) for _ in range(runs)) * 1000


@dataclass
class Measured:
    """One or more invocations of a function, measured together: the function's reports, wall
    and CPU seconds of the function's process, its peak memory where measured, the Salesforce
    API calls made meanwhile, and (for scale) the CPU the doubles spent."""

    reports: list[dict[str, Any]]
    seconds: float
    cpu_seconds: float
    calls: list[tuple[str, str]]
    emulator_cpu_seconds: float
    moto_cpu_seconds: float
    peak_memory_mb: float = 0.0
    durations: list[float] = field(default_factory=list)
    """Each invocation's seconds (what Lambda bills as its duration)."""

    @property
    def report(self) -> dict[str, Any]:
        (report,) = self.reports
        return report

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.report.get("counts", {})
        return counts
