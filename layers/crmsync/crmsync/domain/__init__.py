"""The pure sync core: plain values in, plain values out.

Nothing in this package may import boto3, botocore, requests, simple_salesforce or
aws_lambda_powertools (ARCHITECTURE.md, rule 1); tests/unit/test_architecture.py enforces it.

- `fields`: mappings, behaviours, how values compare (SPEC §2)
- `plan`: the field sync plan of one link: writes per side, new snapshot, audit (SPEC §2)
- `matching`: email and CRM ID matching, candidate ranking (SPEC §1)
- `scope`: outbound scope and criteria (SPEC §3)
- `lifecycle`: new records, conversion, scope changes, deletes, undeletes, merges (SPEC §6)
- `records`, `errors`, `retry`: values exchanged with the adapters, failures, the retry policy
"""
