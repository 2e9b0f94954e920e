"""Record writes as the APIs make them: every API (REST, Collections, Bulk) goes through here,
so locked rows and read-only objects are refused the same way whichever one the client used.
The test helpers of `Emulator` write to the store directly and so bypass these faults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import RecordRefused
from .faults import Faults
from .schema import SObjectType
from .store import Store


class ApiWriter:
    def __init__(self, store: Store, faults: Faults) -> None:
        self._store = store
        self._faults = faults

    def create(self, sobject: str, values: Mapping[str, Any], user_id: str) -> str:
        self._writable(self._store.sobject(sobject))
        return self._store.create(sobject, values, user_id=user_id)

    def update(self, sobject: str, record_id: str, values: Mapping[str, Any], user_id: str) -> None:
        self._writable(self._store.sobject(sobject))
        self._faults.check_lock(record_id)
        self._store.update(sobject, record_id, values, user_id=user_id)

    def upsert(
        self, sobject: str, key_field: str, key_value: Any, values: Mapping[str, Any], user_id: str
    ) -> tuple[str, bool]:
        definition = self._store.sobject(sobject)
        self._writable(definition)
        existing = self._store.match(definition, key_field, key_value)
        if existing is not None:
            self._faults.check_lock(existing)
        return self._store.upsert(sobject, key_field, key_value, values, user_id=user_id)

    def delete(self, record_id: str, user_id: str) -> None:
        sobject = self._store.type_of(record_id)
        if sobject is not None:
            self._writable(sobject)
        self._faults.check_lock(record_id)
        self._store.delete(record_id, user_id=user_id)

    @staticmethod
    def _writable(sobject: SObjectType) -> None:
        if not sobject.writable:
            raise RecordRefused("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id")
