"""The key attributes the stores build their tables with are the ones template.yaml declares."""

from __future__ import annotations

from crmsync.aws.tables import ACTIVITIES_KEY, IDEMPOTENCY_KEY, LINKS_KEY, PROSPECTS_KEY, STATE_KEY

from local.aws_stack import load_template

KEYS = {
    "LinksTable": LINKS_KEY,
    "StateTable": STATE_KEY,
    "ProspectsTable": PROSPECTS_KEY,
    "ActivitiesTable": ACTIVITIES_KEY,
    "IdempotencyTable": IDEMPOTENCY_KEY,
}


def test_each_tables_key_is_the_templates() -> None:
    resources = load_template()["Resources"]
    declared = {
        name: tuple(key["AttributeName"] for key in resource["Properties"]["KeySchema"])
        for name, resource in resources.items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }

    assert declared == KEYS
