"""The one place SOQL is written. Values are quoted by simple-salesforce's `format_soql`;
names (objects, fields), which SOQL cannot quote, must look like Salesforce API names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from urllib.parse import quote_plus

from simple_salesforce.format import format_soql

from crmsync.domain.errors import ConfigurationError
from crmsync.domain.records import Watermark

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


def api_name(name: str) -> str:
    if not _API_NAME.match(name):
        raise ConfigurationError(f"{name!r} is not a Salesforce API name")
    return name


def _field_list(fields: Iterable[str]) -> str:
    unique = dict.fromkeys(api_name(f) for f in fields)
    return ", ".join(unique)


def changed_since(sobject: str, fields: Sequence[str], since: Watermark | None, until: datetime) -> str:
    """Records changed after `since` and strictly before `until`, in watermark order.

    `until` stays a little behind Salesforce's clock: a stamp is only read once its second is
    over, so a record that gets the same stamp later cannot slip behind the watermark.
    """
    clauses = [format_soql("SystemModstamp < {}", until.astimezone(UTC))]
    if since is not None:
        stamp = since.stamp.astimezone(UTC)
        if since.last_id:
            clauses.append(
                format_soql(
                    "(SystemModstamp > {} OR (SystemModstamp = {} AND Id > {}))", stamp, stamp, since.last_id
                )
            )
        else:
            clauses.append(format_soql("SystemModstamp >= {}", stamp))
    return (
        f"SELECT {_field_list(['Id', 'SystemModstamp', *fields])} FROM {api_name(sobject)} "
        f"WHERE {' AND '.join(clauses)} ORDER BY SystemModstamp ASC, Id ASC"
    )


def where_in(sobject: str, fields: Sequence[str], key_field: str, values: Sequence[object]) -> str:
    """Records whose `key_field` is one of `values` (e.g. matching by email)."""
    return format_soql(
        f"SELECT {_field_list(['Id', *fields])} FROM {api_name(sobject)} WHERE {api_name(key_field)} IN {{}}",
        list(values),
    )


def where_in_batches(
    sobject: str, fields: Sequence[str], key_field: str, values: Sequence[object], *, max_encoded_length: int
) -> Iterator[str]:
    """`where_in` queries for `values`, as few as can be while each, URL-encoded as a GET's
    query string (what simple-salesforce sends), stays within `max_encoded_length` bytes."""
    budget = max_encoded_length - len(quote_plus(where_in(sobject, fields, key_field, [])))
    batch: list[object] = []
    used = 0
    for value in values:
        cost = len(quote_plus(format_soql("{}", value))) + len("%2C")
        if batch and used + cost > budget:
            yield where_in(sobject, fields, key_field, batch)
            batch, used = [], 0
        batch.append(value)
        used += cost
    if batch:
        yield where_in(sobject, fields, key_field, batch)


def all_records(sobject: str, fields: Sequence[str], since: datetime | None) -> str:
    """Every record of `sobject` (changed at or after `since`, when given): a Bulk API query's,
    which takes no `ORDER BY` it needs (a resync applies records in any order)."""
    query = f"SELECT {_field_list(['Id', *fields])} FROM {api_name(sobject)}"
    if since is None:
        return query
    return query + format_soql(" WHERE SystemModstamp >= {}", since.astimezone(UTC))
