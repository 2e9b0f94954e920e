"""Connector control (docs/guide/control.md): load the configuration, read the one in force, pause, resume.

A configuration is loaded only whole and only once it is known good: it must read (every
problem named by its path), its version must be above the one in force, and every Salesforce
field it maps or filters on must exist and, for a behaviour that writes to Salesforce, be
writable according to the org's describe. Nothing is stored when any of that fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crmsync.config import Configuration, StaleConfigurationVersion
from crmsync.domain.errors import ConfigurationError, CrmError, ErrorCategory, Failure
from crmsync.domain.records import ObjectDescription
from crmsync.ports import ConfigStore, CrmGateway, StateStore


class SalesforceUnavailable(Exception):
    """Salesforce could not describe the objects a configuration uses (unreachable, login
    refused, limit spent), so the configuration could be neither checked nor loaded."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(
            f"cannot check the configuration against Salesforce, so it was not loaded: {failure.describe()}"
        )
        self.failure = failure


def load_configuration(
    document: Mapping[str, Any], crm: Callable[[], CrmGateway], store: ConfigStore
) -> Configuration:
    """Check `document` and make it the configuration in force.

    Raises `InvalidConfiguration` (every bad entry, by path), `ConfigurationTooLarge`,
    `StaleConfigurationVersion`, `SalesforceUnavailable`, or the store's `StoreError`. `crm` is
    called only for a document that reads, fits and is newer, so a broken document costs no
    Salesforce call and is refused even while Salesforce is down."""
    configuration = Configuration.from_document(document)
    store.check_fits(document)
    in_force = store.current()
    if in_force is not None and configuration.version <= int(in_force["version"]):
        raise StaleConfigurationVersion(offered=configuration.version, current=int(in_force["version"]))
    check_against_org(configuration, crm)
    # The store checks the version again, atomically: another load may have landed meanwhile.
    store.save(document)
    return configuration


def check_against_org(configuration: Configuration, crm: Callable[[], CrmGateway]) -> None:
    """Raise `InvalidConfiguration` naming every field the org's describe refuses, or
    `SalesforceUnavailable` when Salesforce cannot describe the objects."""
    configuration.validate_against(_describe(configuration.sobjects_to_describe(), crm))


def current_configuration(store: ConfigStore) -> Configuration:
    """The configuration in force; the default one until a configuration is loaded. Raises
    `InvalidConfiguration` when the stored document no longer reads (a connector upgrade that
    changed a key): a run must stop rather than guess."""
    document = store.current()
    return Configuration.default() if document is None else Configuration.from_document(document)


def configuration_report(store: ConfigStore) -> dict[str, Any]:
    """What `GET /config` shows: the document in force as it was loaded, or the default
    configuration's document with `loaded: false` before any was."""
    document = store.current()
    if document is None:
        default = Configuration.default()
        return {"loaded": False, "version": default.version, "document": default.to_document()}
    return {"loaded": True, "version": int(document["version"]), "document": dict(document)}


def pause(state: StateStore) -> None:
    """Stop automatic sync from the next run on (a run already going finishes). Salesforce
    users still sync, automation actions still queue, the status and the configuration
    still work (docs/guide/control.md)."""
    state.set_paused(True)


def resume(state: StateStore) -> None:
    """Start automatic sync again. The watermarks did not move while paused, so the next runs
    catch up on every change made meanwhile."""
    state.set_paused(False)


def _describe(sobjects: frozenset[str], crm: Callable[[], CrmGateway]) -> dict[str, ObjectDescription]:
    try:
        gateway = crm()
        return {sobject: gateway.describe(sobject) for sobject in sorted(sobjects)}
    except CrmError as exc:
        raise SalesforceUnavailable(exc.failure) from exc
    except ConfigurationError as exc:
        # The Salesforce secret is missing or malformed: the login cannot even be tried.
        raise SalesforceUnavailable(
            Failure("CONFIGURATION", str(exc), category=ErrorCategory.CONFIGURATION)
        ) from exc
