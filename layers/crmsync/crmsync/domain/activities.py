"""Marketing activities as Salesforce Tasks (docs/guide/activities.md).

The marketing platform records engagement events (form submissions, email sends, opens, clicks,
page visits) for its prospects. Each one becomes a completed Task on the prospect's linked Lead
or Contact, or nothing, by these rules, in this order:

1. Only the configured types (`activities.types`) are sent; the others are skipped for good,
   so switching a type on later does not flood the org with old events.
2. A prospect without an active link waits: its activities go once it is linked (or its link
   is active again). A Person Account's Task names its person contact (`PersonContactId`),
   which the link does not hold; until the run knows it, the activity waits too.
3. Only the first click on each link of an email reaches Salesforce: a click whose (email,
   URL) was already sent for the prospect, or is sent earlier in the same batch, is skipped.

`decide_activities` applies them to a batch; the run writes the Tasks, and `settle_unsent` and
`settle_sent` say what became of each activity (sent with its Task id, skipped, waiting, or
failed with why) and what users see of it (`Settled.report`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from crmsync.domain.audit import AuditRecord, Direction, Report, SyncError
from crmsync.domain.lifecycle import LinkStatus, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.records import Watermark, WriteResult

SUBJECT_LENGTH = 255
DESCRIPTION_LENGTH = 32_000
"""Task.Subject and Task.Description lengths in every org."""

TASK_STATUS = "Completed"
TASK_OBJECT = "Task"
"""The error list's object for a Task Salesforce refused (record id: the activity)."""


class ActivityType(StrEnum):
    FORM_SUBMISSION = "form_submission"
    EMAIL_SEND = "email_send"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    PAGE_VISIT = "page_visit"

    @property
    def about_an_email(self) -> bool:
        return self in (ActivityType.EMAIL_SEND, ActivityType.EMAIL_OPEN, ActivityType.EMAIL_CLICK)


_SUBJECTS = {
    ActivityType.FORM_SUBMISSION: "Marketing form submitted",
    ActivityType.EMAIL_SEND: "Marketing email sent",
    ActivityType.EMAIL_OPEN: "Marketing email opened",
    ActivityType.EMAIL_CLICK: "Marketing email link clicked",
    ActivityType.PAGE_VISIT: "Web page visited",
}


class InvalidActivity(ValueError):
    """An activity the marketing platform described incompletely; the message names the field."""


@dataclass(frozen=True)
class Activity:
    """One engagement event of a prospect, as the marketing platform recorded it.

    `name` is what a person recognises: the email's, the form's or the page's title. `url` is
    the clicked link (email_click), the visited page (page_visit) or the form's page."""

    id: str
    prospect_id: str
    type: ActivityType
    occurred_at: datetime
    name: str | None = None
    email_id: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        for attribute in ("id", "prospect_id"):
            if not str(getattr(self, attribute) or "").strip():
                raise InvalidActivity(f"{attribute}: is required")
        if self.occurred_at.tzinfo is None:
            raise InvalidActivity(f"occurred_at: {self.occurred_at.isoformat()} has no time zone")
        missing = [attribute for attribute in _REQUIRED[self.type] if not getattr(self, attribute)]
        if missing:
            raise InvalidActivity(f"{', '.join(missing)}: required for a {self.type} activity ({self.id})")

    @property
    def position(self) -> Watermark:
        """Where the activity stands in the order activities are sent: oldest first, then by id."""
        return Watermark(self.occurred_at, self.id)

    @property
    def click(self) -> ClickKey | None:
        """The (prospect, email, link) this activity clicked; None for other types."""
        if self.type is not ActivityType.EMAIL_CLICK:
            return None
        assert self.email_id is not None and self.url is not None
        return ClickKey(self.prospect_id, self.email_id, self.url)


_REQUIRED: Mapping[ActivityType, tuple[str, ...]] = {
    ActivityType.FORM_SUBMISSION: ("name",),
    ActivityType.EMAIL_SEND: ("email_id",),
    ActivityType.EMAIL_OPEN: ("email_id",),
    ActivityType.EMAIL_CLICK: ("email_id", "url"),
    ActivityType.PAGE_VISIT: ("url",),
}


@dataclass(frozen=True)
class ClickKey:
    """What makes two clicks "the same link of the same email" for one prospect."""

    prospect_id: str
    email_id: str
    url: str


class ActivityState(StrEnum):
    WAITING = "waiting"
    """To be sent at the next run."""
    WAITING_FOR_LINK = "waiting_for_link"
    """The prospect has no active link (or its Person Account's contact is not known yet)."""
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    """Salesforce refused the Task for good; the error list has the entry."""

    @property
    def waits(self) -> bool:
        return self in (ActivityState.WAITING, ActivityState.WAITING_FOR_LINK)


