"""A write request no Salesforce call should carry is refused before any call, with what was
wrong: the gateway and the CRM fake share the one check."""

from __future__ import annotations

import pytest
from crmsync.domain.records import WriteOperation
from crmsync.salesforce.gateway import check_write


def test_an_upsert_without_its_external_id_is_refused() -> None:
    with pytest.raises(ValueError, match="an upsert needs external_id_field"):
        check_write("Lead", WriteOperation.UPSERT, [{"Email": "a@example.org"}], None)


def test_an_update_of_a_record_without_its_id_is_refused() -> None:
    records = [{"Id": "00Q000000000001AAA", "Title": "CTO"}, {"Title": "CFO"}]
    with pytest.raises(ValueError, match="every record of an update needs its Id"):
        check_write("Lead", WriteOperation.UPDATE, records, None)


@pytest.mark.parametrize(("sobject", "external_id"), [("Lead; DELETE", None), ("Lead", "Key__c OR 1=1")])
def test_names_that_are_not_api_names_are_refused(sobject: str, external_id: str | None) -> None:
    with pytest.raises(ValueError):
        check_write(sobject, WriteOperation.UPSERT, [{"Key__c": "k"}], external_id)


def test_a_well_formed_request_passes() -> None:
    check_write("Lead", WriteOperation.UPSERT, [{"Crmsync_Key__c": "k"}], "Crmsync_Key__c")
    check_write("Lead", WriteOperation.UPDATE, [{"Id": "00Q000000000001AAA"}], None)
    check_write("Lead", WriteOperation.CREATE, [{"LastName": "Lovelace"}], None)
