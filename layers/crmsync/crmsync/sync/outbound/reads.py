"""What an outbound run reads from Salesforce: which objects, in which order, with which fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crmsync.config import OPPORTUNITY_MAPPING, Configuration
from crmsync.domain.fields import Behaviour, FieldMapping
from crmsync.domain.objects import CrmObject
from crmsync.domain.records import SalesforceRecord
from crmsync.domain.scope import Flagged, MatchingCriteria, OutboundScope

IDS_PER_QUERY = 200
"""Records read by Id per query (their Ids make the SOQL `IN` list): the retry list's, and the
accounts of converted Leads."""

_COMMON_FIELDS = ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate", "OwnerId", "MasterRecordId")
_PERSON_FIELDS: Mapping[CrmObject, tuple[str, ...]] = {
    CrmObject.LEAD: (*_COMMON_FIELDS, "Email", "IsConverted", "ConvertedContactId", "ConvertedAccountId"),
    CrmObject.CONTACT: (*_COMMON_FIELDS, "Email", "AccountId"),
    CrmObject.PERSON_ACCOUNT: (*_COMMON_FIELDS, "PersonEmail", "IsPersonAccount"),
}
USER_FIELDS = ("Id", "SystemModstamp", "Email", "Name", "IsActive")
OPPORTUNITY_FIELDS = ("Id", "SystemModstamp", *(m.salesforce_field for m in OPPORTUNITY_MAPPING))


@dataclass(frozen=True)
class ObjectRead:
    """One incremental read of a run: a Salesforce object, its fields, what applies a chunk."""

    sobject: str
    fields: tuple[str, ...]
    apply: Callable[[Sequence[SalesforceRecord]], None]


def person_fields(config: Configuration, crm: CrmObject) -> tuple[str, ...]:
    fields = list(_PERSON_FIELDS[crm])
    if crm is CrmObject.CONTACT and config.objects.person_accounts:
        fields.append("IsPersonAccount")
    fields += [m.salesforce_field for m in config.mappings.get(crm, ()) if m.behaviour is not Behaviour.NONE]
    fields += _scope_fields(config.outbound.scope.get(crm))
    return tuple(dict.fromkeys(fields))


def account_mappings(config: Configuration) -> list[FieldMapping]:
    """The business Account fields mapped onto the prospects of its contacts."""
    return [m for m in config.mappings.get(CrmObject.ACCOUNT, ()) if m.behaviour is not Behaviour.NONE]


def account_fields(config: Configuration) -> tuple[str, ...]:
    """An Account read serves person accounts, business Account fields, or both."""
    fields = list(_COMMON_FIELDS)
    if config.objects.person_accounts:
        fields += person_fields(config, CrmObject.PERSON_ACCOUNT)
    if config.objects.account_fields:
        fields += [m.salesforce_field for m in account_mappings(config)]
    return tuple(dict.fromkeys(fields))


def reads_account(config: Configuration) -> bool:
    objects = config.objects
    return objects.person_accounts or (objects.account_fields and bool(account_mappings(config)))


def _scope_fields(scope: OutboundScope | None) -> list[str]:
    match scope:
        case Flagged(field=field):
            return [field]
        case MatchingCriteria(criteria=criteria):
            return [c.field for c in criteria]
    return []