@dataclass(frozen=True)
class StoredActivity:
    """An activity with what became of it."""

    activity: Activity
    state: ActivityState
    task_id: str | None = None
    reason: str = ""


class Decision(StrEnum):
    SEND = "send"
    SKIP = "skip"
    WAIT_FOR_LINK = "wait_for_link"


@dataclass(frozen=True)
class ActivityDecision:
    activity: Activity
    decision: Decision
    reason: str
    link: StoredLink | None = None
    task: Mapping[str, Any] | None = None
    """The Task's fields, when the activity is sent."""


def person_accounts_to_resolve(links: Iterable[StoredLink]) -> set[str]:
    """The Person Account ids among active links, whose person contact a Task must name."""
    return {
        stored.link.crm.id
        for stored in links
        if stored.link.status is LinkStatus.ACTIVE and stored.link.crm.object is CrmObject.PERSON_ACCOUNT
    }


def decide_activities(
    activities: Sequence[Activity],
    types: Collection[ActivityType],
    links: Mapping[str, StoredLink],
    person_contacts: Mapping[str, str],
    sent_clicks: Collection[ClickKey],
) -> list[ActivityDecision]:
    """One decision per activity, in the order they happened.

    `links` maps prospect id → link; `person_contacts` Person Account id → its
    `PersonContactId`; `sent_clicks` the clicks already sent as Tasks for these prospects."""
    decisions: list[ActivityDecision] = []
    clicked = set(sent_clicks)
    for activity in sorted(activities, key=lambda a: a.position):
        stored = links.get(activity.prospect_id)
        if activity.type not in types:
            decisions.append(
                ActivityDecision(
                    activity,
                    Decision.SKIP,
                    f"{activity.type} activities are not sent to Salesforce (activities.types)",
                    stored,
                )
            )
            continue
        if stored is None or stored.link.status is not LinkStatus.ACTIVE:
            why = (
                "the prospect is not linked to a Salesforce record"
                if stored is None
                else f"the prospect's link is {stored.link.status}"
            )
            decisions.append(ActivityDecision(activity, Decision.WAIT_FOR_LINK, why, stored))
            continue
        who_id = _who_id(stored, person_contacts)
        if who_id is None:
            decisions.append(
                ActivityDecision(
                    activity,
                    Decision.WAIT_FOR_LINK,
                    f"the person contact (PersonContactId) of Person Account {stored.link.crm.id} is not known",
                    stored,
                )
            )
            continue
        click = activity.click
        if click is not None and click in clicked:
            decisions.append(
                ActivityDecision(
                    activity,
                    Decision.SKIP,
                    f"a click on {click.url} in email {click.email_id} was already sent (first click only)",
                    stored,
                )
            )
            continue
        if click is not None:
            clicked.add(click)
        decisions.append(
            ActivityDecision(
                activity, Decision.SEND, "sent as a Task", stored, task=task_fields(activity, who_id)
            )
        )
    return decisions


@dataclass(frozen=True)
class Settled:
    """What became of some activities: the state each keeps, what users see, and the counts."""

    outcomes: list[StoredActivity]
    report: Report
    counts: Counter[str] = field(default_factory=Counter)


def settle_unsent(decisions: Sequence[ActivityDecision], at: datetime, run_id: str) -> Settled:
    """The activities a batch does not send: skipped for good, or waiting for a link."""
    skipped = [d for d in decisions if d.decision is Decision.SKIP]
    waiting = [d for d in decisions if d.decision is Decision.WAIT_FOR_LINK]
    return Settled(
        [StoredActivity(d.activity, ActivityState.SKIPPED, reason=d.reason) for d in skipped]
        + [StoredActivity(d.activity, ActivityState.WAITING_FOR_LINK, reason=d.reason) for d in waiting],
        Report(Direction.INBOUND, _audit(((d, f"skipped: {d.reason}") for d in skipped), at, run_id)),
        Counter(skipped=len(skipped), waiting_for_link=len(waiting)),
    )


