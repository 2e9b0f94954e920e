"""The configuration document as a pydantic model, and the one reader of it.

`read_document` validates a document in one pass and reports every problem at once, each with
its path (`config.problems` words them); a missing section or key takes its default, a key the
document has no place for is refused, keys starting with `//` are comments. The prospect
fields a mapping names must be declared (built in, or under `prospect_fields` with a type): a
mapping of a field no prospect has would do nothing.

The same models generate the published JSON Schema (`config.schema`,
`config/crmsync.schema.json`), so an editor checks a document as it is typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, ValidationError

from crmsync.config.errors import InvalidConfiguration
from crmsync.config.kinds import Choice, Text, WholeNumber
from crmsync.config.mappings import Mappings
from crmsync.config.problems import messages
from crmsync.config.scope import Outbound
from crmsync.config.section import COMMENT, DocumentContext, Section
from crmsync.config.sections import (
    Activities,
    Automation,
    BatchingSection,
    Inbound,
    Objects,
    Owner,
    ProspectFieldDeclarations,
    TagsSection,
)
from crmsync.config.values import MAX_VERSION, Configuration
from crmsync.domain.fields import ConflictWinner
from crmsync.domain.matching import MatchingMode
from crmsync.domain.prospect_fields import FieldType, ProspectFields

_DEFAULT = Configuration.default()


class ConfigurationDocument(Section):
    """A crmsync connector configuration."""

    model_config = ConfigDict(title="crmsync configuration")

    unknown_key: ClassVar[str] = "unknown top-level key"
    unlisted_keys: ClassVar[frozenset[str]] = frozenset({"$schema"})

    schema_uri: Annotated[str | None, Text()] = Field(
        default=None,
        alias="$schema",
        title="JSON Schema",
        description="The JSON Schema an editor checks this document with (crmsync.schema.json, beside the "
        "sample); the connector ignores it.",
    )
    version: Annotated[int, WholeNumber(1, MAX_VERSION)]
    matching: Annotated[MatchingMode, Choice(MatchingMode, "matching mode")] = _DEFAULT.matching
    conflict_winner: Annotated[ConflictWinner, Choice(ConflictWinner, "conflict winner")] = (
        _DEFAULT.conflict_winner
    )
    objects: Objects = Objects()
    # Validated when absent too: a rule of its Account mappings looks at `objects`.
    mappings: Mappings = Field(default_factory=dict, validate_default=True)
    outbound: Outbound = Outbound()
    inbound: Inbound = Inbound()
    owner: Owner = Owner()
    tags: TagsSection = TagsSection()
    batching: BatchingSection = BatchingSection()
    activities: Activities = Activities()
    automation: Automation = Automation()
    prospect_fields: Annotated[ProspectFields, ProspectFieldDeclarations()] = Field(
        default_factory=ProspectFields
    )

    def to_value(self) -> Configuration:
        return Configuration(
            version=self.version,
            matching=self.matching,
            conflict_winner=self.conflict_winner,
            objects=self.objects.to_value(),
            mappings=self.mappings.to_value(),
            outbound=self.outbound.to_value(),
            inbound=self.inbound.to_value(),
            owner=self.owner.to_value(),
            tags=self.tags.to_value(),
            batching=self.batching.to_value(),
            activities=self.activities.to_value(),
            automation=self.automation.to_value(),
            prospect_fields=self.prospect_fields,
        )


def read_document(document: Mapping[str, Any]) -> Configuration:
    """The configuration `document` describes; raises `InvalidConfiguration` listing every
    problem by its path."""
    try:
        read = ConfigurationDocument.model_validate(document, context=_context(document))
    except ValidationError as failure:
        raise InvalidConfiguration(messages(failure)) from None
    return read.to_value()


def _context(document: Any) -> DocumentContext:
    """What the sections' rules need of each other, from the document as written: the names
    declared under `prospect_fields` (a name with a problem of its own counts as declared, so
    its mappings are not refused for it as well), and whether account fields are on."""
    if not isinstance(document, Mapping):
        return DocumentContext()
    declared, objects = document.get("prospect_fields"), document.get("objects")
    names = (
        [str(n) for n in declared if not str(n).startswith(COMMENT)] if isinstance(declared, Mapping) else []
    )
    return DocumentContext(
        prospect_fields=ProspectFields(dict.fromkeys(names, FieldType.TEXT)),
        account_fields=isinstance(objects, Mapping) and objects.get("account_fields") is True,
    )
