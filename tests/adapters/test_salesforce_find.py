"""Looking records up by a list of values (ids, emails) through the gateway."""

from __future__ import annotations

from crmsync.salesforce.gateway import SalesforceGateway

from local.salesforce_emulator import Emulator


def test_a_lookup_by_more_values_than_one_query_uri_holds_is_split_and_finds_every_record(
    emulator: Emulator, gateway: SalesforceGateway
) -> None:
    # GIVEN 700 Leads: their ids, or their emails, make SOQL `IN` lists far longer than the
    # 16,384 bytes Salesforce takes for a request's URI and headers
    leads = {
        emulator.insert(
            "Lead", {"LastName": f"Lead {n}", "Company": "Acme", "Email": f"lead.{n}@acme.example"}
        ): f"lead.{n}@acme.example"
        for n in range(700)
    }
    emulator.reset_counters()

    # WHEN the gateway looks them up by id, then by email
    by_id = gateway.find("Lead", ["Email"], "Id", sorted(leads))
    by_email = gateway.find("Lead", ["Email"], "Email", sorted(leads.values()))

    # THEN every record is found once, in a few queries that each fit
    assert sorted(r["Id"] for r in by_id) == sorted(leads)
    assert sorted(r["Email"] for r in by_email) == sorted(leads.values())
    assert emulator.api_calls == 4, "two queries by id, two by email"
