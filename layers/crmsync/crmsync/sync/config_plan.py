"""A configuration's dry run (docs/guide/operator-actions.md): `POST /config/plan`.

It reads the document as `PUT /config` would (every problem by its path), checks it against the
org's describe, then plans a sample of linked records with it: their current Salesforce values
(one query per object, by Id), their prospects and the snapshots of their last sync, through the
runs' field rules (`domain.config_plan`). It writes nothing, anywhere: not the configuration,
not a link, not a prospect, not Salesforce; it only reads.

A document that does not read, or that the org refuses, is answered `valid: false` with its
problems and no records: a plan of an invalid document is a valid answer (the request itself was
well formed), and the command line shows the problems and exits non-zero on `valid`. A request
body that is not `{"document": {...}, "sample": N}` is the request's own fault (400).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.config import Configuration, InvalidConfiguration
from crmsync.domain.config_plan import RecordDryRun, dry_run_record, dry_run_summary
from crmsync.domain.errors import ConfigurationError, CrmError, ErrorCategory, Failure
from crmsync.domain.lifecycle import LinkStatus, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.records import SalesforceRecord
from crmsync.json_input import json_type
from crmsync.ports import CrmGateway, LinkSample, LinkStore, ProspectStore
from crmsync.sync.control import SalesforceUnavailable, check_against_org
from crmsync.sync.outbound.reads import person_fields

DEFAULT_SAMPLE = 20
MAX_SAMPLE = 200
"""At most one query per object: the sample's Ids fit one SOQL `IN` list (`IDS_PER_QUERY`)."""
REQUEST_KEYS = ("document", "sample")


class InvalidPlanRequest(ValueError):
    """The request body is not a dry run's; `problems` lists every one, each with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class PlanRequest:
    document: Mapping[str, Any]
    sample: int


def read_request(body: Any) -> PlanRequest:
    """`{"document": {...}, "sample": N}`; `sample` is 1 to `MAX_SAMPLE`, `DEFAULT_SAMPLE` when
    left out."""
    if not isinstance(body, Mapping):
        raise InvalidPlanRequest([f"body: must be a JSON object, not {json_type(body)}"])
    problems = [
        f"{key}: unknown key (allowed: {', '.join(REQUEST_KEYS)})" for key in body if key not in REQUEST_KEYS
    ]
    document = body.get("document")
    if not isinstance(document, Mapping):
        problems.append(
            f"document: must be the configuration document (a JSON object), not {json_type(document)}"
        )
    sample = body.get("sample", DEFAULT_SAMPLE)
    if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= MAX_SAMPLE:
        shown = sample if isinstance(sample, int) and not isinstance(sample, bool) else json_type(sample)
        problems.append(f"sample: must be a whole number from 1 to {MAX_SAMPLE}, not {shown}")
    if problems:
        raise InvalidPlanRequest(problems)
    assert isinstance(document, Mapping)
    return PlanRequest(document, int(sample))


@dataclass(frozen=True)
class DryRun:
    valid: bool
    problems: tuple[str, ...] = ()
    records: tuple[RecordDryRun, ...] = ()
    api_calls: int = 0

    def as_answer(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "problems": list(self.problems),
            "records": [record.as_answer() for record in self.records],
            "summary": dry_run_summary(self.records),
            "api_calls": self.api_calls,
        }


class ConfigurationPlan:
    def __init__(
        self,
        *,
        crm: Callable[[], CrmGateway],
        links: LinkStore,
        sample: LinkSample,
        prospects: ProspectStore,
    ) -> None:
        self._crm = crm
        self._links = links
        self._sample = sample
        self._prospects = prospects
        self._gateway: CrmGateway | None = None

    def plan(self, request: PlanRequest) -> DryRun:
        """Raises `SalesforceUnavailable` when Salesforce cannot be reached (or logged in to)."""
        try:
            configuration = Configuration.from_document(request.document)
        except InvalidConfiguration as exc:
            return DryRun(valid=False, problems=exc.problems)
        calls_before = 0

        def gateway() -> CrmGateway:
            nonlocal calls_before
            if self._gateway is None:
                self._gateway = self._crm()
                calls_before = self._gateway.api_calls
            return self._gateway

        try:
            check_against_org(configuration, gateway)
        except InvalidConfiguration as exc:
            return DryRun(valid=False, problems=exc.problems, api_calls=self._spent(calls_before))
        links = self._links.by_prospect_ids(self._sample.sample_prospect_ids(request.sample))
        try:
            records = self._plan_links(configuration, sorted(links.values(), key=_prospect_id), gateway())
        except CrmError as exc:
            raise SalesforceUnavailable(exc.failure) from exc
        except ConfigurationError as exc:
            failure = Failure("CONFIGURATION", str(exc), category=ErrorCategory.CONFIGURATION)
            raise SalesforceUnavailable(failure) from exc
        return DryRun(valid=True, records=tuple(records), api_calls=self._spent(calls_before))

    def _spent(self, calls_before: int) -> int:
        return 0 if self._gateway is None else self._gateway.api_calls - calls_before

    def _plan_links(
        self, config: Configuration, links: list[StoredLink], gateway: CrmGateway
    ) -> list[RecordDryRun]:
        planned = [
            s for s in links if s.link.status is LinkStatus.ACTIVE and config.objects.syncs(s.link.crm.object)
        ]
        records: dict[str, SalesforceRecord] = {}
        for crm in {s.link.crm.object for s in planned}:
            ids = sorted(s.link.crm.id for s in planned if s.link.crm.object is crm)
            records.update(
                {r.id: r for r in gateway.find(crm.sobject, person_fields(config, crm), "Id", ids)}
            )
        prospects = self._prospects.get_many([s.link.prospect_id for s in planned])
        results = []
        for stored in links:
            link = stored.link
            ref = link.crm
            note = ""
            if link.status is not LinkStatus.ACTIVE:
                note = f"the link is {link.status.value}: the runs do not sync it"
            elif not config.objects.syncs(ref.object):
                note = f"{ref.object.value} records are not synced by this configuration (objects)"
            elif ref.id not in records:
                note = f"Salesforce has no {ref.object.value} {ref.id} any more"
            elif link.prospect_id not in prospects:
                note = f"prospect {link.prospect_id} no longer exists"
            if note:
                results.append(RecordDryRun(link.prospect_id, ref.object, ref.id, note=note))
                continue
            prospect = prospects[link.prospect_id]
            results.append(
                dry_run_record(
                    link.prospect_id,
                    ref.object,
                    records[ref.id],
                    prospect.fields,
                    prospect.modified_at,
                    mappings=_mappings(config, ref.object),
                    conflict_winner=config.conflict_winner,
                    snapshot=stored.snapshot,
                    scope=config.outbound.scope.get(ref.object),
                )
            )
        return results


def _mappings(config: Configuration, crm: CrmObject) -> tuple[Any, ...]:
    return tuple(config.mappings.get(crm, ()))


def _prospect_id(stored: StoredLink) -> str:
    return stored.link.prospect_id
