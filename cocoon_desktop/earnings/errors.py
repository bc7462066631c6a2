"""The ledger's errors; each message says what happened and what to do."""

from __future__ import annotations


class LedgerError(RuntimeError):
    """The ledger file cannot be opened or written."""


class LedgerTooNew(LedgerError):
    """The ledger was written by a newer app; opening it could lose data, so it is left alone."""
