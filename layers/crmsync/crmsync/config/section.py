"""What every object of a configuration document shares: keys starting with `//` are comments,
a key the section does not have is refused naming the ones it has, and a missing key takes
its default. The rules that span sections see the other section as written (`DocumentContext`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, ModelWrapValidatorHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from crmsync.config.problems import Problem, kind, problem, validated_with
from crmsync.domain.prospect_fields import ProspectFields

COMMENT = "//"
COMMENTS_SCHEMA: JsonSchemaValue = {"^//": {"description": "A comment: any value, ignored."}}


@dataclass(frozen=True)
class DocumentContext:
    """What a rule of one section needs to know of another, read from the document as given
    (so each is judged even when the other has problems of its own, reported there)."""

    prospect_fields: ProspectFields | None = None
    """The fields a mapping may name: the built-in ones and every name declared."""
    account_fields: bool = False
    """Whether `objects.account_fields` is on."""


class Section(BaseModel):
    """One object of the document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unknown_key: ClassVar[str] = "unknown key"
    refused_keys: ClassVar[Mapping[str, str]] = {}
    """Keys refused with a reason of their own; not offered among the keys expected."""
    unlisted_keys: ClassVar[frozenset[str]] = frozenset()
    """Keys accepted but not named in the list of the keys expected."""

    @model_validator(mode="wrap")
    @classmethod
    def _comments_and_unknown_keys(cls, data: Any, validate: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise problem(f"must be an object, not {kind(data)}")
        keys = _keys_of(cls)
        known = {key: value for key, value in data.items() if key in keys}
        others = [key for key in data if key not in keys and not str(key).startswith(COMMENT)]
        if not others:
            return validate(known)
        expected = ", ".join(key for key in keys if key not in cls.unlisted_keys)
        problems = [Problem((key,), cls.refused_keys[key]) for key in others if key in cls.refused_keys]
        problems += [
            Problem((str(key),), f"{cls.unknown_key} (expected one of: {expected})")
            for key in others
            if key not in cls.refused_keys
        ]
        return validated_with(problems, lambda: validate(known))

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        generated = handler(schema)
        handler.resolve_ref_schema(generated)["patternProperties"] = COMMENTS_SCHEMA
        return generated


@cache
def _keys_of(section: type[Section]) -> tuple[str, ...]:
    """A section's keys as the document writes them, in the order the section lists them."""
    return tuple(field.alias or name for name, field in section.model_fields.items())
