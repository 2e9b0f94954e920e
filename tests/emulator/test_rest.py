"""The REST resources: versions, describe, and sObject rows (create, read, update, upsert, delete)."""

from __future__ import annotations

from collections.abc import Callable

from local.salesforce_emulator import Emulator, ManualClock
from local.salesforce_emulator.ids import checksum, is_well_formed, to_18

from .conftest import Client, assert_error, client_for


def test_versions_and_resources_are_listed(api: Client) -> None:
    versions = api.session.get(f"{api.instance_url}/services/data/", timeout=5).json()
    resources = api.get("").json()

    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert resources["query"] == "/services/data/v62.0/query"
    assert resources["sobjects"] == "/services/data/v62.0/sobjects"


def test_the_global_describe_lists_the_objects_with_their_key_prefixes(api: Client) -> None:
    body = api.get("sobjects").json()
    prefixes = {o["name"]: o["keyPrefix"] for o in body["sobjects"]}
    assert prefixes == {
        "Lead": "00Q",
        "Contact": "003",
        "Account": "001",
        "Opportunity": "006",
        "OpportunityContactRole": "00K",
        "Task": "00T",
        "User": "005",
    }


def test_describe_reports_field_types_lengths_and_permissions(api: Client) -> None:
    describe = api.get("sobjects/Lead/describe").json()
    fields = {f["name"]: f for f in describe["fields"]}

    assert (describe["name"], describe["keyPrefix"]) == ("Lead", "00Q")
    assert fields["Id"]["type"] == "id" and not fields["Id"]["createable"]
    assert (fields["LastName"]["length"], fields["LastName"]["nillable"]) == (80, False)
    assert (fields["Title"]["type"], fields["Title"]["length"]) == ("string", 128)
    assert (fields["Description"]["type"], fields["Description"]["length"]) == ("textarea", 32000)
    assert fields["Email"]["type"] == "email"
    assert (
        fields["Status"]["defaultedOnCreate"]
        and {
            "active": True,
            "defaultValue": True,
            "label": "Open - Not Contacted",
            "value": "Open - Not Contacted",
            "validFor": None,
        }
        in fields["Status"]["picklistValues"]
    )
    assert not fields["SystemModstamp"]["updateable"] and fields["SystemModstamp"]["type"] == "datetime"
    assert fields["Full_Name__c"]["calculated"] and not fields["Full_Name__c"]["createable"]
    key = fields["Crmsync_Key__c"]
    assert (key["externalId"], key["unique"], key["length"], key["custom"]) == (True, True, 64, True)
    assert fields["Score__c"]["type"] == "double" and fields["Sync_To_Marketing__c"]["type"] == "boolean"
    assert fields["ConvertedContactId"]["referenceTo"] == ["Contact"]


def test_person_account_fields_exist_only_when_enabled(make_emulator: Callable[..., Emulator]) -> None:
    plain = {f["name"] for f in client_for(make_emulator()).get("sobjects/Account/describe").json()["fields"]}
    person = {
        f["name"]
        for f in client_for(make_emulator(person_accounts=True))
        .get("sobjects/Account/describe")
        .json()["fields"]
    }
    assert "IsPersonAccount" not in plain
    assert {"IsPersonAccount", "PersonEmail", "FirstName", "LastName"} <= person


def test_an_unknown_object_is_not_found(api: Client) -> None:
    assert_error(api.get("sobjects/Shoe/describe"), 404, "NOT_FOUND")


