"""Marketing activities as Tasks (docs/guide/activities.md): which activities become Tasks, what a Task says,
and the `activities` section of the configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from crmsync.config import ActivitySettings, Configuration, InvalidConfiguration
from crmsync.domain.activities import (
    Activity,
    ActivityState,
    ActivityType,
    ClickKey,
    Decision,
    InvalidActivity,
    decide_activities,
    person_accounts_to_resolve,
    settle_sent,
    settle_unsent,
    task_fields,
)
from crmsync.domain.errors import ErrorCategory, Failure
from crmsync.domain.lifecycle import CrmRef, Link, LinkStatus, StoredLink
from crmsync.domain.objects import CrmObject
from crmsync.domain.records import WriteResult

AT = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
EVERY_TYPE = frozenset(ActivityType)
LEAD = StoredLink(Link("p-1", CrmRef(CrmObject.LEAD, "00Q000000000001AAA")))


def opened(activity_id: str = "a-1", prospect_id: str = "p-1", minutes: int = 0) -> Activity:
    return Activity(
        activity_id,
        prospect_id,
        ActivityType.EMAIL_OPEN,
        AT + timedelta(minutes=minutes),
        name="Spring launch",
        email_id="em-1",
    )


def clicked(
    activity_id: str, minutes: int, url: str = "https://example.com/a", email_id: str = "em-1"
) -> Activity:
    return Activity(
        activity_id,
        "p-1",
        ActivityType.EMAIL_CLICK,
        AT + timedelta(minutes=minutes),
        name="Spring launch",
        email_id=email_id,
        url=url,
    )


def decisions_of(
    activities: list[Activity],
    *,
    types: frozenset[ActivityType] = EVERY_TYPE,
    links: dict[str, StoredLink] | None = None,
    person_contacts: dict[str, str] | None = None,
    sent_clicks: set[ClickKey] | None = None,
) -> dict[str, tuple[Decision, str]]:
    decided = decide_activities(
        activities,
        types,
        {"p-1": LEAD} if links is None else links,
        person_contacts or {},
        sent_clicks or set(),
    )
    return {d.activity.id: (d.decision, d.reason) for d in decided}


# ------------------------------------------------------------------ what becomes a Task


def test_an_activity_of_a_linked_lead_becomes_a_completed_task_on_the_lead() -> None:
    [decision] = decide_activities([opened()], EVERY_TYPE, {"p-1": LEAD}, {}, set())

    assert decision.decision is Decision.SEND
    assert decision.task is not None
    assert decision.task["WhoId"] == "00Q000000000001AAA"
    assert decision.task["Subject"] == "Marketing email opened: Spring launch"
    assert decision.task["Status"] == "Completed"
    assert decision.task["ActivityDate"] == "2026-11-22"


def test_only_the_configured_types_are_sent_and_the_others_are_skipped_with_why() -> None:
    visit = Activity("a-2", "p-1", ActivityType.PAGE_VISIT, AT, url="https://example.com/pricing")

    decided = decisions_of([opened(), visit], types=frozenset({ActivityType.PAGE_VISIT}))

    assert decided["a-2"][0] is Decision.SEND
    assert decided["a-1"] == (
        Decision.SKIP,
        "email_open activities are not sent to Salesforce (activities.types)",
    )


def test_a_type_not_sent_is_skipped_even_before_its_prospect_is_linked() -> None:
    decided = decisions_of([opened()], types=frozenset(), links={})

    assert decided["a-1"][0] is Decision.SKIP


@pytest.mark.parametrize(
    ("links", "why"),
    [
        ({}, "the prospect is not linked to a Salesforce record"),
        (
            {"p-1": StoredLink(Link("p-1", LEAD.link.crm, LinkStatus.CRM_DELETED))},
            "the prospect's link is crm_deleted",
        ),
        (
            {"p-1": StoredLink(Link("p-1", LEAD.link.crm, LinkStatus.OUT_OF_SCOPE))},
            "the prospect's link is out_of_scope",
        ),
    ],
)
def test_the_activities_of_a_prospect_without_an_active_link_wait(
    links: dict[str, StoredLink], why: str
) -> None:
    assert decisions_of([opened()], links=links) == {"a-1": (Decision.WAIT_FOR_LINK, why)}


def test_only_the_first_click_on_a_link_of_an_email_is_sent() -> None:
    first = clicked("a-1", minutes=1)
    again = clicked("a-2", minutes=2)
    other_link = clicked("a-3", minutes=3, url="https://example.com/b")
    other_email = clicked("a-4", minutes=4, email_id="em-2")

    # Given in another order than they happened: the earliest click is the first.
    decided = decisions_of([again, other_email, first, other_link])

    assert decided["a-1"][0] is Decision.SEND
    assert decided["a-2"] == (
        Decision.SKIP,
        "a click on https://example.com/a in email em-1 was already sent (first click only)",
    )
    assert decided["a-3"][0] is Decision.SEND
    assert decided["a-4"][0] is Decision.SEND


def test_a_click_already_sent_by_an_earlier_run_adds_nothing() -> None:
    later_click = clicked("a-9", minutes=60)

    decided = decisions_of([later_click], sent_clicks={ClickKey("p-1", "em-1", "https://example.com/a")})

    assert decided["a-9"][0] is Decision.SKIP


def test_a_person_accounts_task_names_its_person_contact_and_waits_while_it_is_unknown() -> None:
    person = StoredLink(Link("p-1", CrmRef(CrmObject.PERSON_ACCOUNT, "001000000000001AAA")))
    assert person_accounts_to_resolve([person, LEAD]) == {"001000000000001AAA"}

    known = decide_activities(
        [opened()], EVERY_TYPE, {"p-1": person}, {"001000000000001AAA": "003000000000001AAA"}, set()
    )
    unknown = decisions_of([opened()], links={"p-1": person})

    assert known[0].task is not None and known[0].task["WhoId"] == "003000000000001AAA"
    assert unknown["a-1"] == (
        Decision.WAIT_FOR_LINK,
        "the person contact (PersonContactId) of Person Account 001000000000001AAA is not known",
    )


def test_inactive_person_accounts_need_no_contact_lookup() -> None:
    deleted = StoredLink(Link("p-1", CrmRef(CrmObject.PERSON_ACCOUNT, "001A"), LinkStatus.CRM_DELETED))

    assert person_accounts_to_resolve([deleted]) == set()


# ------------------------------------------------------------------ what a Task says


def test_a_click_task_describes_the_email_and_the_link() -> None:
    task = task_fields(clicked("a-1", minutes=0, url="https://example.com/offer?utm=1"), "003X")

    assert task["Subject"] == "Marketing email link clicked: Spring launch"
    assert task["Description"].splitlines() == [
        "Marketing email link clicked (recorded by the marketing platform, sent by crmsync).",
        "When: 2026-11-22 23:30:00 UTC",
        "Email: Spring launch (id em-1)",
        "Link: https://example.com/offer?utm=1",
        "Prospect: p-1",
        "Activity: a-1",
    ]


@pytest.mark.parametrize(
    ("activity", "subject", "detail"),
    [
        (
            Activity(
                "a", "p", ActivityType.FORM_SUBMISSION, AT, name="Contact us", url="https://x.example/c"
            ),
            "Marketing form submitted: Contact us",
            "Form: Contact us",
        ),
        (
            Activity("a", "p", ActivityType.EMAIL_SEND, AT, email_id="em-7"),
            "Marketing email sent: em-7",
            "Email: (id em-7)",
        ),
        (
            Activity("a", "p", ActivityType.PAGE_VISIT, AT, name="Pricing", url="https://x.example/pricing"),
            "Web page visited: Pricing",
            "URL: https://x.example/pricing",
        ),
        (
            Activity("a", "p", ActivityType.PAGE_VISIT, AT, url="https://x.example/pricing"),
            "Web page visited: https://x.example/pricing",
            "URL: https://x.example/pricing",
        ),
    ],
)
def test_each_type_has_a_clear_subject_and_its_details(activity: Activity, subject: str, detail: str) -> None:
    task = task_fields(activity, "00QX")

    assert task["Subject"] == subject
    assert detail in task["Description"].splitlines()


def test_the_task_date_is_the_utc_day_it_happened() -> None:
    late_in_new_york = datetime(2026, 11, 22, 22, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("America/New_York")
    )
    activity = Activity(
        "a", "p", ActivityType.EMAIL_OPEN, late_in_new_york + timedelta(hours=3), email_id="e"
    )

    assert task_fields(activity, "00QX")["ActivityDate"] == "2026-11-23"


def test_a_long_name_is_cut_to_fit_the_subject() -> None:
    activity = Activity("a", "p", ActivityType.FORM_SUBMISSION, AT, name="N" * 400)

    subject = task_fields(activity, "00QX")["Subject"]

    assert len(subject) == 255
    assert subject.endswith("N…")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"type": ActivityType.EMAIL_CLICK, "email_id": "em-1"},
            "url: required for a email_click activity (a-1)",
        ),
        ({"type": ActivityType.EMAIL_OPEN}, "email_id: required for a email_open activity (a-1)"),
        ({"type": ActivityType.FORM_SUBMISSION}, "name: required for a form_submission activity (a-1)"),
        (
            {"type": ActivityType.PAGE_VISIT, "name": "Pricing"},
            "url: required for a page_visit activity (a-1)",
        ),
        ({"type": ActivityType.PAGE_VISIT, "url": "u", "prospect_id": " "}, "prospect_id: is required"),
        (
            {"type": ActivityType.PAGE_VISIT, "url": "u", "occurred_at": datetime(2026, 11, 22)},
            "occurred_at: 2026-11-22T00:00:00 has no time zone",
        ),
    ],
)
def test_an_incomplete_activity_is_refused_naming_the_field(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"id": "a-1", "prospect_id": "p-1", "occurred_at": AT, **fields}

    with pytest.raises(InvalidActivity) as refused:
        Activity(**values)  # type: ignore[arg-type]

    assert str(refused.value) == message


# ------------------------------------------------------------------ configuration


def test_every_activity_type_is_sent_by_default_and_the_choice_reads_back() -> None:
    assert Configuration.default().activities == ActivitySettings(types=EVERY_TYPE)
    chosen = Configuration.from_document(
        {"version": 3, "activities": {"types": ["page_visit", "email_click"]}}
    )

    assert chosen.activities.types == {ActivityType.PAGE_VISIT, ActivityType.EMAIL_CLICK}
    assert chosen.to_document()["activities"] == {"types": ["email_click", "page_visit"]}
    assert Configuration.from_document(chosen.to_document()) == chosen


def test_an_empty_list_sends_no_activity() -> None:
    assert Configuration.from_document({"version": 3, "activities": {"types": []}}).activities.types == set()


def test_bad_activity_settings_are_refused_naming_each_entry() -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        Configuration.from_document(
            {
                "version": 3,
                "activities": {"types": ["email_open", "email_bounce", "email_open"], "sent": True},
            }
        )

    assert refused.value.problems == (
        "activities.sent: unknown key (expected one of: types)",
        "activities.types[1]: unknown activity type 'email_bounce' (expected one of: form_submission, "
        "email_send, email_open, email_click, page_visit)",
        "activities.types[2]: 'email_open' is listed twice",
    )


def test_activity_types_must_be_a_list() -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        Configuration.from_document({"version": 3, "activities": {"types": "email_open"}})

    assert refused.value.problems == (
        "activities.types: must be a list of activity types (any of: form_submission, email_send, "
        "email_open, email_click, page_visit), not 'email_open'",
    )


# ------------------------------------------------------------------ what became of each activity


def test_activities_not_sent_are_kept_skipped_or_waiting_and_the_skipped_audited() -> None:
    decided = decide_activities(
        [opened("a-1"), opened("a-2", prospect_id="p-2")],
        frozenset({ActivityType.FORM_SUBMISSION}),
        {"p-1": LEAD},
        {},
        set(),
    ) + decide_activities([opened("a-3", prospect_id="p-3")], EVERY_TYPE, {}, {}, set())

    settled = settle_unsent(decided, AT, "run-1")

    assert [(o.activity.id, o.state) for o in settled.outcomes] == [
        ("a-1", ActivityState.SKIPPED),
        ("a-2", ActivityState.SKIPPED),
        ("a-3", ActivityState.WAITING_FOR_LINK),
    ]
    assert settled.counts == {"skipped": 2, "waiting_for_link": 1}
    # Only a linked prospect's activity is audited: the trail is kept per prospect and record.
    assert [entry.event for entry in settled.report.audit] == [
        "email_open activity a-1 skipped: email_open activities are not sent to Salesforce (activities.types)"
    ]


def test_a_task_sent_refused_for_good_or_for_now_settles_its_activity_accordingly() -> None:
    decided = decide_activities(
        [opened("a-1"), opened("a-2", minutes=1), opened("a-3", minutes=2)],
        EVERY_TYPE,
        {"p-1": LEAD},
        {},
        set(),
    )
    results = [
        WriteResult("00T1"),
        WriteResult(None, Failure("INVALID_FIELD", "bad")),
        WriteResult(None, Failure("UNABLE_TO_LOCK_ROW", "locked", category=ErrorCategory.TRANSIENT)),
    ]

    settled = settle_sent(decided, results, waited_for_link=True, at=AT, run_id="run-1")

    assert [(o.activity.id, o.state, o.task_id) for o in settled.outcomes] == [
        ("a-1", ActivityState.SENT, "00T1"),
        ("a-2", ActivityState.FAILED, None),
        ("a-3", ActivityState.WAITING, None),
    ]
    assert settled.counts == {"sent": 1, "failed": 1, "retry_later": 1}
    assert [(e.sobject, e.record_id, e.failure.code) for e in settled.report.errors] == [
        ("Task", "a-2", "INVALID_FIELD")
    ]
    assert [entry.event for entry in settled.report.audit] == [
        "email_open activity a-1 sent as Task 00T1",
        "email_open activity a-2 refused by Salesforce: INVALID_FIELD: bad",
    ]
    waiting = settle_sent(decided[2:], results[2:], waited_for_link=False, at=AT, run_id="run-1")
    assert waiting.outcomes == [], "left waiting as it was, tried again by the next run"
