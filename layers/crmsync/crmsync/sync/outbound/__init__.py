"""Outbound sync, Salesforce → marketing: one scheduled run (`sync.py`), reading what
`reads.py` names, applying Leads, Contacts and Person Accounts (`people.py`) and the records
that reach prospects through contacts (`related.py`) through one applier (`apply.py`)."""

from crmsync.sync.outbound.sync import CHUNK_SIZE, LEASE, STOP_MARGIN_MS, OutboundRun, OutboundSync

__all__ = ["CHUNK_SIZE", "LEASE", "STOP_MARGIN_MS", "OutboundRun", "OutboundSync"]
