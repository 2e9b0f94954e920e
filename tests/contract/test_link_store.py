"""`LinkStore`: `FakeLinkStore` and the links table hold the same contract."""

from __future__ import annotations

from dataclasses import replace

import pytest
from crmsync import bootstrap
from crmsync.domain.lifecycle import CrmRef, Link, LinkChange, LinkOrigin, LinkStatus, relink_deleted
from crmsync.domain.objects import CrmObject
from crmsync.domain.plan import FieldSnapshot
from crmsync.ports import LinkStore

from tests.contract.conftest import unique
from tests.fakes.links import FakeLinkStore


@pytest.fixture(params=["fake", "dynamodb"])
def links(request: pytest.FixtureRequest) -> LinkStore:
    if request.param == "fake":
        return FakeLinkStore()
    request.getfixturevalue("aws")
    return bootstrap.link_store()


def lead(crm_id: str | None = None) -> CrmRef:
    return CrmRef(CrmObject.LEAD, crm_id or unique("00Q"))


def new_link(links: LinkStore, prospect_id: str, crm: CrmRef, **snapshot: FieldSnapshot) -> None:
    assert links.save([LinkChange(Link(prospect_id, crm), snapshot)]) == []


def test_a_link_reads_back_by_record_and_by_prospect_with_version_one(links: LinkStore) -> None:
    prospect, crm = unique(), lead()
    snapshot = {
        "Email=email": FieldSnapshot("a@example.com", "a@example.com"),
        "Score=score": FieldSnapshot(3, 3.5),
    }

    assert links.save([LinkChange(Link(prospect, crm), snapshot, synced_version=4)]) == []

    by_record = links.by_crm_ids([crm.id, unique("00Q")])
    by_prospect = links.by_prospect_ids([prospect, unique()])
    assert list(by_record) == [crm.id] and list(by_prospect) == [prospect]
    stored = by_record[crm.id]
    assert stored == by_prospect[prospect]
    assert (stored.link, stored.version, stored.synced_version) == (Link(prospect, crm), 1, 4)
    assert stored.snapshot == snapshot
    assert links.synced_versions([prospect]) == {prospect: 4}


def test_without_a_synced_version_a_link_reads_as_never_synced(links: LinkStore) -> None:
    prospect = unique()
    new_link(links, prospect, lead())
    assert links.synced_versions([prospect]) == {prospect: 0}


def test_a_record_or_a_prospect_already_linked_cannot_be_linked_again(links: LinkStore) -> None:
    prospect, crm = unique(), lead()
    new_link(links, prospect, crm)

    second_prospect = LinkChange(Link(unique(), crm), {})
    second_record = LinkChange(Link(prospect, lead()), {})
    assert links.save([second_prospect, second_record]) == [second_prospect, second_record]
    assert links.by_crm_ids([crm.id])[crm.id].link.prospect_id == prospect
    assert links.by_crm_ids([second_record.after.crm.id]) == {}


def test_a_change_made_from_a_stale_read_is_refused_and_a_fresh_one_applies(links: LinkStore) -> None:
    prospect, crm = unique(), lead()
    new_link(links, prospect, crm)
    read = links.by_prospect_ids([prospect])[prospect]
    snapshot = {"Title=job_title": FieldSnapshot("CTO", "CTO")}

    assert links.save([LinkChange(read.link, snapshot, before=read)]) == []
    stale = LinkChange(read.link, {}, before=read)
    assert links.save([stale]) == [stale]

    stored = links.by_prospect_ids([prospect])[prospect]
    assert (stored.version, stored.snapshot) == (2, snapshot)


def test_a_moved_link_frees_its_old_record_for_another_prospect(links: LinkStore) -> None:
    prospect, converted, contact = unique(), lead(), CrmRef(CrmObject.CONTACT, unique("003"))
    new_link(links, prospect, converted)
    read = links.by_prospect_ids([prospect])[prospect]

    assert links.save([LinkChange(replace(read.link, crm=contact), read.snapshot, before=read)]) == []

    assert links.by_crm_ids([converted.id, contact.id]).keys() == {contact.id}
    other = unique()
    new_link(links, other, converted)
    assert links.by_crm_ids([converted.id])[converted.id].link.prospect_id == other


