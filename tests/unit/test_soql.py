"""Every SOQL statement is built through one path that quotes values safely."""

from datetime import UTC, datetime

import pytest
from crmsync.domain.errors import ConfigurationError
from crmsync.domain.records import Watermark
from crmsync.salesforce import soql

UNTIL = datetime(2026, 11, 22, 12, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("email", "quoted"),
    [
        ("o'brien@example.com", r"'o\'brien@example.com'"),
        ("x' OR Name != '", r"'x\' OR Name != \''"),
        ("back\\slash@example.com", r"'back\\slash@example.com'"),
    ],
)
def test_emails_with_quotes_stay_inside_their_literal(email: str, quoted: str) -> None:
    query = soql.where_in("Lead", ["Email"], "Email", [email])
    assert query == f"SELECT Id, Email FROM Lead WHERE Email IN ({quoted})"


@pytest.mark.parametrize("name", ["Lead; DELETE", "Email'", "Name OR 1=1", "", "1Field", "Owner..Email"])
def test_names_that_are_not_salesforce_api_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="not a Salesforce API name"):
        soql.where_in("Lead", [name], "Email", ["a@example.com"])


def test_custom_and_relationship_names_are_accepted() -> None:
    assert soql.api_name("Score__c") == "Score__c"
    assert soql.api_name("ns__Grade__c") == "ns__Grade__c"
    assert soql.api_name("Owner.Email") == "Owner.Email"


def test_a_first_read_takes_everything_before_the_settled_second() -> None:
    query = soql.changed_since("Lead", ["Email", "LastName"], None, UNTIL)
    assert query == (
        "SELECT Id, SystemModstamp, Email, LastName FROM Lead "
        "WHERE SystemModstamp < 2026-11-22T12:00:05+00:00 ORDER BY SystemModstamp ASC, Id ASC"
    )


def test_a_later_read_resumes_after_the_last_id_seen_at_the_watermark_stamp() -> None:
    since = Watermark(datetime(2026, 11, 22, 11, 0, 0, tzinfo=UTC), "00Q000000000001AAA")
    query = soql.changed_since("Lead", ["Id", "Email"], since, UNTIL)
    assert (
        "WHERE SystemModstamp < 2026-11-22T12:00:05+00:00 AND (SystemModstamp > 2026-11-22T11:00:00+00:00 "
        "OR (SystemModstamp = 2026-11-22T11:00:00+00:00 AND Id > '00Q000000000001AAA'))"
    ) in query
    assert query.startswith("SELECT Id, SystemModstamp, Email FROM Lead")
