"""The guest worker's events as channel messages, and back into the worker's event types on the
host, so the host's `EarningsRecorder` writes them to the ledger as if the worker ran here.

Only what the ledger needs crosses: ids, counts, prices, times, addresses and the proxies'
signed statements. The channel is the host's wire: a statement reaches the host process as
bytes, and the host's `VerifiedStatement` is made where it comes off that wire, by
`verify_statement`, once, here (the guest checked its own copy as it came from the proxy). A
statement that fails becomes a `PaymentRejected`, as on the proxy's wire.

The other way, at the guest worker's start, go the accounts the host's ledger restored (what
each proxy committed, so a proxy that rolled back is refused): the guest verifies each
statement itself (`decode_account`), so the host can only hand it statements the proxies
really signed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cocoon_desktop.network.worker.types import (
    PaymentReceived,
    PaymentRejected,
    ProxyStateChanged,
    RequestFinished,
    RequestStarted,
    WorkerEvent,
)
from cocoon_desktop.protocol.pricing import AdjustedTokens, TokenCounts
from cocoon_desktop.protocol.statements import (
    RejectReason,
    StatementRejected,
    VerifiedStatement,
    verify_statement,
)

Message = dict[str, Any]


class EventError(ValueError):
    """A message is not a well-formed worker event."""


def encode_event(event: WorkerEvent) -> Message:
    if isinstance(event, RequestStarted):
        return {"event": "request_started", "request_id": event.request_id,
                "proxy_key": event.proxy_key, "model": event.model,
                "started_at": event.started_at.isoformat()}
    if isinstance(event, RequestFinished):
        return {"event": "request_finished", "request_id": event.request_id,
                "proxy_key": event.proxy_key, "model": event.model,
                "succeeded": event.succeeded, "error": event.error,
                "tokens": asdict(event.tokens), "adjusted": asdict(event.adjusted),
                "coefficient": event.coefficient,
                "worker_fee_per_token": event.worker_fee_per_token,
                "started_at": event.started_at.isoformat(),
                "finished_at": event.finished_at.isoformat()}
    if isinstance(event, PaymentReceived):
        return {"event": "payment", "proxy_key": event.proxy_key,
                "proxy_sc_address": event.proxy_sc_address,
                "worker_sc_address": event.worker_sc_address,
                "worker_fee_per_token": event.worker_fee_per_token,
                "boc": event.statement.boc.hex(), "db_tokens": event.db_tokens,
                "max_tokens": event.max_tokens}
    if isinstance(event, PaymentRejected):
        return {"event": "payment_rejected", "proxy_key": event.proxy_key,
                "boc": event.boc.hex(), "reason": event.reason.value, "detail": event.detail}
    return {"event": "proxy_state", "endpoint": event.endpoint, "state": event.state,
            "detail": event.detail, "proxy_key": event.proxy_key,
            "proxy_sc_address": event.proxy_sc_address,
            "worker_sc_address": event.worker_sc_address,
            "worker_fee_per_token": event.worker_fee_per_token}


def decode_event(message: Message) -> WorkerEvent | None:
    """The worker event a message carries (None for other messages); `EventError` if bad."""
    kind = message.get("event")
    try:
        if kind == "request_started":
            return RequestStarted(message["request_id"], message["proxy_key"], message["model"],
                                  datetime.fromisoformat(message["started_at"]))
        if kind == "request_finished":
            return _finished(message)
        if kind == "payment":
            return _payment(message)
        if kind == "payment_rejected":
            return PaymentRejected(message["proxy_key"], bytes.fromhex(message["boc"]),
                                   RejectReason(message["reason"]), str(message["detail"]))
        if kind == "proxy_state":
            return ProxyStateChanged(message["endpoint"], message["state"],
                                     message.get("detail", ""), message.get("proxy_key"),
                                     message.get("proxy_sc_address"),
                                     message.get("worker_sc_address"),
                                     _optional_int(message.get("worker_fee_per_token")))
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError(f"A {kind} message from the guest is malformed ({exc}).") from None
    return None


@dataclass(frozen=True)
class RestoredAccount:
    """What a proxy committed, from the ledger: its newest statement and its counters."""

    statement: VerifiedStatement
    proxy_sc_address: str
    db_tokens: int = 0
    max_tokens: int = 0


def encode_account(account: RestoredAccount) -> Message:
    statement = account.statement
    return {"proxy_key": statement.proxy_key_hex, "proxy_sc_address": account.proxy_sc_address,
            "worker_sc_address": statement.worker_sc_address, "boc": statement.boc.hex(),
            "db_tokens": account.db_tokens, "max_tokens": account.max_tokens}


def decode_account(message: Message) -> RestoredAccount:
    """A restored account, its statement verified here (`EventError` or `StatementRejected`
    say why not)."""
    try:
        boc = bytes.fromhex(message["boc"])
        proxy_key = bytes.fromhex(message["proxy_key"])
        worker_sc, proxy_sc = str(message["worker_sc_address"]), str(message["proxy_sc_address"])
        db_tokens, max_tokens = int(message["db_tokens"]), int(message["max_tokens"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EventError(f"A restored account from the host is malformed ({exc}).") from None
    return RestoredAccount(verify_statement(boc, proxy_key, worker_sc), proxy_sc, db_tokens,
                           max_tokens)


def _finished(message: Message) -> RequestFinished:
    return RequestFinished(
        request_id=str(message["request_id"]), proxy_key=str(message["proxy_key"]),
        model=str(message["model"]), succeeded=bool(message["succeeded"]),
        error=message.get("error"), tokens=TokenCounts(**message["tokens"]),
        adjusted=AdjustedTokens(**message["adjusted"]),
        coefficient=int(message["coefficient"]),
        worker_fee_per_token=int(message["worker_fee_per_token"]),
        started_at=datetime.fromisoformat(message["started_at"]),
        finished_at=datetime.fromisoformat(message["finished_at"]))


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _payment(message: Message) -> PaymentReceived | PaymentRejected:
    """The host's one verification of this statement (see the module's docstring)."""
    boc = bytes.fromhex(message["boc"])
    proxy_key = str(message["proxy_key"])
    try:
        statement = verify_statement(boc, bytes.fromhex(proxy_key),
                                     str(message["worker_sc_address"]))
    except StatementRejected as exc:
        return PaymentRejected(proxy_key, boc, exc.reason,
                               f"refused on the host after the guest passed it on: {exc.detail}")
    return PaymentReceived(proxy_key, str(message["proxy_sc_address"]),
                           str(message["worker_sc_address"]),
                           int(message["worker_fee_per_token"]), statement,
                           int(message["db_tokens"]), int(message["max_tokens"]))
