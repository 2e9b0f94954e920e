"""The org's metadata: which objects and fields exist and what describe says about them.

Only the objects and fields the connector touches, with the lengths, flags and defaults a
standard Developer Edition org reports, plus the custom fields crmsync's tests rely on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Record = dict[str, Any]
Formula = Callable[[Mapping[str, Any]], Any]

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "picklist", "url"})


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    default: Any = None
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    formula: Formula | None = None
    formula_text: str | None = None

    @property
    def calculated(self) -> bool:
        return self.formula is not None

    @property
    def custom(self) -> bool:
        return self.name.endswith(("__c", "__pc"))

    def describe(self) -> dict[str, Any]:
        system_default = not self.nillable and not self.createable
        return {
            "name": self.name,
            "label": _label(self.name),
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "scale": 2 if self.type in ("double", "currency", "percent") else 0,
            "digits": 9 if self.type == "int" else 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.type == "id" or self.external_id or self.name in ("Email", "Username"),
            "calculated": self.calculated,
            "calculatedFormula": self.formula_text,
            "defaultedOnCreate": self.default is not None or system_default,
            "defaultValue": self.default if self.type == "boolean" else None,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "value": value,
                    "validFor": None,
                }
                for value in self.picklist
            ],
            "restrictedPicklist": False,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2]
            if self.type == "reference" and self.name.endswith("Id")
            else None,
            "custom": self.custom,
            "nameField": self.name == "Name",
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent", "datetime"),
            "caseSensitive": False,
            "autoNumber": False,
            "htmlFormatted": False,
            "deprecatedAndHidden": False,
        }


@dataclass(frozen=True)
class SObjectType:
    name: str
    key_prefix: str
    fields: Mapping[str, FieldDef]
    required: tuple[str, ...] = ()
    writable: bool = True  # Users are read-only through this emulator's API
    mergeable: bool = False
    _by_lower: Mapping[str, FieldDef] = field(default_factory=dict, repr=False)

    def field(self, name: str) -> FieldDef | None:
        """Field names are case-insensitive in Salesforce's APIs."""
        return self._by_lower.get(name.lower())

    def describe(self, api_version: str) -> dict[str, Any]:
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            **self.summary(api_version),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [],
            "recordTypeInfos": [],
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    def summary(self, api_version: str) -> dict[str, Any]:
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": _label(self.name),
            "labelPlural": _label(self.name) + "s",
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": self.writable,
            "updateable": self.writable,
            "deletable": self.writable,
            "undeletable": self.writable,
            "mergeable": self.mergeable,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


def _label(name: str) -> str:
    return name.removesuffix("__c").removesuffix("__pc").replace("_", " ")


def _text(name: str, length: int, **flags: Any) -> FieldDef:
    return FieldDef(name, "string", length, **flags)


def _ref(name: str, *targets: str, **flags: Any) -> FieldDef:
    return FieldDef(name, "reference", 18, reference_to=targets, **flags)


def _read_only(definition: FieldDef) -> FieldDef:
    return replace(definition, createable=False, updateable=False)


def _flag(name: str, default: bool = False, **flags: Any) -> FieldDef:
    return FieldDef(name, "boolean", nillable=False, default=default, **flags)


def _picklist(name: str, values: tuple[str, ...], default: str | None = None, **flags: Any) -> FieldDef:
    return FieldDef(name, "picklist", 255, picklist=values, default=default, **flags)


def _full_name(record: Mapping[str, Any]) -> str | None:
    parts = [record.get("FirstName"), record.get("LastName")]
    return " ".join(p for p in parts if p) or None


def _system_fields(owned: bool = True, mergeable: bool = False) -> list[FieldDef]:
    fields = [
        FieldDef("Id", "id", 18, nillable=False, createable=False, updateable=False),
        _read_only(_flag("IsDeleted")),
        _read_only(FieldDef("CreatedDate", "datetime", nillable=False)),
        _read_only(_ref("CreatedById", "User", nillable=False)),
        _read_only(FieldDef("LastModifiedDate", "datetime", nillable=False)),
        _read_only(_ref("LastModifiedById", "User", nillable=False)),
        _read_only(FieldDef("SystemModstamp", "datetime", nillable=False)),
    ]
    if owned:
        fields.append(_ref("OwnerId", "User", "Group", nillable=False, default="current user"))
    if mergeable:
        fields.append(_read_only(_ref("MasterRecordId")))
    return fields


