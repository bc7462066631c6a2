"""Upstream's error codes (ton::ErrorCode) and the exception that carries one over the wire."""

from __future__ import annotations

FAILURE = 601
ERROR = 602
WARNING = 603
PROTOVIOLATION = 621
NOTREADY = 651
TIMEOUT = 652
CANCELLED = 653


class RemoteError(Exception):
    """An error with an upstream code: raised by handlers, or received as `tcp.queryError`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} (code {self.code})"


class ConnectionClosed(ConnectionError):
    """The connection ended; `reason` says how."""
