"""The connector configuration: one versioned JSON document (docs/guide/: matching, field
mappings and the conflict rule, owner, scope, schedules and batching, automation, tags).

- `values`: the frozen values the rest of the code uses (`Configuration`), and their defaults;
- `document`: the document's pydantic models and its one reader (`Configuration.from_document`),
  every problem at once, each with its path; `problems` words them, `kinds` and `section`
  are what the models are made of, `sections`, `mappings` and `scope` the sections;
- `writer`: a configuration back to its document (`Configuration.to_document`);
- `org_check`: the document against the org's describe (`Configuration.validate_against`);
- `schema`: the published JSON Schema, generated from the models.

Importing this package does not import pydantic: only reading a document does.
"""

from crmsync.config.errors import ConfigurationTooLarge, InvalidConfiguration, StaleConfigurationVersion
from crmsync.config.values import (
    MAX_VERSION,
    OPPORTUNITY_MAPPING,
    ActivitySettings,
    Configuration,
    InboundSettings,
    OutboundSettings,
    OwnerDirection,
    OwnerSync,
    Schedule,
    ScheduleUnit,
    SyncedObjects,
)
from crmsync.domain.inbound import CreateUnlinked

__all__ = [
    "MAX_VERSION",
    "OPPORTUNITY_MAPPING",
    "ActivitySettings",
    "Configuration",
    "ConfigurationTooLarge",
    "CreateUnlinked",
    "InboundSettings",
    "InvalidConfiguration",
    "OutboundSettings",
    "OwnerDirection",
    "OwnerSync",
    "Schedule",
    "ScheduleUnit",
    "StaleConfigurationVersion",
    "SyncedObjects",
]
