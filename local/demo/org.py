"""The Salesforce side's people and what salespeople do to them: the org the outbound half
starts from, the prospects the marketing platform already had, and the changes made in
Salesforce between two runs. Also the configuration the demo loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crmsync import bootstrap
from crmsync.domain.prospect import Prospect, ProspectChange

from local.salesforce_emulator import Emulator, ManualClock

ROOT = Path(__file__).resolve().parents[2]


CONTACTS = 1000


ACCOUNTS = 100


KNOWN_PROSPECTS = 200  # people the marketing platform has before the first run (email matches)


def demo_configuration() -> dict[str, Any]:
    """config/crmsync.sample.json, for Leads and Contacts only, with every Contact in scope, and
    page visits not sent as Tasks (so the demo shows an activity type that is not configured).

    Its Lead scope stays: LeadSource in (Web, Webinar, Trade Show) and Country not Antarctica.
    Its mappings send score and grade (behaviour marketing) to Marketing_Score__c and
    Marketing_Grade__c, and never send lead_status (behaviour salesforce)."""
    document: dict[str, Any] = json.loads((ROOT / "config" / "crmsync.sample.json").read_text())
    document["objects"].update({"account_fields": False, "opportunities": False})
    document["mappings"].pop("Account")
    document["outbound"]["scope"]["Contact"] = "all"
    document["activities"]["types"] = ["form_submission", "email_open", "email_click"]
    return document


@dataclass
class Org:
    """The Salesforce side's people, by what the demo does to them."""

    leads: list[str]
    contacts: list[str]
    known: list[str]
    """Leads whose email a prospect already had before the first run."""


def seed_org(emulator: Emulator, clock: ManualClock) -> Org:
    """Contacts on a few Accounts (the Leads exist already: the Collections and Bulk writes),
    and prospects the marketing platform had before the connector ran."""
    leads = emulator.records("Lead")
    accounts = [emulator.insert("Account", {"Name": f"Account {n}"}) for n in range(ACCOUNTS)]
    contacts = []
    for number in range(CONTACTS):
        if number and number % 100 == 0:
            clock.advance(seconds=1)
        contacts.append(
            emulator.insert(
                "Contact",
                {
                    "FirstName": f"Sam{number}",
                    "LastName": f"Customer {number}",
                    "Email": f"sam{number}@example.org",
                    "AccountId": accounts[number % ACCOUNTS],
                },
            )
        )
    in_scope = [lead for lead in leads if lead["LeadSource"] == "Web"]
    known = in_scope[:KNOWN_PROSPECTS]
    imported = datetime.now(UTC) - timedelta(days=3)
    prospects = [
        Prospect(
            id=f"imported-{number:04d}",
            fields={
                "email": str(lead["Email"]).upper(),  # as typed into a form: matching ignores case
                "first_name": lead["FirstName"],
                "job_title": "Head of Marketing",
                "phone": f"+1 555 {number:04d}",
            },
            modified_at=imported,
        )
        for number, lead in enumerate(known)
    ]
    refused = bootstrap.prospect_store().save([ProspectChange(p) for p in prospects])
    if refused:
        raise SystemExit(f"{len(refused)} imported prospects were refused by the prospect store")
    return Org(
        leads=[lead["Id"] for lead in in_scope],
        contacts=contacts,
        known=[lead["Id"] for lead in known],
    )


@dataclass
class Changes:
    edited: list[str]
    converted: list[tuple[str, str]]
    merged: list[tuple[str, str]]
    deleted: list[str]
    out_of_scope: list[str]
    new_in_scope: list[str]
    new_out_of_scope: list[str]
    contacts_edited: list[str]

    def describe(self) -> str:
        return (
            f"{len(self.edited)} Leads' Phone edited (most_recent), {len(self.converted)} Leads converted, "
            f"{len(self.merged)} Leads merged (the last into a new duplicate), {len(self.deleted)} Leads deleted, "
            f"{len(self.out_of_scope)} Leads moved to Antarctica (out of scope), "
            f"{len(self.new_in_scope)} new Leads in scope and {len(self.new_out_of_scope)} out of it, "
            f"{len(self.contacts_edited)} Contacts' Title set"
        )


def change_org(emulator: Emulator, clock: ManualClock, org: Org) -> Changes:
    """What salespeople and admins do in Salesforce between two runs."""
    clock.advance(minutes=2)
    leads = org.leads[KNOWN_PROSPECTS:]  # Leads that got a prospect of their own in run 1
    edited = [org.known[0], *leads[0:39]]
    for number, lead_id in enumerate(edited):
        emulator.update("Lead", lead_id, {"Phone": f"+1 555 9{number:03d}"})
    clock.advance(seconds=1)
    converted = [(lead_id, emulator.convert_lead(lead_id)[1]) for lead_id in leads[100:120]]
    clock.advance(seconds=1)
    merged = [(leads[200 + 2 * n], leads[201 + 2 * n]) for n in range(2)]
    # A duplicate a salesperson typed in since run 1, kept as the master: it has no prospect yet.
    duplicated = emulator.get(leads[210])
    assert duplicated is not None
    duplicate = emulator.insert(
        "Lead",
        {key: duplicated[key] for key in ("FirstName", "LastName", "Company", "Email", "LeadSource")},
    )
    merged.append((duplicate, leads[210]))
    for master, loser in merged:
        emulator.merge(master, [loser])
    clock.advance(seconds=1)
    deleted = leads[300:310]
    for lead_id in deleted:
        emulator.delete(lead_id)
    out_of_scope = leads[400:403]
    for lead_id in out_of_scope:
        emulator.update("Lead", lead_id, {"Country": "Antarctica"})
    clock.advance(seconds=1)
    new_in_scope = [
        emulator.insert(
            "Lead",
            {
                "LastName": f"Newcomer {n}",
                "Company": "Fresh Co",
                "Email": f"new{n}@example.net",
                "LeadSource": "Web",
            },
        )
        for n in range(5)
    ]
    new_out_of_scope = [
        emulator.insert(
            "Lead",
            {
                "LastName": f"Bought {n}",
                "Company": "List Co",
                "Email": f"bought{n}@example.net",
                "LeadSource": "Purchased List",
            },
        )
        for n in range(5)
    ]
    contacts_edited = org.contacts[:10]
    for contact_id in contacts_edited:
        emulator.update("Contact", contact_id, {"Title": "VP Sales"})
    clock.advance(seconds=1)
    return Changes(
        edited, converted, merged, deleted, out_of_scope, new_in_scope, new_out_of_scope, contacts_edited
    )
