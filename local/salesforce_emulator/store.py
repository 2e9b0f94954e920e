"""The org's records and the data rules every write goes through, whichever API it came by.

Records are plain dicts keyed by canonical API names, holding every field of their object
(unset fields are None), with date-times as Salesforce renders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .clock import Clock, format_datetime
from .errors import ApiError, RecordRefused
from .ids import IdFactory, is_well_formed, to_18
from .rules import coerce
from .schema import Record, SObjectType

_CONVERTED_STATUS = "Closed - Converted"
# What lead conversion copies onto the new Contact (a standard org's default field mapping).
_LEAD_TO_CONTACT = (
    "FirstName",
    "LastName",
    "Email",
    "Title",
    "Phone",
    "MobilePhone",
    "LeadSource",
    "HasOptedOutOfEmail",
    "Description",
    "Score__c",
    "Grade__c",
    "Sync_To_Marketing__c",
)
_PERSON_FIELDS = ("FirstName", "LastName", "PersonEmail")
# A person account's fields that are its person contact's (Account field -> Contact field); its
# custom `__pc` fields are the contact's `__c` fields.
_PERSON_CONTACT_FIELDS = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "PersonEmail": "Email",
    "PersonTitle": "Title",
    "PersonMobilePhone": "MobilePhone",
    "PersonHasOptedOutOfEmail": "HasOptedOutOfEmail",
}
# What lead conversion copies onto a new person account (the default field mapping).
_LEAD_TO_PERSON_ACCOUNT = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Email": "PersonEmail",
    "Title": "PersonTitle",
    "Phone": "Phone",
    "MobilePhone": "PersonMobilePhone",
    "HasOptedOutOfEmail": "PersonHasOptedOutOfEmail",
    "Description": "Description",
    "Score__c": "Score__pc",
    "Grade__c": "Grade__pc",
    "Sync_To_Marketing__c": "Sync_To_Marketing__pc",
}


class Store:
    def __init__(self, schema: Mapping[str, SObjectType], clock: Clock, ids: IdFactory) -> None:
        self.schema = schema
        self._clock = clock
        self._ids = ids
        self._records: dict[str, Record] = {}
        self._by_object: dict[str, dict[str, Record]] = {name: {} for name in schema}
        self._by_prefix = {t.key_prefix: t for t in schema.values()}
        self._duplicate_rules: set[tuple[str, str]] = set()
        # Live records by (object, field, normalised value) for the fields looked up by value
        # (unique and external Id fields, duplicate-rule fields): upserts of thousands of
        # records would otherwise scan the object once per record.
        self._index: dict[tuple[str, str], dict[Any, set[str]]] = {
            (t.name, f.name): {}
            for t in schema.values()
            for f in t.fields.values()
            if f.unique or f.external_id
        }
        # Previous states of the records written since `begin()`, for an all-or-none rollback.
        self._journal: list[tuple[str, Record | None]] | None = None

    # --- metadata ------------------------------------------------------------------------------

    def sobject(self, name: str) -> SObjectType:
        for candidate in self.schema.values():
            if candidate.name.lower() == name.lower():
                return candidate
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{name}' is not supported.")

    def canonical(self, sobject: SObjectType, values: Mapping[str, Any]) -> dict[str, Any]:
        """`values` keyed by canonical field names; an unknown name refuses the whole request."""
        resolved = {}
        for name, value in values.items():
            definition = sobject.field(name)
            if definition is None:
                raise ApiError(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject.name}"
                )
            resolved[definition.name] = value
        return resolved

    def type_of(self, record_id: str) -> SObjectType | None:
        return self._by_prefix.get(record_id[:3])

    def enable_duplicate_rule(self, sobject: str, field: str) -> None:
        definition = self.sobject(sobject).field(field)
        if definition is None:
            raise ValueError(f"{sobject} has no field {field}")
        key = (self.sobject(sobject).name, definition.name)
        self._duplicate_rules.add(key)
        if key not in self._index:
            self._index[key] = {}
            for record in self._by_object[key[0]].values():
                self._index_record(record, add=True)

    # --- reads ---------------------------------------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        return self._records.get(to_18(record_id)) if is_well_formed(record_id) else None

    def records(self, sobject: str) -> Iterable[Record]:
        """Every record of `sobject`, deleted ones included, in creation order."""
        return self._by_object[self.sobject(sobject).name].values()

    def find(self, sobject: SObjectType, field: str, value: Any) -> Record | None:
        """The live record whose `field` equals `value` (case-insensitively, like external Ids)."""
        wanted = _key(value)
        index = self._index.get((sobject.name, field))
        if index is not None:
            ids = index.get(wanted)
            return self._records[min(ids)] if ids else None
        for record in self._by_object[sobject.name].values():
            if not record["IsDeleted"] and _key(record.get(field)) == wanted:
                return record
        return None

    # --- writes --------------------------------------------------------------------------------

    def create(self, sobject_name: str, values: Mapping[str, Any], *, user_id: str) -> str:
        sobject = self.sobject(sobject_name)
        values = self.canonical(sobject, values)
        if "Id" in values:
            raise RecordRefused("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        _refuse_unwritable(sobject, values, creating=True)
        stamp = self._stamp()
        state: Record = {name: None for name in sobject.fields}
        for definition in sobject.fields.values():
            if definition.default is not None and definition.createable:
                state[definition.name] = user_id if definition.name == "OwnerId" else definition.default
            elif definition.type == "boolean":
                state[definition.name] = bool(definition.default)
        for name, value in values.items():
            state[name] = coerce(sobject.fields[name], value)
        if sobject.name == "Account" and "IsPersonAccount" in sobject.fields:
            state["IsPersonAccount"] = "Name" not in values and any(values.get(f) for f in _PERSON_FIELDS)
        state |= {
            "Id": self._ids.new(sobject.key_prefix),
            "IsDeleted": False,
            "CreatedDate": stamp,
            "CreatedById": user_id,
            "LastModifiedDate": stamp,
            "LastModifiedById": user_id,
            "SystemModstamp": stamp,
        }
        if not user_id:  # the org's first user is its own creator
            state["CreatedById"] = state["LastModifiedById"] = state["Id"]
        self._check(sobject, state, changed=set(values), existing_id=None)
        self._save(sobject, state)
        if state.get("IsPersonAccount"):
            self._create_person_contact(state, user_id)
        return str(state["Id"])

    def update(self, sobject_name: str, record_id: str, values: Mapping[str, Any], *, user_id: str) -> None:
        sobject = self.sobject(sobject_name)
        values = self.canonical(sobject, values)
        current = self.live(sobject, record_id)
        if sobject.name == "Lead" and current["IsConverted"]:
            raise RecordRefused("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        values.pop("Id", None)
        _refuse_unwritable(sobject, values, creating=False)
        state = dict(current)
        for name, value in values.items():
            state[name] = coerce(sobject.fields[name], value)
        self._check(sobject, state, changed=set(values), existing_id=current["Id"])
        self._save(sobject, self._touched(state, user_id))
        if state.get("IsPersonAccount") and state.get("PersonContactId"):
            self._update_person_contact(state, user_id)

    def upsert(
        self, sobject_name: str, key_field: str, key_value: Any, values: Mapping[str, Any], *, user_id: str
    ) -> tuple[str, bool]:
        """Update the live record whose `key_field` is `key_value`, or create one; (id, created).

        A record in the recycle bin is not matched: Salesforce updates a record the external ID
        matches among the existing ones and creates one otherwise ("Upsert Records Using sObject
        Rows by External ID", REST API Developer Guide,
        https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_upsert_patch.htm),
        and deleted records are only seen by queryAll; users meet it as an upsert that "silently
        creates a duplicate" of a record deleted since their export
        (https://github.com/tprouvot/Salesforce-Inspector-reloaded/issues/1334). The connector
        relies on it to give a prospect whose record was deleted a new one under the same key."""
        sobject = self.sobject(sobject_name)
        existing = self.match(sobject, key_field, key_value)
        if existing is not None:
            self.update(sobject.name, existing, values, user_id=user_id)
            return existing, False
        return self.create(sobject.name, values, user_id=user_id), True

    def match(self, sobject: SObjectType, key_field: str, key_value: Any) -> str | None:
        """The Id an upsert by `key_field` = `key_value` would update, or None to create."""
        definition = sobject.field(key_field)
        if definition is None or not (definition.external_id or definition.type == "id"):
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {key_field}",
            )
        if key_value in (None, ""):
            raise RecordRefused("MISSING_ARGUMENT", f"{definition.name} not specified", [definition.name])
        if definition.type == "id":
            return str(self.live(sobject, str(key_value))["Id"])
        found = self.find(sobject, definition.name, coerce(definition, key_value))
        return None if found is None else str(found["Id"])

    def delete(self, record_id: str, *, user_id: str, master_id: str | None = None) -> None:
        sobject = self._type_of_existing(record_id)
        state = dict(self.live(sobject, record_id))
        state["IsDeleted"] = True
        if "MasterRecordId" in state:
            state["MasterRecordId"] = master_id
        self._save(sobject, self._touched(state, user_id))

    def undelete(self, record_id: str, *, user_id: str) -> None:
        sobject = self._type_of_existing(record_id)
        current = self._records[to_18(record_id)]
        if not current["IsDeleted"]:
            raise RecordRefused("UNDELETE_FAILED", "Entity is not in the recycle bin")
        state = dict(current)
        state["IsDeleted"] = False
        if "MasterRecordId" in state:
            state["MasterRecordId"] = None
        self._check(sobject, state, changed=set(), existing_id=state["Id"])
        self._save(sobject, self._touched(state, user_id))

    def merge(self, master_id: str, loser_ids: Iterable[str], *, user_id: str) -> None:
        """Losers are deleted with `MasterRecordId`; what pointed at them now points at the master."""
        sobject = self._type_of_existing(master_id)
        if not sobject.mergeable:
            raise RecordRefused("INVALID_TYPE", f"{sobject.name} records cannot be merged")
        master = str(self.live(sobject, master_id)["Id"])
        losers = [str(self.live(sobject, loser)["Id"]) for loser in loser_ids]
        for loser in losers:
            self._repoint(loser, master, user_id)
            self.delete(loser, user_id=user_id, master_id=master)
        self._save(sobject, self._touched(dict(self._records[master]), user_id))

    def convert_lead(
        self,
        lead_id: str,
        *,
        user_id: str,
        account_id: str | None = None,
        contact_id: str | None = None,
        person_account: bool = False,
    ) -> tuple[str, str]:
        """Convert a Lead into an Account and a Contact (convertLead()): new ones, or the ones
        named. With `person_account`, the new Account is a person account made from the Lead's
        person fields. A Lead converted into a person account (new, or named by `account_id`)
        gets it as its ConvertedAccountId and its person contact (PersonContactId) as its
        ConvertedContactId: "a lead can be converted to an account and a person account instead
        of a contact" (SOAP API Developer Guide, convertLead()), a person account's contact is
        created with it and is "the only contact record that can be associated directly with the
        person account" (Person Account Record Types), and LeadConvertResult's contactId is the
        contact the conversion created or was given."""
        lead_type = self.sobject("Lead")
        lead = self.live(lead_type, lead_id)
        if lead["IsConverted"]:
            raise RecordRefused("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        account_type = self.sobject("Account")
        if person_account and "IsPersonAccount" not in account_type.fields:
            raise ValueError("this org has no person accounts")
        if account_id is None:
            values = (
                {to: lead[name] for name, to in _LEAD_TO_PERSON_ACCOUNT.items() if lead.get(name) is not None}
                if person_account
                else {"Name": lead["Company"]}
            )
            account_id = self.create("Account", values, user_id=user_id)
        account = self.live(account_type, account_id)
        if account.get("IsPersonAccount"):
            person_contact = str(account["PersonContactId"])
            if contact_id is not None and to_18(contact_id) != person_contact:
                raise RecordRefused(
                    "INVALID_CROSS_REFERENCE_KEY", "the contact must be the person account's person contact"
                )
            contact_id = person_contact
        elif contact_id is None:
            copied = {name: lead[name] for name in _LEAD_TO_CONTACT if lead.get(name) is not None}
            contact_id = self.create("Contact", {**copied, "AccountId": account_id}, user_id=user_id)
        state = dict(lead) | {
            "IsConverted": True,
            "ConvertedAccountId": to_18(account_id),
            "ConvertedContactId": to_18(contact_id),
            "ConvertedDate": self._clock().date().isoformat(),
            "Status": _CONVERTED_STATUS,
        }
        self._save(lead_type, self._touched(state, user_id))
        return to_18(account_id), to_18(contact_id)

    # --- person accounts -------------------------------------------------------------------------

    def _create_person_contact(self, account: Record, user_id: str) -> None:
        """ "When a person account is created ..., a corresponding contact record is also created",
        and its Id is the account's PersonContactId (SOAP API Developer Guide, Person Account
        Record Types); that contact's IsPersonAccount is true."""
        contact_type = self.sobject("Contact")
        values = {
            field: account[name]
            for name, field in self._person_contact_fields(contact_type)
            if account.get(name) is not None and contact_type.fields[field].createable
        }
        contact_id = self.create("Contact", {**values, "AccountId": account["Id"]}, user_id=user_id)
        self._save(contact_type, dict(self._records[contact_id]) | {"IsPersonAccount": True})
        self._save(
            self.sobject("Account"), dict(self._records[str(account["Id"])]) | {"PersonContactId": contact_id}
        )

    def _update_person_contact(self, account: Record, user_id: str) -> None:
        """A person account's edit is its person contact's too, and Salesforce "always updates the
        LastModifiedDate system field in both the account and contact" (Change Data Capture
        Developer Guide, Updating a Person Account)."""
        contact_type = self.sobject("Contact")
        contact = self._records[str(account["PersonContactId"])]
        mirrored = {
            field: account[name]
            for name, field in self._person_contact_fields(contact_type)
            if contact_type.fields[field].updateable
        }
        self._save(contact_type, self._touched(dict(contact) | mirrored, user_id))

    def _person_contact_fields(self, contact_type: SObjectType) -> list[tuple[str, str]]:
        """(Account field, Contact field) of what a person account shares with its contact."""
        custom = [
            (name, name.removesuffix("__pc") + "__c")
            for name in self.sobject("Account").fields
            if name.endswith("__pc") and name.removesuffix("__pc") + "__c" in contact_type.fields
        ]
        return [*_PERSON_CONTACT_FIELDS.items(), *custom]

    # --- all or none ---------------------------------------------------------------------------

    def begin(self) -> None:
        self._journal = []

    def commit(self) -> None:
        self._journal = None

    def rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for record_id, previous in reversed(journal):
            self._put(record_id, previous)

    # --- helpers -------------------------------------------------------------------------------

    def live(self, sobject: SObjectType, record_id: str) -> Record:
        """The record `record_id` of `sobject`, refusing malformed, unknown and deleted Ids."""
        if not is_well_formed(record_id) or record_id[:3] != sobject.key_prefix:
            raise RecordRefused(
                "MALFORMED_ID", f"{sobject.name} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        record = self._records.get(to_18(record_id))
        if record is None:
            raise RecordRefused("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if record["IsDeleted"]:
            raise RecordRefused("ENTITY_IS_DELETED", "entity is deleted")
        return record

    def _type_of_existing(self, record_id: str) -> SObjectType:
        sobject = self.type_of(record_id) if is_well_formed(record_id) else None
        if sobject is None or to_18(record_id) not in self._records:
            raise RecordRefused("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        return sobject

    def _stamp(self) -> str:
        return format_datetime(self._clock())

    def _touched(self, state: Record, user_id: str) -> Record:
        stamp = self._stamp()
        return state | {"LastModifiedDate": stamp, "LastModifiedById": user_id, "SystemModstamp": stamp}

    def _save(self, sobject: SObjectType, state: Record) -> None:
        for definition in sobject.fields.values():
            if definition.formula is not None:
                state[definition.name] = definition.formula(state)
        if state.get("IsPersonAccount"):
            state["Name"] = " ".join(p for p in (state.get("FirstName"), state.get("LastName")) if p)
        record_id = str(state["Id"])
        if self._journal is not None:
            self._journal.append((record_id, self._records.get(record_id)))
        self._put(record_id, state)

    def _put(self, record_id: str, state: Record | None) -> None:
        """Store `state` as the record `record_id` (None: it never existed), keeping the index."""
        sobject = self.type_of(record_id)
        assert sobject is not None
        previous = self._records.pop(record_id, None)
        if previous is not None:
            self._index_record(previous, add=False)
        if state is None:
            del self._by_object[sobject.name][record_id]
            return
        self._records[record_id] = state
        self._by_object[sobject.name][record_id] = state
        self._index_record(state, add=True)

    def _index_record(self, record: Record, *, add: bool) -> None:
        if record["IsDeleted"]:
            return
        sobject = self.type_of(str(record["Id"]))
        assert sobject is not None
        for (name, field), index in self._index.items():
            value = record.get(field)
            if name != sobject.name or value is None:
                continue
            ids = index.setdefault(_key(value), set())
            if add:
                ids.add(str(record["Id"]))
            else:
                ids.discard(str(record["Id"]))

    def _check(self, sobject: SObjectType, state: Record, *, changed: set[str], existing_id: Any) -> None:
        """The rules a record must meet once the incoming values are applied."""
        required = sobject.required
        if state.get("IsPersonAccount"):
            required = ("LastName",)
        missing = [name for name in required if state.get(name) in (None, "")]
        if missing:
            raise RecordRefused(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for name in changed:
            definition = sobject.fields[name]
            if definition.type == "reference" and state[name] is not None:
                self._check_reference(definition.name, definition.reference_to, str(state[name]))
        for definition in sobject.fields.values():
            value = state.get(definition.name)
            if definition.unique and value is not None:
                clash = self.find(sobject, definition.name, value)
                if clash is not None and clash["Id"] != existing_id:
                    raise RecordRefused(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {definition.name} duplicates value on record with id: {clash['Id']}",
                    )
        for rule_object, field in self._duplicate_rules:
            if rule_object == sobject.name and (existing_id is None or field in changed):
                clash = self.find(sobject, field, state.get(field)) if state.get(field) else None
                if clash is not None and clash["Id"] != existing_id:
                    raise RecordRefused("DUPLICATES_DETECTED", "Use one of these records?")

    def _check_reference(self, field: str, targets: tuple[str, ...], value: str) -> None:
        target = self._records.get(value)
        target_type = self.type_of(value)
        if target_type is None or target_type.name not in targets:
            raise RecordRefused(
                "FIELD_INTEGRITY_EXCEPTION", f"{field}: id value of incorrect type: {value}", [field]
            )
        if target is None:
            raise RecordRefused("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field])
        if target["IsDeleted"]:
            raise RecordRefused("ENTITY_IS_DELETED", "entity is deleted", [field])

    def _repoint(self, old: str, new: str, user_id: str) -> None:
        for record in list(self._records.values()):
            sobject = self.type_of(str(record["Id"]))
            assert sobject is not None
            fields = [
                f.name
                for f in sobject.fields.values()
                if f.type == "reference" and f.updateable and record.get(f.name) == old
            ]
            if fields:
                self._save(sobject, self._touched(record | dict.fromkeys(fields, new), user_id))


def _key(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _refuse_unwritable(sobject: SObjectType, values: Mapping[str, Any], *, creating: bool) -> None:
    blocked = [
        name
        for name in values
        if name != "Id"
        and not (sobject.fields[name].createable if creating else sobject.fields[name].updateable)
    ]
    if blocked:
        raise RecordRefused(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(blocked)}. Please check the security settings of this "
            "field and verify that it is read/write for your profile or permission set.",
            blocked,
        )
