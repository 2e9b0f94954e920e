"""Outbound scope: none, all, created after a date, flagged, and criteria (docs/guide/scope.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from crmsync.domain.scope import (
    AllRecords,
    CreatedAfter,
    Criterion,
    CriterionValue,
    Flagged,
    MatchingCriteria,
    NoRecords,
    Operator,
    in_scope,
)
from crmsync.salesforce.records import read_record

LEAD = read_record(
    {
        "Id": "00Q000000000001AAA",
        "LeadSource": "Web",
        "AnnualRevenue": 150000.0,
        "NumberOfEmployees": 40,
        "Country": None,
        "Company": "Acme Corporation",
        "CreatedDate": "2025-02-01T08:30:00.000+0000",
        "LastActivityDate": "2025-02-10",
        "DoNotCall": False,
    }
)


def test_none_takes_nothing_and_all_takes_everything() -> None:
    assert not in_scope(NoRecords(), LEAD)
    assert in_scope(AllRecords(), LEAD)
    assert in_scope(AllRecords(), read_record({}))


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2025-02-01T08:30:00.000+0000", True),
        ("2025-02-01T08:29:59.000+0000", False),
        ("2025-03-01T00:00:00Z", True),
        (datetime(2025, 1, 1, tzinfo=UTC), False),
        (None, False),
        ("not a date", False),
    ],
)
def test_created_after_takes_records_created_at_or_after_the_moment(created: Any, expected: bool) -> None:
    scope = CreatedAfter(datetime(2025, 2, 1, 8, 30, tzinfo=UTC))
    assert in_scope(scope, read_record({"CreatedDate": created})) is expected


@pytest.mark.parametrize(("flag", "expected"), [(True, True), (False, False), (None, False), (1, False)])
def test_flagged_takes_records_whose_checkbox_is_ticked(flag: Any, expected: bool) -> None:
    # The REST API sends a checkbox as a JSON boolean; the configuration takes only a checkbox.
    assert in_scope(Flagged("Sync__c"), read_record({"Sync__c": flag})) is expected
    assert not in_scope(Flagged("Sync__c"), read_record({}))


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("LeadSource", Operator.EQUALS, "web", True),
        ("LeadSource", Operator.EQUALS, "Webinar", False),
        ("Country", Operator.EQUALS, None, True),
        ("LeadSource", Operator.EQUALS, None, False),
        ("DoNotCall", Operator.EQUALS, False, True),
        ("NumberOfEmployees", Operator.EQUALS, 40, True),
        ("LeadSource", Operator.NOT_EQUALS, "Web", False),
        ("Country", Operator.NOT_EQUALS, "France", True),
        ("AnnualRevenue", Operator.GREATER_THAN, 100000, True),
        ("AnnualRevenue", Operator.GREATER_THAN, 150000, False),
        ("AnnualRevenue", Operator.GREATER_OR_EQUAL, 150000, True),
        ("NumberOfEmployees", Operator.LESS_THAN, 50, True),
        ("NumberOfEmployees", Operator.LESS_OR_EQUAL, 39, False),
        ("LastActivityDate", Operator.GREATER_THAN, "2025-02-09", True),
        ("CreatedDate", Operator.LESS_THAN, "2025-02-01T09:00:00Z", True),
        ("Country", Operator.LESS_THAN, "M", False),
        ("Country", Operator.GREATER_THAN, "M", False),
        ("LeadSource", Operator.IN, ("Webinar", "WEB"), True),
        ("LeadSource", Operator.IN, ("Webinar", "Trade Show"), False),
        ("LeadSource", Operator.NOT_IN, ("Webinar", "Trade Show"), True),
        ("Country", Operator.NOT_IN, ("France",), True),
        ("Company", Operator.CONTAINS, "corp", True),
        ("Company", Operator.CONTAINS, "Inc", False),
        ("Country", Operator.CONTAINS, "a", False),
        ("Company", Operator.STARTS_WITH, "ACME", True),
        ("Company", Operator.STARTS_WITH, "Corporation", False),
        ("Missing__c", Operator.EQUALS, None, True),
    ],
)
def test_each_criteria_operator_means_what_it_means_in_soql(
    field: str, operator: Operator, value: CriterionValue, expected: bool
) -> None:
    assert in_scope(MatchingCriteria((Criterion(field, operator, value),)), LEAD) is expected


def test_numbers_from_a_bulk_api_csv_compare_as_numbers() -> None:
    scope = MatchingCriteria((Criterion("AnnualRevenue", Operator.GREATER_THAN, 99999),))
    assert in_scope(scope, read_record({"AnnualRevenue": "150000.0"}))
    assert not in_scope(scope, read_record({"AnnualRevenue": "lots"}))


def test_criteria_must_all_hold() -> None:
    web = Criterion("LeadSource", Operator.EQUALS, "Web")
    big = Criterion("NumberOfEmployees", Operator.GREATER_THAN, 100)
    assert in_scope(MatchingCriteria((web,)), LEAD)
    assert not in_scope(MatchingCriteria((web, big)), LEAD)
