"""Outbound's decisions (Salesforce → marketing): one plan per changed record.

- `plans`: the rules, the record, the plan, and the report users see of plans carried out
- `people`: Leads, Contacts and Person Accounts: lifecycle, matching, and what to read for them
- `fields`: the field part of a person's plan
- `related`: Account fields and Opportunities, onto the prospects of their contacts
"""

from crmsync.domain.outbound.people import PeopleChunk, link_target, plan_people, plan_person_record
from crmsync.domain.outbound.plans import (
    OutboundRules,
    PersonRecord,
    RecordOutcome,
    RecordPlan,
    outbound_report,
)

__all__ = [
    "OutboundRules",
    "PeopleChunk",
    "PersonRecord",
    "RecordOutcome",
    "RecordPlan",
    "link_target",
    "outbound_report",
    "plan_people",
    "plan_person_record",
]
