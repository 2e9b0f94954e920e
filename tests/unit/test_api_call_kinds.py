"""Each Salesforce API request is counted under its kind, for the runs' API inspector."""

from __future__ import annotations

import pytest
from crmsync.salesforce.session import api_call_kind

BASE = "https://example.my.salesforce.com/services/data/v62.0/"


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "query/", "query"),
        ("GET", "queryAll/", "query"),
        ("GET", "queryAll", "query"),
        ("GET", "query/01gD0000002HU6KIAW-2000", "query_more"),
        ("POST", "composite/sobjects", "collections"),
        ("PATCH", "composite/sobjects/Lead/Email__c", "collections"),
        ("POST", "jobs/ingest/", "bulk_ingest"),
        ("GET", "jobs/ingest/750R0000000zlh9IAA/failedResults/", "bulk_ingest"),
        ("GET", "jobs/query/750R0000000zlh9IAA/results?maxRecords=50000", "bulk_query"),
        ("GET", "limits/", "limits"),
        ("GET", "sobjects/Lead/describe/", "describe"),
        ("GET", "sobjects/Lead/00Q000000000001AAA", "rest"),
    ],
)
def test_each_request_has_its_kind(method: str, path: str, kind: str) -> None:
    assert api_call_kind(method, BASE + path) == kind