def test_a_created_record_reads_back_with_attributes_and_system_fields(
    emulator: Emulator, api: Client, clock: ManualClock
) -> None:
    created = api.request(
        "POST", "sobjects/Lead/", json={"FirstName": "Pat", "LastName": "Lee", "Company": "Acme"}
    )

    assert created.status_code == 201
    body = created.json()
    assert body == {"id": body["id"], "success": True, "errors": []}
    record_id = body["id"]
    assert record_id.startswith("00Q") and is_well_formed(record_id)
    lead = api.get(f"sobjects/Lead/{record_id}").json()
    assert lead["attributes"] == {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/{record_id}"}
    assert lead["Status"] == "Open - Not Contacted" and lead["Full_Name__c"] == "Pat Lee"
    assert lead["CreatedDate"] == lead["SystemModstamp"] == "2026-11-22T12:00:00.000+0000"
    user_id = emulator.records("User")[-1]["Id"]
    assert lead["OwnerId"] == lead["CreatedById"] == user_id
    assert lead["IsDeleted"] is False and lead["HasOptedOutOfEmail"] is False
    only = api.get(f"sobjects/Lead/{record_id}", params={"fields": "LastName,email"}).json()
    assert set(only) == {"attributes", "LastName", "Email"}


def test_an_update_bumps_the_stamps_to_the_whole_second(
    emulator: Emulator, api: Client, clock: ManualClock
) -> None:
    lead = emulator.insert("Lead", {"LastName": "Lee", "Company": "Acme"})
    clock.advance(seconds=1.75)

    assert api.request("PATCH", f"sobjects/Lead/{lead}", json={"Title": "CTO"}).status_code == 204

    record = emulator.get(lead)
    assert record is not None and record["Title"] == "CTO"
    assert record["SystemModstamp"] == record["LastModifiedDate"] == "2026-11-22T12:00:01.000+0000"
    assert record["CreatedDate"] == "2026-11-22T12:00:00.000+0000"


def test_validation_failures_refuse_a_single_record_with_code_message_and_fields(api: Client) -> None:
    missing = api.request("POST", "sobjects/Lead", json={"LastName": "X"})
    email = api.request("POST", "sobjects/Lead", json={"LastName": "X", "Company": "Acme", "Email": "x@"})
    long_title = api.request(
        "POST", "sobjects/Lead", json={"LastName": "X", "Company": "Acme", "Title": "t" * 129}
    )
    unknown = api.request("POST", "sobjects/Lead", json={"LastName": "X", "Company": "Acme", "Shoe__c": 1})
    read_only = api.request(
        "POST", "sobjects/Lead", json={"LastName": "X", "Company": "Acme", "IsConverted": True}
    )
    bad_json = api.request(
        "POST", "sobjects/Lead", data="{not json", headers={"Content-Type": "application/json"}
    )
    bad_type = api.request(
        "POST", "sobjects/Lead", json={"LastName": "X", "Company": "Acme", "Score__c": "high"}
    )

    assert assert_error(missing, 400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [Company]")[
        "fields"
    ] == ["Company"]
    assert assert_error(email, 400, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: x@")[
        "fields"
    ] == ["Email"]
    assert_error(
        long_title, 400, "STRING_TOO_LONG", f"Title: data value too large: {'t' * 129} (max length=128)"
    )
    assert_error(unknown, 400, "INVALID_FIELD", "No such column 'Shoe__c' on sobject of type Lead")
    assert assert_error(read_only, 400, "INVALID_FIELD_FOR_INSERT_UPDATE")["fields"] == ["IsConverted"]
    assert_error(bad_json, 400, "JSON_PARSER_ERROR")
    assert_error(
        bad_type, 400, "INVALID_TYPE_ON_FIELD_IN_RECORD", "Score__c: value not of required type: high"
    )


def test_missing_malformed_and_deleted_records(emulator: Emulator, api: Client) -> None:
    lead = emulator.insert("Lead", {"LastName": "Lee", "Company": "Acme"})
    assert api.request("DELETE", f"sobjects/Lead/{lead}").status_code == 204

    assert_error(api.get(f"sobjects/Lead/{lead}"), 404, "ENTITY_IS_DELETED", "entity is deleted")
    assert_error(api.request("PATCH", f"sobjects/Lead/{lead}", json={"Title": "x"}), 404, "ENTITY_IS_DELETED")
    assert_error(
        api.get(f"sobjects/Lead/{to_18('00Q8d0000000zzz')}"),
        404,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
    assert_error(api.get("sobjects/Lead/not-an-id"), 404, "NOT_FOUND")
    assert_error(
        api.request("POST", "sobjects/Contact", json={"LastName": "X", "AccountId": "001bad"}),
        400,
        "MALFORMED_ID",
    )


def test_upsert_by_external_id_creates_then_updates(emulator: Emulator, api: Client) -> None:
    created = api.request(
        "PATCH", "sobjects/Lead/Crmsync_Key__c/p-1", json={"LastName": "New", "Company": "Acme"}
    )
    updated = api.request("PATCH", "sobjects/Lead/Crmsync_Key__c/p-1", json={"Title": "CEO"})

    assert created.status_code == 201 and created.json()["created"] is True
    assert updated.status_code == 200 and updated.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert api.get("sobjects/Lead/Crmsync_Key__c/p-1").json()["Title"] == "CEO"


def test_a_converted_lead_refuses_writes(emulator: Emulator, api: Client) -> None:
    lead = emulator.insert("Lead", {"LastName": "Lee", "Company": "Acme"})
    emulator.convert_lead(lead)

    refused = api.request("PATCH", f"sobjects/Lead/{lead}", json={"Title": "x"})

    assert_error(refused, 400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")


def test_ids_carry_the_case_safe_checksum() -> None:
    assert checksum("00Q8d0000000001") == "EAA"
    assert checksum("001AB0000000xYz") == "YAI"  # upper case at 3, 4 | none | 3
    assert is_well_formed("00Q8d0000000001EAA") and is_well_formed("00Q8d0000000001")
    assert not is_well_formed("00Q8d0000000001AAA") and not is_well_formed("00Q-bad")


def test_a_character_outside_the_basic_plane_counts_twice_towards_a_fields_length(
    emulator: Emulator, api: Client
) -> None:
    # FirstName holds 40 characters as Salesforce counts them: UTF-16 code units
    fits = api.request(
        "POST", "sobjects/Lead", json={"FirstName": "🚀" * 20, "LastName": "X", "Company": "Acme"}
    )
    too_long = api.request(
        "POST", "sobjects/Lead", json={"FirstName": "🚀" * 21, "LastName": "X", "Company": "Acme"}
    )

    assert fits.status_code == 201, fits.text
    assert emulator.get(fits.json()["id"])["FirstName"] == "🚀" * 20  # type: ignore[index]
    assert assert_error(too_long, 400, "STRING_TOO_LONG")["fields"] == ["FirstName"]
