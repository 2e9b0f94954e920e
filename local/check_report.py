"""`make check-report`: the HTML report as a person sees it. It writes the page for a realistic
week and has headless Chromium take a full-page screenshot of it, to look at (every chart must
show data). With `--from-json FILE` it draws `GET /report`'s answer saved from a stack instead
(`crmsync --local report --json` or `curl`).

The week is made by the report's own use case (crmsync.sync.health_report) over runs and errors
kept in memory: a run every 5 minutes each way, a working-day rhythm, an afternoon where other
integrations spend the org's API calls past the budget (runs wait, the lag grows), a failing
Salesforce for an hour one night, and records that keep failing validation."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crmsync.domain.audit import Direction, SyncError
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.records import ApiUsage
from crmsync.ports import RunOutcome, RunSummary
from crmsync.sync.health_report import Period, health_report
from crmsync_cli.report import write_report

UNTIL = datetime(2026, 11, 23, 9, tzinfo=UTC)
DAILY_LIMIT = 100_000
BUDGET_PERCENT = 50
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class KeptRuns:
    """The run log and error list of the sample week, in memory."""

    def __init__(self) -> None:
        self.runs: list[RunSummary] = []
        self.errors: dict[str, SyncError] = {}

    def last_completed_run(self, direction: Direction) -> RunSummary | None:
        done = [run for run in self.runs if run.direction is direction and run.outcome.in_step]
        return done[-1] if done else None

    def runs_between(self, direction: Direction, since: datetime, until: datetime) -> list[RunSummary]:
        return [run for run in self.runs if run.direction is direction and since <= run.started_at < until]

    def open_errors(self, direction: Direction | None = None) -> list[SyncError]:
        return [error for error in self.errors.values() if direction in (None, error.direction)]

    # Unused by the report; here so the class is a RunLog and an ErrorList.
    def save_run(self, summary: RunSummary) -> None:
        self.runs.append(summary)

    def last_run(self, direction: Direction) -> RunSummary | None:
        runs = [run for run in self.runs if run.direction is direction]
        return runs[-1] if runs else None

    def last_scheduled_start(self, name: str) -> datetime | None:
        return None

    def record_scheduled_start(self, name: str, at: datetime) -> None:
        return None

    def record_errors(self, errors: Sequence[SyncError]) -> None:
        for error in errors:
            kept = self.errors.get(error.key)
            attempts = 1 if kept is None else kept.attempts + 1
            self.errors[error.key] = replace(error, attempts=attempts)

    def resolve_errors(self, direction: Direction, keys: Collection[tuple[str, str]]) -> None:
        for sobject, record_id in keys:
            self.errors.pop(f"{direction}#{sobject}#{record_id}", None)


def sample_week(seed: int = 12) -> dict[str, Any]:
    """`GET /report`'s answer for the sample week."""
    rng = random.Random(seed)
    kept = KeptRuns()
    since = UNTIL - timedelta(days=7)
    failing = [f"00Q5g00000{n:04d}AAA" for n in range(1, 7)]
    moment = since
    while moment < UNTIL:
        hour = moment.hour + moment.minute / 60
        busy = 8 <= hour < 18 and moment.weekday() < 5
        used = _org_usage(moment)
        over = used >= DAILY_LIMIT * BUDGET_PERCENT / 100
        down = moment.day == 20 and 2 <= moment.hour < 3
        for direction in Direction:
            outcome, counts, errors = _a_run(rng, direction, busy=busy, over=over, down=down)
            if outcome is None:
                continue
            if errors:
                record = failing[rng.randrange(len(failing))]
                kept.record_errors([_validation(direction, record, moment)])
            kept.save_run(
                RunSummary(
                    direction=direction,
                    run_id=f"{direction}-{moment:%m%d%H%M}",
                    started_at=moment,
                    finished_at=moment + timedelta(seconds=rng.uniform(4, 40)),
                    outcome=outcome,
                    counts=counts,
                    api_calls=0 if over else rng.randint(2, 9),
                    errors=errors,
                    api_usage=ApiUsage(used, DAILY_LIMIT),
                )
            )
        moment += timedelta(minutes=5)
    return health_report(kept, kept, Period(since, UNTIL), budget_percent=BUDGET_PERCENT, now=UNTIL)


def _org_usage(moment: datetime) -> int:
    """The org's API usage: other integrations' calls through the day, reset at midnight, and a
    heavy data load one afternoon."""
    hours = moment.hour + moment.minute / 60
    used = int(DAILY_LIMIT * 0.35 * min(hours, 18) / 18)
    if moment.day == 19 and hours >= 13:
        used += int(DAILY_LIMIT * 0.25 * min(1.0, (hours - 13) / 2))
    return used


def _a_run(
    rng: random.Random, direction: Direction, *, busy: bool, over: bool, down: bool
) -> tuple[RunOutcome | None, dict[str, int], dict[str, int]]:
    if down:
        return (
            (None, {}, {})
            if direction is Direction.OUTBOUND
            else (RunOutcome.CUT_SHORT, {"read": 40}, {"transient": 3})
        )
    if over:
        return RunOutcome.OVER_BUDGET, {}, {}
    changes = rng.randint(3, 40) if busy else rng.randint(0, 4)
    if changes == 0:
        return (RunOutcome.IDLE if direction is Direction.INBOUND else RunOutcome.COMPLETED), {"read": 0}, {}
    failed = 1 if rng.random() < (0.08 if busy else 0.02) else 0
    synced = changes - failed
    if direction is Direction.OUTBOUND:
        created = rng.randint(0, synced // 3)
        counts = {"read": changes + rng.randint(0, 5), "created": created, "updated": synced - created}
    else:
        counts = {"read": changes, "updated": synced}
    if failed:
        counts["reported"] = failed
    return RunOutcome.COMPLETED, counts, ({"validation": failed} if failed else {})


def _validation(direction: Direction, record_id: str, at: datetime) -> SyncError:
    return SyncError(
        direction=direction,
        operation="update",
        sobject="Lead",
        record_id=record_id,
        failure=Failure(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Lead Source is required for web leads",
            fields=("LeadSource",),
            category=ErrorCategory.VALIDATION,
        ),
        at=at,
        prospect_id=f"{int(record_id[10:14]) + 4100}",
    )


def screenshot(page: Path, png: Path, width: int = 1100) -> None:
    """A full-page screenshot of `page` by headless Chromium (Debian's `chromium`)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("check-report needs Chromium: apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="crmsync-report-") as profile:
        subprocess.run(
            [
                browser,
                *BROWSER_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},4200",
                f"--screenshot={png.resolve()}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--html", type=Path, default=Path(".demo/report.html"))
    parser.add_argument("--png", type=Path, default=Path(".demo/report.png"))
    parser.add_argument("--from-json", type=Path, help="GET /report's answer saved from a stack")
    args = parser.parse_args(argv)
    data = json.loads(args.from_json.read_text()) if args.from_json else sample_week()
    args.html.parent.mkdir(parents=True, exist_ok=True)
    write_report(data, args.html)
    screenshot(args.html, args.png)
    print(f"report: {args.html} ({args.html.stat().st_size // 1024} KB); screenshot: {args.png}")


if __name__ == "__main__":
    main()