def _marketing_fields() -> list[FieldDef]:
    """The custom fields crmsync maps on Leads and Contacts."""
    return [
        FieldDef("Score__c", "double"),
        _text("Grade__c", 10),
        # The names config/crmsync.sample.json maps score and grade to, so the sample loads here.
        FieldDef("Marketing_Score__c", "double"),
        _text("Marketing_Grade__c", 10),
        _flag("Sync_To_Marketing__c"),
        _text("Crmsync_Key__c", 64, external_id=True, unique=True),
        _read_only(
            FieldDef(
                "Full_Name__c",
                "string",
                1300,
                formula=_full_name,
                formula_text="FirstName & ' ' & LastName",
            )
        ),
    ]


_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
_LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
_TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")


def _lead() -> list[FieldDef]:
    return [
        *_system_fields(mergeable=True),
        _text("FirstName", 40),
        _text("LastName", 80, nillable=False),
        _read_only(FieldDef("Name", "string", 121, formula=_full_name)),
        _text("Company", 255, nillable=False),
        FieldDef("Email", "email", 80),
        _text("Title", 128),
        FieldDef("Phone", "phone", 40),
        FieldDef("MobilePhone", "phone", 40),
        FieldDef("Website", "url", 255),
        FieldDef("Street", "textarea", 255),
        _text("City", 40),
        _text("State", 80),
        _text("PostalCode", 20),
        _text("Country", 80),
        _picklist("Status", _LEAD_STATUSES, "Open - Not Contacted", nillable=False),
        _picklist("LeadSource", _LEAD_SOURCES),
        _picklist("Industry", ("Agriculture", "Banking", "Education", "Technology", "Other")),
        FieldDef("NumberOfEmployees", "int"),
        FieldDef("AnnualRevenue", "currency"),
        _flag("HasOptedOutOfEmail"),
        FieldDef("Description", "textarea", 32000),
        _read_only(_flag("IsConverted")),
        _read_only(_ref("ConvertedAccountId", "Account")),
        _read_only(_ref("ConvertedContactId", "Contact")),
        _read_only(_ref("ConvertedOpportunityId", "Opportunity")),
        _read_only(FieldDef("ConvertedDate", "date")),
        *_marketing_fields(),
    ]


def _contact(person_accounts: bool) -> list[FieldDef]:
    fields = [
        *_system_fields(mergeable=True),
        _ref("AccountId", "Account"),
        _text("FirstName", 40),
        _text("LastName", 80, nillable=False),
        _read_only(FieldDef("Name", "string", 121, formula=_full_name)),
        FieldDef("Email", "email", 80),
        _text("Title", 128),
        _text("Department", 80),
        FieldDef("Phone", "phone", 40),
        FieldDef("MobilePhone", "phone", 40),
        FieldDef("MailingStreet", "textarea", 255),
        _text("MailingCity", 40),
        _text("MailingState", 80),
        _text("MailingPostalCode", 20),
        _text("MailingCountry", 80),
        _picklist("LeadSource", _LEAD_SOURCES),
        _flag("HasOptedOutOfEmail"),
        FieldDef("Description", "textarea", 32000),
        *_marketing_fields(),
    ]
    if person_accounts:
        fields.append(_read_only(_flag("IsPersonAccount")))
    return fields


def _account(person_accounts: bool) -> list[FieldDef]:
    fields = [
        *_system_fields(mergeable=True),
        _text("Name", 255, nillable=False),
        _picklist("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner", "Other")),
        _picklist("Industry", ("Agriculture", "Banking", "Education", "Technology", "Other")),
        FieldDef("Phone", "phone", 40),
        FieldDef("Website", "url", 255),
        FieldDef("BillingStreet", "textarea", 255),
        _text("BillingCity", 40),
        _text("BillingState", 80),
        _text("BillingPostalCode", 20),
        _text("BillingCountry", 80),
        FieldDef("NumberOfEmployees", "int"),
        FieldDef("AnnualRevenue", "currency"),
        FieldDef("Description", "textarea", 32000),
    ]
    if person_accounts:
        fields += [
            _read_only(_flag("IsPersonAccount")),
            _text("FirstName", 40),
            _text("LastName", 80),
            FieldDef("PersonEmail", "email", 80),
            _text("PersonTitle", 80),
            FieldDef("PersonMobilePhone", "phone", 40),
            _flag("PersonHasOptedOutOfEmail"),
            _read_only(_ref("PersonContactId", "Contact")),
            # A person account shows its hidden Contact's custom fields with the suffix __pc.
            *(replace(f, name=f.name.removesuffix("__c") + "__pc") for f in _marketing_fields()),
        ]
    return fields


