"""The published JSON Schema of the configuration document (`config/crmsync.schema.json`),
generated from the models: an editor that knows it (the sample names it under `$schema`)
completes and checks a document as it is typed, with the sample's comments as its help.

The comments are the one source of that help: `"// key": "..."` in the sample describes `key`
beside it, and `"//"` the object it is in; keys without a comment keep the models' own short
descriptions. A test keeps the file current (`make schema` writes it):

    python -m crmsync.config.schema config/crmsync.sample.json > config/crmsync.schema.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crmsync.config.document import ConfigurationDocument
from crmsync.config.section import COMMENT

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The document's JSON Schema, described by `sample`'s comments."""
    schema = ConfigurationDocument.model_json_schema(by_alias=True)
    _describe(schema, schema, sample, "")
    return {"$schema": DIALECT, **schema}


def schema_text(sample: Mapping[str, Any]) -> str:
    """The schema as the published file holds it."""
    return json.dumps(json_schema(sample), indent=2, ensure_ascii=False) + "\n"


def _describe(root: dict[str, Any], described: dict[str, Any], sample: Mapping[str, Any], path: str) -> None:
    """Give the properties of `described` (the schema of the object `sample` is an example of)
    the descriptions `sample`'s comments carry."""
    properties = _object_schema(root, described).get("properties", {})
    for key, value in sample.items():
        if key == COMMENT:
            described["description"] = value
        elif key.startswith(COMMENT):
            name = key.removeprefix(COMMENT).strip()
            if name not in properties:
                raise ValueError(f"{path}{key}: describes {name!r}, which is not a key here")
            properties[name]["description"] = value
        elif isinstance(value, Mapping) and key in properties:
            _describe(root, properties[key], value, f"{path}{key}.")


def _object_schema(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema `schema` is, refers to, or offers among its choices."""
    if "$ref" in schema:
        return _object_schema(root, root["$defs"][schema["$ref"].rsplit("/", 1)[-1]])
    for choice in schema.get("anyOf", ()):
        found = _object_schema(root, choice)
        if "properties" in found:
            return found
    return schema


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m crmsync.config.schema SAMPLE.json > crmsync.schema.json", file=sys.stderr)
        return 2
    sys.stdout.write(schema_text(json.loads(Path(args[0]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
