"""A Salesforce org emulator: OAuth, REST, sObject Collections and Bulk API 2.0 over WSGI."""

from .clock import ManualClock
from .emulator import INSTANCE_URL, LOGIN_URL, Emulator
from .server import ServedEmulator

__all__ = ["INSTANCE_URL", "LOGIN_URL", "Emulator", "ManualClock", "ServedEmulator"]
