"""Automation actions, carried out (docs/guide/actions.md): the consumer's use case
(`consumer.py`), one batch's steps (`batch.py`), its Salesforce side (`records.py`), and the
queue's messages read (`messages.py`). Accepting an action is `sync/actions_intake.py`."""

from crmsync.domain.action_results import BadAction, Outcome
from crmsync.sync.actions.consumer import AutomationActions, BatchReport
from crmsync.sync.actions.messages import ActionMessage, read_message

__all__ = ["ActionMessage", "AutomationActions", "BadAction", "BatchReport", "Outcome", "read_message"]
