"""The pure sync core: plain values in, plain values out.

Nothing in this package may import boto3, botocore, requests, simple_salesforce or
aws_lambda_powertools (ARCHITECTURE.md, rule 1); tests/unit/test_architecture.py enforces it.

- `fields`: mappings, behaviours, how values compare (docs/guide/fields.md)
- `plan`: the field sync plan of one link: writes per side, new snapshot, audit (docs/guide/fields.md)
- `matching`: email and CRM ID matching, candidate ranking (docs/guide/matching.md)
- `scope`: outbound scope and criteria (docs/guide/scope.md)
- `lifecycle`: new records, conversion, scope changes, deletes, undeletes, merges (docs/guide/lifecycle.md)
- `outbound/`, `inbound`, `actions` and `action_results`, `activities`: each run's decisions, and
  what users see of them (`audit.Report`)
- `objects`, `records`, `errors`, `retry`: the CRM objects, values exchanged with the adapters
  (`SalesforceRecord`), failures, the retry policy
"""
