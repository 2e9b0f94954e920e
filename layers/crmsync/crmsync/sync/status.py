"""`GET /status`: is the connector running, which version, on what schedules, and does
Salesforce answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from crmsync import __version__
from crmsync.domain.audit import Direction
from crmsync.domain.errors import ConfigurationError, CrmError
from crmsync.ports import CrmGateway, ErrorList, RunLog, StateStore

if TYPE_CHECKING:
    from crmsync.config import Configuration


def connector_status(
    state: StateStore,
    crm: Callable[[], CrmGateway],
    *,
    run_log: RunLog | None = None,
    error_list: ErrorList | None = None,
    now: datetime | None = None,
    configuration: Callable[[], Configuration] | None = None,
) -> dict[str, Any]:
    """The status report; a Salesforce that does not answer is reported, not raised. With
    `run_log` and `error_list`, it also shows each direction's last run, its lag, and the open
    errors by category; with `configuration` too, the schedules it sets and when each scheduled
    run is next due."""
    connector = state.connector_state()
    report: dict[str, Any] = {
        "connector": "paused" if connector.paused else "running",
        "version": __version__,
        "config_version": connector.config_version,
    }
    if run_log is not None and error_list is not None and now is not None:
        report["runs"] = _last_runs(run_log, now)
        errors = error_list.open_errors()
        report["open_errors"] = dict(Counter(error.failure.category.value for error in errors))
        if configuration is not None:
            report["schedules"] = _schedules(configuration, run_log)
    try:
        usage = crm().check_connection()
    except CrmError as exc:
        failure = exc.failure
        report["salesforce"] = {
            "reachable": False,
            "error": {"code": failure.code, "category": failure.category.value, "message": failure.message},
        }
    except ConfigurationError as exc:
        report["salesforce"] = {
            "reachable": False,
            "error": {"code": "CONFIGURATION", "category": "configuration", "message": str(exc)},
        }
    else:
        report["salesforce"] = {
            "reachable": True,
            "api_usage": {"used": usage.used, "limit": usage.limit, "percent": usage.percent},
        }
    return report


def _last_runs(run_log: RunLog, now: datetime) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for direction in Direction:
        last = run_log.last_run(direction)
        if last is None:
            runs[direction.value] = None
            continue
        runs[direction.value] = {
            "outcome": last.outcome,
            "finished_at": last.finished_at.isoformat(),
            "lag_seconds": round((now - last.finished_at).total_seconds()),
            "counts": dict(last.counts),
            "api_calls": last.api_calls,
        }
    return runs


def _schedules(configuration: Callable[[], Configuration], run_log: RunLog) -> dict[str, Any]:
    """The configuration's schedules (the one way to set them), each with the start of its last
    scheduled run and when the next is due (None: at the next tick, within a minute)."""
    try:
        config = configuration()
    except ConfigurationError as exc:
        return {"error": {"code": "CONFIGURATION", "category": "configuration", "message": str(exc)}}

    def schedule(name: str, every: str, interval: timedelta) -> dict[str, Any]:
        last = run_log.last_scheduled_start(name)
        return {
            "every": every,
            "last_started_at": None if last is None else last.isoformat(),
            "next_due_at": None if last is None else (last + interval).isoformat(),
        }

    inbound = config.inbound
    return {
        Direction.OUTBOUND.value: schedule(
            Direction.OUTBOUND.value, config.outbound.schedule.text, config.outbound.schedule.interval
        ),
        Direction.INBOUND.value: {
            **schedule(Direction.INBOUND.value, _minutes(inbound.every_minutes), inbound.interval),
            "max_waiting_changes": inbound.max_waiting_changes,
        },
    }


def _minutes(count: int) -> str:
    return f"{count} minute{'' if count == 1 else 's'}"
