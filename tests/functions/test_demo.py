"""`make demo` is the first command a new user runs: it must finish, end to end, whatever the
routes and stores it walks through become. One run of it, in a process of its own, as
`make demo` starts it (its steps check what they show and stop with the reason otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_end_to_end_and_says_so() -> None:
    paths = [ROOT / "layers" / "crmsync", ROOT / "cli", ROOT]
    environment = {**os.environ, "BOTO_DISABLE_CRT": "true", "PYTHONPATH": os.pathsep.join(map(str, paths))}
    finished = subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "GET /status (JWT login + /limits)" in finished.stdout
    assert "demo finished in" in finished.stdout
