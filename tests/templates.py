"""template.yaml parsed once per test process: each test's stack on moto is made from a copy of
it (parsing the YAML again for every test cost a tenth of a second each)."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from local.aws_stack import load_template


@cache
def _parsed() -> dict[str, Any]:
    return load_template()


def stack_template() -> dict[str, Any]:
    """The repository's template.yaml, parsed; the caller's own copy."""
    return copy.deepcopy(_parsed())
