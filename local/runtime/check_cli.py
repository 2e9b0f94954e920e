"""`make check-cli`: the `crmsync` command as a person sees it. A script of commands runs in a
real terminal (tmux, 80 columns by 50 lines) against the local stack (`make local`; started
here when none runs), each screen is saved to `.local/screens/<name>.txt`, and the check fails
when a line is wider than 80 columns or a command ended with an exit status it should not have.

    python -m local.runtime.check_cli [--keep-stack]

A stack this check started is stopped at the end, unless `--keep-stack`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from local.runtime.local_stack import ROOT, STACK_FILE, STATE_DIRECTORY, running
from local.runtime.local_stack import start as start_stack
from local.runtime.local_stack import stop as stop_stack

WIDTH, HEIGHT = 80, 50
SESSION = "crmsync-check-cli"
COMMAND_TIMEOUT_SECONDS = 60.0
DONE = "__crmsync_exit__"
NO_ROUTE = "does not have this route"
SHELL = f"env -i HOME={shlex.quote(str(Path.home()))} TERM=xterm-256color PS1='$ ' bash --norc --noprofile"
"""A shell without this machine's profile: the prompt `$ `, and nothing but what the step sets."""


@dataclass(frozen=True)
class Step:
    name: str
    argv: str
    """What follows `crmsync --local`; `{why}` and the like name a seeded record."""
    exits: tuple[int, ...] = (0,)
    """The exit statuses it may end with (status: 1 when the connector is not healthy)."""


STEPS = (
    Step("help", "--help"),
    Step("status", "status", exits=(0, 1)),
    Step("errors", "errors"),
    Step("why", "why {why}"),
    Step("why-refused", "why {refused}"),
    Step("runs", "runs"),
    Step("fields", "fields Lead --mapped"),
    Step("sync", "sync {why}"),
    Step("config-validate", "config validate config/crmsync.sample.json"),
    Step("config-plan", "config plan config/crmsync.sample.json --sample 3"),
    Step("resync", "resync Lead --wait"),
    Step("unknown-id", "why 00Q000000000000AAA", exits=(1,)),
)


def seeded_names(stack: dict[str, object]) -> dict[str, str]:
    seeded = stack.get("seeded")
    seeded = seeded if isinstance(seeded, dict) else {}
    return {"why": str(seeded.get("edited_both_ways", "")), "refused": str(seeded.get("refused_email", ""))}


def tmux(*argv: str) -> str:
    """tmux on a server of its own (`-L`), so that no one else's sessions are touched."""
    return subprocess.run(["tmux", "-L", SESSION, *argv], check=True, capture_output=True, text=True).stdout


def run_step(step: Step, names: dict[str, str], screens: Path, stack_file: Path) -> tuple[int | None, str]:
    """The step typed into a fresh 80-column terminal; its exit status (None: it did not
    finish) and its screen."""
    # A fresh shell in the one pane, its history cleared: the screen holds this step alone.
    tmux("respawn-pane", "-k", "-t", SESSION, "-c", str(ROOT), SHELL)
    tmux("clear-history", "-t", SESSION)
    path = f"{ROOT / 'layers' / 'crmsync'}:{ROOT / 'cli'}:{ROOT}"
    # `crmsync` as the venv installs it, whatever this machine's PATH and PYTHONPATH.
    define = (
        f"crmsync() {{ CRMSYNC_LOCAL_STACK={shlex.quote(str(stack_file))} PYTHONPATH={shlex.quote(path)} "
        f'{shlex.quote(sys.executable)} -m crmsync_cli "$@"; }}; clear'
    )
    tmux("send-keys", "-t", SESSION, define, "Enter")
    time.sleep(0.3)
    tmux("send-keys", "-t", SESSION, f"crmsync --local {step.argv.format(**names)}; echo {DONE}$?", "Enter")
    deadline = time.monotonic() + COMMAND_TIMEOUT_SECONDS
    code: int | None = None
    screen = ""
    while time.monotonic() < deadline:
        time.sleep(0.5)
        # -J: a line the terminal wrapped comes back whole, so a too-wide one shows.
        screen = tmux("capture-pane", "-p", "-J", "-t", SESSION, "-S", "-1000")
        marks = [line for line in screen.splitlines() if line.startswith(DONE)]
        if marks:
            code = int(marks[-1][len(DONE) :])
            break
    lines = [line.rstrip().replace(f"; echo {DONE}$?", "") for line in screen.rstrip().splitlines()]
    shown = "\n".join(line for line in lines if not line.startswith(DONE) and line != "$")
    (screens / f"{step.name}.txt").write_text(shown + "\n")
    return code, shown


def main(argv: list[str] | None = None) -> int:
    parse = argparse.ArgumentParser(
        prog="python -m local.runtime.check_cli", description=__doc__.split("\n")[0]
    )
    parse.add_argument("--keep-stack", action="store_true", help="leave a stack this check started running")
    parse.add_argument("--state", type=Path, default=STATE_DIRECTORY)
    args = parse.parse_args(argv)
    if shutil.which("tmux") is None:
        print("check-cli needs tmux (apt-get install tmux)")
        return 2
    started_here = running(args.state) is None
    if started_here and start_stack(args.state, port=0, tick_seconds=30.0) != 0:
        return 2
    stack = json.loads((args.state / STACK_FILE).read_text())
    screens = args.state / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    failures = []
    tmux("new-session", "-d", "-s", SESSION, "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(ROOT), SHELL)
    try:
        for step in STEPS:
            code, screen = run_step(step, seeded_names(stack), screens, args.state / STACK_FILE)
            wide = [line for line in screen.splitlines() if len(line) > WIDTH]
            verdict = "ok"
            if code is None:
                verdict = f"did not finish within {COMMAND_TIMEOUT_SECONDS:.0f} s"
            elif code == 1 and NO_ROUTE in screen:
                verdict = "skipped: this stack does not serve the route yet"
            elif code not in step.exits:
                verdict = f"exit status {code}"
            elif wide:
                verdict = f"{len(wide)} lines wider than {WIDTH} columns"
            if verdict != "ok" and not verdict.startswith("skipped"):
                failures.append(step.name)
            print(f"  {step.name:<16} {verdict}")
    finally:
        subprocess.run(["tmux", "-L", SESSION, "kill-server"], check=False, capture_output=True)
        if started_here and not args.keep_stack:
            stop_stack(args.state)
    print(f"screens in {screens}/")
    if failures:
        print(f"check-cli failed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
