"""How a configuration's problems read: the one place pydantic's errors become the messages
users see (`path: what is wrong`, e.g. `mappings.Lead[3].behaviour: unknown behaviour
'sometimes' (expected one of: ...)`).

The models' validators raise `problem(...)` with the message itself; pydantic's own errors are
few by design (a missing key, an object expected) and are worded here. A validator that must
report problems under keys below its own (a section's unknown keys, a list's duplicates) raises
`problems_error`, which keeps whatever else was wrong with the same value beside them: every
problem of a document is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

PROBLEM = "crmsync_problem"
"""The error type of every problem the models word themselves."""

Location = tuple[str | int, ...]
T = TypeVar("T")

_REQUIRED = {"version": "is required (a whole number, raised on every change)"}
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


@dataclass(frozen=True)
class Problem:
    """A problem under `location`, relative to the value being validated."""

    location: Location
    message: str
    sibling: str | int | None = None
    """When set, the message ends with the path of this sibling of `location`'s last key (the
    entry a duplicate repeats): a validator does not know its own path, the translation does."""


def problem(message: str, *, sibling: str | int | None = None) -> PydanticCustomError:
    """The error a validator raises for a problem of the value it validates."""
    context: dict[str, Any] = {"message": message}
    if sibling is not None:
        context["sibling"] = sibling
    return PydanticCustomError(PROBLEM, "{message}", context)


def message_of(refused: PydanticCustomError) -> str:
    """The message of a problem a kind raised (to report it under another key)."""
    return str((refused.context or {}).get("message", refused.message()))


def problems_error(problems: Sequence[Problem], failure: ValidationError | None = None) -> ValidationError:
    """`problems`, then the errors of `failure` (the same value's), as one error; under a list,
    ordered by entry, so each entry's problems read in the list's order."""
    details = [
        InitErrorDetails(type=problem(p.message, sibling=p.sibling), loc=p.location, input=None, ctx={})
        for p in problems
    ]
    details += [_details(error) for error in failure.errors()] if failure is not None else []
    details.sort(key=lambda d: d["loc"][0] if d["loc"] and isinstance(d["loc"][0], int) else -1)
    return ValidationError.from_exception_data("configuration", details)


def validated_with(problems: Sequence[Problem], validate: Callable[[], T]) -> T:
    """`validate()`'s value, or an error holding `problems` (first) and `validate()`'s own."""
    try:
        validated = validate()
    except ValidationError as failure:
        raise problems_error(problems, failure) from None
    if problems:
        raise problems_error(problems)
    return validated


def failed_keys(failure: ValidationError | None) -> set[str | int]:
    """The keys (list indexes, object keys) directly below the value whose validation failed."""
    return {error["loc"][0] for error in failure.errors() if error["loc"]} if failure is not None else set()


def messages(failure: ValidationError) -> list[str]:
    """Every problem of `failure` as users read it: `path: what is wrong`."""
    return [_message(error) for error in failure.errors()]


def path_of(location: Location) -> str:
    """`('mappings', 'Lead', 3, 'behaviour')` → `mappings.Lead[3].behaviour`; the document
    itself is `configuration`."""
    if not location:
        return "configuration"
    path = ""
    for index, key in enumerate(location):
        path += f"[{key}]" if isinstance(key, int) else f".{key}" if index else str(key)
    return path


def kind(value: Any) -> str:
    """How a bad value reads in a message: the value itself when short, else its JSON kind."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 40):
        return repr(value)
    return {"str": "a long string", "list": "a list", "tuple": "a list", "dict": "an object"}.get(
        type(value).__name__, type(value).__name__
    )


def _message(error: Any) -> str:
    location: Location = error["loc"]
    context = error.get("ctx") or {}
    path = path_of(location)
    if error["type"] == PROBLEM:
        text = str(context["message"])
        if "sibling" in context:
            text += " " + path_of((*location[:-1], context["sibling"]))
    elif error["type"] == "missing":
        text = _REQUIRED.get(path, "is required")
    elif error["type"] in _NOT_AN_OBJECT:
        text = f"must be an object, not {kind(error['input'])}"
    else:  # the models word every other problem themselves (a test holds them to it)
        message = str(error["msg"])
        text = message[:1].lower() + message[1:]
    return f"{path}: {text}"


def _details(error: Any) -> InitErrorDetails:
    """One of pydantic's errors as it can be raised again."""
    context = error.get("ctx") or {}
    if error["type"] == PROBLEM:
        return InitErrorDetails(
            type=PydanticCustomError(PROBLEM, "{message}", context), loc=error["loc"], input=None, ctx={}
        )
    return InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"], ctx=context)