def test_a_move_to_a_record_another_prospect_has_is_refused_whole(links: LinkStore) -> None:
    prospect, other, mine, theirs = unique(), unique(), lead(), lead()
    new_link(links, prospect, mine)
    new_link(links, other, theirs)
    read = links.by_prospect_ids([prospect])[prospect]

    move = LinkChange(replace(read.link, crm=theirs), {}, before=read)
    assert links.save([move]) == [move]

    assert links.by_prospect_ids([prospect])[prospect] == read
    assert links.by_crm_ids([theirs.id])[theirs.id].link.prospect_id == other


def test_a_record_freed_and_claimed_again_in_one_save_goes_through_in_order(links: LinkStore) -> None:
    leaving, arriving, record = unique(), unique(), lead()
    new_link(links, leaving, record)
    read = links.by_prospect_ids([leaving])[leaving]

    moved = LinkChange(replace(read.link, crm=lead()), {}, before=read)
    claimed = LinkChange(Link(arriving, record), {})
    assert links.save([moved, claimed]) == []
    assert links.by_crm_ids([record.id])[record.id].link.prospect_id == arriving


def test_a_replaced_record_stays_the_prospects_as_history_and_no_one_elses(links: LinkStore) -> None:
    prospect, deleted, new = unique(), lead(), lead()
    new_link(links, prospect, deleted, **{"Email=email": FieldSnapshot("a@x.com", "a@x.com")})
    read = links.by_prospect_ids([prospect])[prospect]
    gone = LinkChange(replace(read.link, status=LinkStatus.CRM_DELETED), read.snapshot, before=read)
    assert links.save([gone]) == []
    deleted_link = links.by_prospect_ids([prospect])[prospect]

    assert links.save([relink_deleted(deleted_link, new, {})]) == []

    current = links.by_prospect_ids([prospect])[prospect]
    assert (current.link.crm, current.link.status, current.link.origin) == (
        new,
        LinkStatus.ACTIVE,
        LinkOrigin.MARKETING,
    )
    history = links.by_crm_ids([deleted.id])[deleted.id]
    assert (history.link.prospect_id, history.link.status) == (prospect, LinkStatus.REPLACED)
    assert history.snapshot == deleted_link.snapshot
    assert links.synced_versions([prospect]) == {prospect: 0}
    claim = LinkChange(Link(unique(), deleted), {})
    assert links.save([claim]) == [claim]
    with pytest.raises(ValueError, match="never changed"):
        links.save([LinkChange(history.link, {}, before=history)])
    # The prospect may come back to its former record (Salesforce merged the new one into it).
    back = LinkChange(replace(current.link, crm=deleted), current.snapshot, before=current)
    assert links.save([back]) == []
    assert links.by_crm_ids([deleted.id])[deleted.id].link.status is LinkStatus.ACTIVE


def test_only_active_links_have_a_synced_version_to_reconcile(links: LinkStore) -> None:
    active, out_of_scope = unique(), unique()
    new_link(links, active, lead())
    new_link(links, out_of_scope, lead())
    read = links.by_prospect_ids([out_of_scope])[out_of_scope]
    left = LinkChange(replace(read.link, status=LinkStatus.OUT_OF_SCOPE), {}, before=read, synced_version=7)
    assert links.save([left]) == []

    assert links.synced_versions([active, out_of_scope, unique()]) == {active: 0}
    assert links.by_prospect_ids([out_of_scope])[out_of_scope].synced_version == 7


def test_a_link_never_changes_prospect(links: LinkStore) -> None:
    prospect = unique()
    new_link(links, prospect, lead())
    read = links.by_prospect_ids([prospect])[prospect]
    with pytest.raises(ValueError, match="belongs to its prospect"):
        links.save([LinkChange(replace(read.link, prospect_id=unique()), {}, before=read)])