def _is_closed_stage(record: Mapping[str, Any]) -> bool:
    return str(record.get("StageName") or "").startswith("Closed")


def _opportunity() -> list[FieldDef]:
    return [
        *_system_fields(),
        _ref("AccountId", "Account"),
        _text("Name", 120, nillable=False),
        _picklist("StageName", _STAGES, nillable=False),
        FieldDef("CloseDate", "date", nillable=False),
        FieldDef("Amount", "currency"),
        FieldDef("Probability", "percent"),
        _picklist("LeadSource", _LEAD_SOURCES),
        FieldDef("Description", "textarea", 32000),
        _read_only(_flag("IsClosed", formula=_is_closed_stage)),
        _read_only(_flag("IsWon", formula=lambda r: r.get("StageName") == "Closed Won")),
    ]


def _opportunity_contact_role() -> list[FieldDef]:
    return [
        *_system_fields(owned=False),
        _ref("OpportunityId", "Opportunity", nillable=False, updateable=False),
        _ref("ContactId", "Contact", nillable=False),
        _picklist("Role", ("Business User", "Decision Maker", "Economic Buyer", "Influencer", "Other")),
        _flag("IsPrimary"),
    ]


def _task() -> list[FieldDef]:
    return [
        *_system_fields(),
        _ref("WhoId", "Lead", "Contact"),
        _ref("WhatId", "Account", "Opportunity"),
        _text("Subject", 255),
        _picklist("Status", _TASK_STATUSES, "Not Started", nillable=False),
        _picklist("Priority", ("High", "Normal", "Low"), "Normal", nillable=False),
        _picklist("Type", ("Call", "Email", "Meeting", "Other")),
        _picklist("TaskSubtype", ("Task", "Email", "Call"), "Task", updateable=False),
        FieldDef("ActivityDate", "date"),
        FieldDef("Description", "textarea", 32000),
        _read_only(_flag("IsClosed", formula=lambda r: r.get("Status") == "Completed")),
    ]


def _user() -> list[FieldDef]:
    return [
        *_system_fields(owned=False),
        _text("Username", 80, nillable=False, unique=True),
        FieldDef("Email", "email", 128, nillable=False),
        _text("FirstName", 40),
        _text("LastName", 80, nillable=False),
        _read_only(FieldDef("Name", "string", 121, formula=_full_name)),
        _text("Alias", 8, nillable=False),
        _flag("IsActive", default=True),
        _picklist("UserType", ("Standard",), "Standard", nillable=False),
    ]


_REQUIRED = {
    "Lead": ("LastName", "Company"),
    "Contact": ("LastName",),
    "Account": ("Name",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "OpportunityContactRole": ("OpportunityId", "ContactId"),
}
_PREFIXES = {
    "Lead": "00Q",
    "Contact": "003",
    "Account": "001",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "Task": "00T",
    "User": "005",
}


def build_schema(*, person_accounts: bool) -> dict[str, SObjectType]:
    """Every object of the org, by API name."""
    definitions = {
        "Lead": _lead(),
        "Contact": _contact(person_accounts),
        "Account": _account(person_accounts),
        "Opportunity": _opportunity(),
        "OpportunityContactRole": _opportunity_contact_role(),
        "Task": _task(),
        "User": _user(),
    }
    schema = {}
    for name, fields in definitions.items():
        by_name = {f.name: _with_reference_fix(f, name) for f in fields}
        schema[name] = SObjectType(
            name=name,
            key_prefix=_PREFIXES[name],
            fields=by_name,
            required=_REQUIRED.get(name, ()),
            writable=name != "User",
            mergeable=name in ("Lead", "Contact", "Account"),
            _by_lower={key.lower(): value for key, value in by_name.items()},
        )
    return schema


def _with_reference_fix(definition: FieldDef, sobject: str) -> FieldDef:
    # MasterRecordId points at the object it sits on; the builder above cannot know which.
    if definition.name == "MasterRecordId":
        return replace(definition, reference_to=(sobject,))
    return definition
