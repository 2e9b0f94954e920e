"""A configuration checked against the org's describe results, before it is loaded: a field
Salesforce does not have, that it will not let the connector write, or whose type the prospect
field's cannot fit, is refused here and not at the first failed write (docs/guide/fields.md).

Only the objects the configuration syncs are described (`sobjects_to_describe`): each describe
costs an API call."""

from __future__ import annotations

from collections.abc import Mapping

from crmsync.config.errors import InvalidConfiguration
from crmsync.config.values import OPPORTUNITY_MAPPING, Configuration
from crmsync.domain.fields import Behaviour, FieldMapping
from crmsync.domain.objects import CrmObject
from crmsync.domain.prospect_fields import SALESFORCE_TYPES, ProspectFields, fits
from crmsync.domain.records import FieldDescription, ObjectDescription
from crmsync.domain.scope import Flagged, MatchingCriteria, OutboundScope

CREATED_BY_ACTIONS = (CrmObject.LEAD, CrmObject.CONTACT)
"""What automation actions create, stamping the external id field (docs/guide/actions.md)."""


def sobjects_to_describe(configuration: Configuration) -> frozenset[str]:
    """The Salesforce objects `check_against` checks: those whose fields `configuration` maps or
    filters its scope on, Opportunity when it syncs them, and Lead and Contact always
    (automation actions create them, stamping the external id field); other objects it does not
    sync are left out (their describe would cost API calls for nothing)."""
    c = configuration
    names = {crm.sobject for crm, entries in c.mappings.items() if entries and c.objects.syncs(crm)}
    names |= {
        crm.sobject
        for crm, scope in c.outbound.scope.items()
        if isinstance(scope, Flagged | MatchingCriteria) and c.objects.syncs(crm)
    }
    if c.objects.opportunities:
        names.add("Opportunity")
    names |= {crm.sobject for crm in CREATED_BY_ACTIONS}
    return frozenset(names)


def check_against(configuration: Configuration, describes: Mapping[str, ObjectDescription]) -> None:
    """Refuse (`InvalidConfiguration`, every problem by its path) mapped or scope fields the
    org's describe (sObject name → description) says do not exist, or that a behaviour writing
    to Salesforce could not write."""
    c = configuration
    problems: list[str] = []
    for crm, entries in c.mappings.items():
        if not c.objects.syncs(crm) or not entries:
            continue
        described = _described_fields(describes, crm.sobject, f"mappings.{crm.value}", problems)
        if described is None:
            continue
        for index, mapping in enumerate(entries):
            path = f"mappings.{crm.value}[{index}]"
            problem = _field_problem(crm.sobject, mapping, described)
            if problem:
                problems.append(f"{path}.salesforce_field: {problem}")
                continue
            problem = _type_problem(crm.sobject, mapping, described, c.prospect_fields)
            if problem:
                problems.append(f"{path}: {problem}")
    for crm, scope in c.outbound.scope.items():
        if c.objects.syncs(crm):
            _check_scope_fields(describes, crm, scope, problems)
    if c.objects.opportunities:
        described = _described_fields(describes, "Opportunity", "objects.opportunities", problems)
        missing = [
            m.salesforce_field
            for m in OPPORTUNITY_MAPPING
            if m.salesforce_field.lower() not in (described or {})
        ]
        if described is not None and missing:
            problems.append(f"objects.opportunities: Opportunity has no field {', '.join(missing)}")
    for crm in CREATED_BY_ACTIONS:
        if crm.sobject in describes:
            problem = _external_id_problem(
                crm.sobject, c.automation.external_id_field, _lower_case_fields(describes[crm.sobject])
            )
            if problem:
                problems.append(f"automation.external_id_field: {problem}")
    if problems:
        raise InvalidConfiguration(problems)


def _described_fields(
    describes: Mapping[str, ObjectDescription], sobject: str, path: str, problems: list[str]
) -> dict[str, FieldDescription] | None:
    """The describe of `sobject` by lower-case field name (API names ignore case)."""
    description = describes.get(sobject)
    if description is None:
        problems.append(f"{path}: no describe of {sobject} to check the fields against")
        return None
    return _lower_case_fields(description)


def _lower_case_fields(description: ObjectDescription) -> dict[str, FieldDescription]:
    return {name.lower(): described for name, described in description.fields.items()}


def _external_id_problem(sobject: str, name: str, described: Mapping[str, FieldDescription]) -> str:
    """What keeps `name` from being the field automation actions stamp with the prospect id on
    create (and upsert on, so a retried action finds the record it created)."""
    found = described.get(name.lower())
    if found is None:
        return (
            f"{sobject} has no field {name!r}; automation actions stamp it with the prospect id on create, "
            "so a retried action finds its record: create it (Text, External ID, Unique) or name another"
        )
    if not found.external_id:
        return f"{sobject}.{found.name} is not an External ID field; an upsert needs one"
    if not (found.createable and found.updateable):
        return f"{sobject}.{found.name} is not createable and updateable for the connector"
    return ""


def _field_problem(sobject: str, mapping: FieldMapping, described: Mapping[str, FieldDescription]) -> str:
    found = described.get(mapping.salesforce_field.lower())
    if found is None:
        return f"{sobject} has no field {mapping.salesforce_field!r}"
    if not mapping.behaviour.writes_salesforce:
        return ""
    if found.calculated:
        return (
            f"{sobject}.{found.name} is a formula field; behaviour '{mapping.behaviour}' writes to it, "
            "use 'salesforce' or 'none'"
        )
    refused = [
        what
        for what, allowed in (("updateable", found.updateable), ("createable", found.createable))
        if not allowed
    ]
    if refused:
        return (
            f"{sobject}.{found.name} is not {' or '.join(refused)} for the connector; behaviour "
            f"'{mapping.behaviour}' writes to it, use 'salesforce' or 'none'"
        )
    return ""


def _type_problem(
    sobject: str, mapping: FieldMapping, described: Mapping[str, FieldDescription], declared: ProspectFields
) -> str:
    """What keeps the prospect field and the Salesforce field of a mapping that moves values
    from fitting each other's values (`domain.prospect_fields.SALESFORCE_TYPES`)."""
    found = described.get(mapping.salesforce_field.lower())
    kind = declared.type_of(mapping.marketing_field)
    if mapping.behaviour is Behaviour.NONE or found is None or kind is None or fits(kind, found.type):
        return ""
    fitting = ", ".join(sorted(SALESFORCE_TYPES[kind]))
    return (
        f"prospect field {mapping.marketing_field!r} is {kind} but {sobject}.{found.name} is "
        f"{found.type}: their values do not fit each other (a {kind} prospect field maps onto "
        f"Salesforce fields of type {fitting})"
    )


def _check_scope_fields(
    describes: Mapping[str, ObjectDescription], crm: CrmObject, scope: OutboundScope, problems: list[str]
) -> None:
    if not isinstance(scope, Flagged | MatchingCriteria):
        return
    path = f"outbound.scope.{crm.value}"
    sobject = crm.sobject
    described = _described_fields(describes, sobject, path, problems)
    if described is None:
        return
    if isinstance(scope, Flagged):
        found = described.get(scope.field.lower())
        if found is None:
            problems.append(f"{path}.flagged: {sobject} has no field {scope.field!r}")
        elif found.type != "boolean":
            problems.append(f"{path}.flagged: {sobject}.{found.name} is a {found.type}, not a checkbox")
        return
    for index, criterion in enumerate(scope.criteria):
        if criterion.field.lower() not in described:
            problems.append(f"{path}.criteria[{index}].field: {sobject} has no field {criterion.field!r}")