def settle_sent(
    decisions: Sequence[ActivityDecision],
    results: Sequence[WriteResult],
    *,
    waited_for_link: bool,
    at: datetime,
    run_id: str,
    listed: Collection[str] = (),
) -> Settled:
    """The activities sent, with Salesforce's result for each Task: sent; refused for now (a
    locked row, the API limit: it waits for the next run); or refused for good (failed, and
    listed in the error list). `listed`: the ids of activities with an error list entry (a
    Task refused before, retried since), resolved once sent."""
    outcomes: list[StoredActivity] = []
    errors: list[SyncError] = []
    resolved: list[tuple[str, str]] = []
    audited: list[tuple[ActivityDecision, str]] = []
    counts: Counter[str] = Counter()
    for decision, result in zip(decisions, results, strict=True):
        activity = decision.activity
        failure = result.failure
        if failure is None:
            outcomes.append(
                StoredActivity(activity, ActivityState.SENT, task_id=result.record_id, reason=decision.reason)
            )
            audited.append((decision, f"sent as Task {result.record_id}"))
            counts["sent"] += 1
            if activity.id in listed:
                resolved.append((TASK_OBJECT, activity.id))
        elif failure.retryable:
            counts["retry_later"] += 1
            if waited_for_link:
                # Its prospect is linked now: the next run's sending picks it up.
                outcomes.append(StoredActivity(activity, ActivityState.WAITING, reason=failure.describe()))
        else:
            outcomes.append(
                StoredActivity(
                    activity,
                    ActivityState.FAILED,
                    reason=f"Salesforce refused the Task: {failure.describe()}",
                )
            )
            errors.append(
                SyncError(
                    direction=Direction.INBOUND,
                    operation="task",
                    sobject=TASK_OBJECT,
                    record_id=activity.id,
                    failure=failure,
                    at=at,
                    prospect_id=activity.prospect_id,
                )
            )
            audited.append((decision, f"refused by Salesforce: {failure.describe()}"))
            counts["failed"] += 1
    return Settled(outcomes, Report(Direction.INBOUND, _audit(audited, at, run_id), errors, resolved), counts)


def _audit(entries: Iterable[tuple[ActivityDecision, str]], at: datetime, run_id: str) -> list[AuditRecord]:
    """One entry per activity of a linked prospect (the store keeps one item per prospect)."""
    return [
        AuditRecord(
            prospect_id=decision.activity.prospect_id,
            at=at,
            run_id=run_id,
            direction=Direction.INBOUND,
            crm_type=decision.link.link.crm.object.value,
            crm_id=decision.link.link.crm.id,
            event=f"{decision.activity.type} activity {decision.activity.id} {what}",
            rule=f"activities: {decision.decision}",
        )
        for decision, what in entries
        if decision.link is not None
    ]


def _who_id(stored: StoredLink, person_contacts: Mapping[str, str]) -> str | None:
    crm = stored.link.crm
    if crm.object is CrmObject.PERSON_ACCOUNT:
        return person_contacts.get(crm.id)
    return crm.id


def task_fields(activity: Activity, who_id: str) -> dict[str, Any]:
    """A completed Task on `who_id` (a Lead or Contact) describing the activity."""
    return {
        "WhoId": who_id,
        "Subject": _cut(f"{_SUBJECTS[activity.type]}: {_title(activity)}", SUBJECT_LENGTH),
        "Status": TASK_STATUS,
        "ActivityDate": activity.occurred_at.astimezone(UTC).date().isoformat(),
        "Description": _cut(_description(activity), DESCRIPTION_LENGTH),
    }


def _title(activity: Activity) -> str:
    return activity.name or activity.email_id or activity.url or activity.id


def _description(activity: Activity) -> str:
    occurred = activity.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"{_SUBJECTS[activity.type]} (recorded by the marketing platform, sent by crmsync).",
        f"When: {occurred}",
    ]
    if activity.type.about_an_email:
        named = f"{activity.name} " if activity.name else ""
        lines.append(f"Email: {named}(id {activity.email_id})")
    if activity.type is ActivityType.EMAIL_CLICK:
        lines.append(f"Link: {activity.url}")
    elif activity.type is ActivityType.FORM_SUBMISSION:
        lines.append(f"Form: {activity.name}")
        if activity.url:
            lines.append(f"Page: {activity.url}")
    elif activity.type is ActivityType.PAGE_VISIT:
        if activity.name:
            lines.append(f"Page: {activity.name}")
        lines.append(f"URL: {activity.url}")
    lines += [f"Prospect: {activity.prospect_id}", f"Activity: {activity.id}"]
    return "\n".join(lines)


def _cut(text: str, length: int) -> str:
    """`text` within `length` characters as Salesforce counts them: UTF-16 code units, so a
    character outside the Basic Multilingual Plane (an emoji) counts as two (Salesforce Help,
    article 005166849); one that does not fit whole is left out, never split."""
    if len(text.encode("utf-16-le")) // 2 <= length:
        return text
    kept, used = [], 1  # the ellipsis
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > length:
            break
        kept.append(char)
    return "".join(kept) + "…"
