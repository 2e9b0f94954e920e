"""`GET /status`: is the connector running, which version, and does Salesforce answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crmsync import __version__
from crmsync.domain.errors import ConfigurationError, CrmError
from crmsync.ports import CrmGateway, StateStore


def connector_status(state: StateStore, crm: Callable[[], CrmGateway]) -> dict[str, Any]:
    """The status report; a Salesforce that does not answer is reported, not raised."""
    connector = state.connector_state()
    report: dict[str, Any] = {
        "connector": "paused" if connector.paused else "running",
        "version": __version__,
        "config_version": connector.config_version,
    }
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
