"""The functions' log lines never carry an email address whole.

The handlers log counts, ids and codes, never a record. But an exception's text can quote what
Salesforce or a caller sent (a refused value, a query's condition), and `logger.exception`
writes it out: every line the functions' logger formats goes through `mask_emails` last, message,
extra keys and traceback alike. The first character of the address and its domain stay, so an
operator can still tell two addresses, or a company's, apart."""

from __future__ import annotations

import logging
import re

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

EMAIL = re.compile(r"(?<![\w.+-])([\w+-])[\w.+-]*@((?:[\w-]+\.)+[\w-]+)")


def mask_emails(text: str) -> str:
    """`grace.hopper@navy.example` → `g***@navy.example`, wherever one appears in `text`."""
    return EMAIL.sub(r"\1***@\2", text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, emails masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_emails(super().format(record))
