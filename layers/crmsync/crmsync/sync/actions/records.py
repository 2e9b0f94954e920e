"""The Salesforce side of a batch of automation actions: the candidate records of every action
in one query per object, the Accounts of new Contacts found or created once per company, and
the records upserted on the external-id field in Collections batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from crmsync.domain.actions import (
    ActionFacts,
    AutomationRules,
    FoundRecord,
    NewRecord,
    account_key,
    choose_account,
    found_key,
    found_record,
)
from crmsync.domain.errors import CrmError, Failure
from crmsync.domain.matching import MatchingMode
from crmsync.domain.objects import PEOPLE, CrmObject, object_of, object_of_id
from crmsync.domain.records import Batching, SalesforceRecord, WriteOperation, WriteResult
from crmsync.ports import CrmGateway, LinkStore


@dataclass(frozen=True)
class AccountsFound:
    """The Account of each named company (by `account_key`), and why the others have none: the
    create failed as a whole (`unreachable`) or Salesforce refused one (`refused`)."""

    ids: Mapping[str, str]
    unreachable: Mapping[str, Failure]
    refused: Mapping[str, Failure]


class ActionRecords:
    """`crm` builds the gateway on first use: a batch settled without Salesforce never logs in."""

    def __init__(
        self, *, crm: Callable[[], CrmGateway], links: LinkStore, rules: AutomationRules, batching: Batching
    ) -> None:
        self._crm = crm
        self._links = links
        self._rules = rules
        self._batching = batching

    def candidates(self, facts: Sequence[ActionFacts]) -> dict[str, list[FoundRecord]]:
        """Candidate records by match key (email, or CRM ID), one query per object synced.
        Raises `CrmError`."""
        matching, synced = self._rules.matching, self._rules.synced
        keys = {key for f in facts if (key := f.match_key(matching))}
        if not keys:
            return {}
        rows: list[tuple[CrmObject, SalesforceRecord]] = []
        external_id = self._rules.settings.external_id_field
        for crm in PEOPLE:
            email_field = crm.email_field
            if crm not in synced or email_field is None:
                continue
            fields = ["Id", email_field, "LastModifiedDate"]
            fields += {
                CrmObject.LEAD: ["IsConverted", external_id],
                CrmObject.CONTACT: [external_id]
                + (["IsPersonAccount"] if CrmObject.PERSON_ACCOUNT in synced else []),
                CrmObject.PERSON_ACCOUNT: ["IsPersonAccount"],
            }[crm]
            if matching is MatchingMode.CRM_ID:
                wanted, key_field = sorted(k for k in keys if object_of_id(k) is crm), "Id"
            else:
                wanted, key_field = sorted(keys), email_field
            if not wanted:
                continue
            for row in self._crm().find(crm.sobject, fields, key_field, wanted):
                # A Person Account's hidden Contact is the Person Account itself; a business
                # Account is no person.
                if object_of(crm.sobject, person_account=row.person_account) is crm:
                    rows.append((crm, row))
        linked = self._links.by_crm_ids([row.id for _, row in rows])
        found: dict[str, list[FoundRecord]] = {}
        for crm, row in rows:
            record = found_record(crm, row, external_id, linked=row.id in linked)
            found.setdefault(found_key(record, matching), []).append(record)
        return found

    def accounts(self, names: Sequence[str]) -> AccountsFound:
        """The Account of each company name: found by name, or created once per name for the
        whole batch. Raises `CrmError` when they cannot be looked up."""
        wanted: dict[str, str] = {}
        for name in names:
            wanted.setdefault(account_key(name), name.strip())
        rows = self._crm().find("Account", ["Id", "Name", "CreatedDate"], "Name", sorted(wanted.values()))
        by_name: dict[str, list[SalesforceRecord]] = {}
        for row in rows:
            by_name.setdefault(account_key(str(row.get("Name") or "")), []).append(row)
        ids = {key: choose_account(found) for key, found in by_name.items() if key in wanted}
        refused: dict[str, Failure] = {}
        unreachable: dict[str, Failure] = {}
        missing = [key for key in wanted if key not in ids]
        if missing:
            try:
                results = self._crm().write(
                    "Account",
                    WriteOperation.CREATE,
                    [{"Name": wanted[k]} for k in missing],
                    batching=self._batching,
                )
            except CrmError as exc:
                unreachable = dict.fromkeys(missing, exc.failure)
                results = []
            for key, result in zip(missing, results, strict=False):
                if result.failure is not None:
                    refused[key] = result.failure
                else:
                    assert result.record_id is not None
                    ids[key] = result.record_id
        return AccountsFound(ids, unreachable, refused)

    def owners(self, crm: CrmObject, record_ids: Sequence[str]) -> dict[str, str]:
        """The owner (a Salesforce user id) of each record, in one query. Raises `CrmError`."""
        rows = self._crm().find(crm.sobject, ["Id", "OwnerId"], "Id", list(record_ids))
        return {row.id: str(owner) for row in rows if (owner := row.get("OwnerId"))}

    def upsert(
        self, crm: CrmObject, records: Sequence[NewRecord], accounts: Sequence[str | None]
    ) -> list[WriteResult]:
        """The new records of one object, each with its Account, upserted on the external-id
        field (a retry after a crash finds the record it created). Raises `CrmError`."""
        return self._crm().write(
            crm.value,
            WriteOperation.UPSERT,
            [
                {**new.values, **({"AccountId": account} if account else {})}
                for new, account in zip(records, accounts, strict=True)
            ],
            external_id_field=self._rules.settings.external_id_field,
            batching=self._batching,
        )
