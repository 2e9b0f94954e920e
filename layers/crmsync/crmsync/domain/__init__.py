"""The pure sync core: plain values in, plain values out.

Nothing in this package may import boto3, botocore, requests, simple_salesforce or
aws_lambda_powertools (ARCHITECTURE.md, rule 1); tests/unit/test_architecture.py enforces it.
"""
