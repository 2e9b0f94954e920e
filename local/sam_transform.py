"""template.yaml after the SAM transform, made on this machine: no AWS account, no network.

The transform is what CloudFormation deploys: the functions' execution roles with every policy
SAM adds (its policy templates, the managed policies its event sources attach), the schedules,
the event source mappings, the API's stage. `make lint` scans it with checkov, and the template
tests read the roles from it (no IAM data action on `Resource: "*"`; each function's policy
allows every call its handler makes in the function tests).

SAM's translator (aws-sam-translator, installed with the SAM CLI) needs code URIs in S3 and the
ARNs of the AWS managed policies it may attach: the local code paths become placeholders, and
the managed policies come from the map the translator itself ships.

    python -m local.sam_transform [--output FILE]   # the transformed template as JSON
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from local.aws_stack import TEMPLATE, load_template

PLACEHOLDER_PARAMETERS = {
    "SalesforceSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:crmsync/salesforce-AbC123",
}
"""Parameters without a Default, given a value of the right shape."""


class _BundledManagedPolicies:
    """The AWS managed policies' ARNs by name, as shipped with the translator (no IAM call)."""

    def load(self) -> dict[str, str]:
        import samtranslator

        bundled = Path(samtranslator.__file__).parent / "internal" / "data" / "aws_managed_policies.json"
        policies: dict[str, str] = json.loads(bundled.read_text())["aws"]
        return policies


def transform(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None, region: str = "us-east-1"
) -> dict[str, Any]:
    """`template` (parsed, short forms as long ones) after the SAM transform."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    body = copy.deepcopy(dict(template))
    for resource in body.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = "s3://crmsync-local-placeholder/function.zip"
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and "ContentUri" in properties:
            properties["ContentUri"] = "s3://crmsync-local-placeholder/layer.zip"
    managed = _BundledManagedPolicies().load()
    # The session only names the region of the ARNs the translator builds: nothing is called.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    transformed: dict[str, Any] = translator.translate(
        body,
        parameter_values={**PLACEHOLDER_PARAMETERS, **(parameters or {})},
        passthrough_metadata=True,
        get_managed_policy_map=lambda: managed,
    )
    return transformed


@cache
def transformed_template() -> dict[str, Any]:
    """The repository's template.yaml, transformed (once per process; do not modify it)."""
    return transform(load_template(TEMPLATE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    arguments = parser.parse_args(argv)
    text = json.dumps(transformed_template(), indent=1, sort_keys=True, default=str)
    if arguments.output is None:
        sys.stdout.write(text + "\n")
    else:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
