"""Inbound sync, marketing → Salesforce: change capture and one run (`sync.py`), whose waiting
prospects are planned, sent and settled by `send.py`."""

from crmsync.sync.inbound.sync import LEASE, InboundRun, InboundSync

__all__ = ["LEASE", "InboundRun", "InboundSync"]
