"""Salesforce record Ids: 15 case-sensitive characters plus the 3-character case-safe suffix."""

from __future__ import annotations

import re
import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # in ASCII order
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
# "Pod" and reserved characters of a real Id; fixed here, they only make Ids look familiar.
_INSTANCE = "8d0"
_COUNTER_WIDTH = 15 - 3 - len(_INSTANCE)


def checksum(id15: str) -> str:
    """The suffix that makes a 15-character Id safe in case-insensitive places: one character
    per 5-character chunk, whose bits mark the chunk's upper-case letters."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def to_18(record_id: str) -> str:
    return record_id if len(record_id) == 18 else record_id + checksum(record_id)


def is_well_formed(text: str) -> bool:
    """A 15- or 18-character Id whose suffix, if present, matches its first 15 characters."""
    return bool(_ID.match(text)) and (len(text) == 15 or checksum(text[:15]) == text[15:])


class IdFactory:
    """Ids that grow with creation order, so `ORDER BY Id` follows insertion within a prefix."""

    def __init__(self) -> None:
        self._counter = 0

    def new(self, key_prefix: str) -> str:
        self._counter += 1
        number, digits = self._counter, ""
        for _ in range(_COUNTER_WIDTH):
            number, remainder = divmod(number, 62)
            digits = _BASE62[remainder] + digits
        return to_18(f"{key_prefix}{_INSTANCE}{digits}")
