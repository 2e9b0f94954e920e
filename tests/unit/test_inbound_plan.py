"""What inbound sends for a changed prospect and what users see of it (domain.inbound)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from crmsync.domain.audit import ErrorState
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.fields import Behaviour, ConflictWinner, FieldMapping
from crmsync.domain.inbound import (
    RETRY_BUDGET,
    InboundOutcome,
    InboundRules,
    capture_refused,
    plan_prospect_change,
)
from crmsync.domain.lifecycle import CrmRef, Link, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot
from crmsync.domain.prospect import Prospect

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEAD = CrmRef(CrmObject.LEAD, "00Q000000000001AAA")
TITLE = FieldMapping("job_title", "Title", Behaviour.MOST_RECENT)
RULES = InboundRules(ConflictWinner.SALESFORCE, {CrmObject.LEAD: (TITLE,)})
LINK = StoredLink(Link("p-1", LEAD), {"Title=job_title": FieldSnapshot("Engineer", "Engineer")}, version=2)
PROSPECT = Prospect("p-1", {"job_title": "Countess"}, version=9)


def test_a_prospect_change_is_sent_and_audited_field_by_field() -> None:
    plan = plan_prospect_change(PROSPECT, "p-1", LINK, RULES)

    assert plan.outcome is InboundOutcome.UPDATE and plan.salesforce_writes == {"Title": "Countess"}
    (entry,) = plan.audit(NOW, "run-1")
    assert (entry.event, entry.field, entry.old, entry.new, entry.crm_id) == (
        "field synced",
        "Title",
        "Engineer",
        "Countess",
        LEAD.id,
    )
    assert plan.snapshot_change.synced_version == 9


def test_a_refused_write_is_listed_counting_its_attempts_and_its_link_records_the_version_dealt_with() -> (
    None
):
    plan = plan_prospect_change(PROSPECT, "p-1", LINK, RULES)
    locked = Failure("UNABLE_TO_LOCK_ROW", "locked", category=ErrorCategory.TRANSIENT)

    first = plan.failed(locked, NOW, None)
    last = plan.failed(locked, NOW, replace(first, attempts=RETRY_BUDGET - 1))

    assert (first.sobject, first.record_id, first.prospect_id, first.attempts) == ("Lead", LEAD.id, "p-1", 1)
    assert first.state is ErrorState.RETRYING
    assert last.attempts == RETRY_BUDGET and last.state is ErrorState.OPEN
    assert plan.listed_change.synced_version == 9 and plan.listed_change.snapshot == LINK.snapshot


def test_a_change_record_change_capture_could_not_read_is_listed_for_its_prospect() -> None:
    error = capture_refused(None, "seq-42", "NewImage is missing", NOW)
    assert (error.sobject, error.record_id, error.failure.code) == (
        "Prospect",
        "stream record (seq-42)",
        "MALFORMED_STREAM_RECORD",
    )
