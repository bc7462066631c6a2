"""Read a wallet's transactions and say what each one was, Cocoon payouts first.

A Cocoon worker contract pays its owner with an internal message whose body starts with the
payout opcode (upstream `runners/smartcontracts/Opcodes.hpp`: payout 0xc59a7cd3); gas a worker
contract did not use comes back with the excesses opcode (0x2565934c). A payout is labelled as
verified when its sender is a worker contract this app knows (the proxy names it at connection:
`worker_sc_address`), and as a payout by its opcode alone otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from pytoniq_core import Address, Cell, Transaction

from cocoon_desktop.wallet.address import TonAddress

OP_PAYOUT = 0xC59A7CD3
OP_EXCESSES = 0x2565934C
OP_COMMENT = 0


class TxKind(StrEnum):
    PAYOUT = "payout"  # a Cocoon worker contract paid out
    EXCESS = "excess"  # unused gas returned by a Cocoon contract
    INCOMING = "incoming"  # any other incoming transfer
    OUTGOING = "outgoing"  # this wallet sent (an external message it signed)
    BOUNCED = "bounced"  # a transfer that came back
    FAILED = "failed"  # the transaction was aborted
    OTHER = "other"


@dataclass(frozen=True)
class TransactionRecord:
    """One transaction of one account, as the wallet screens show it."""

    lt: int
    hash_hex: str
    utime: int
    kind: TxKind
    amount_nano: int  # received (incoming kinds) or sent (outgoing)
    fee_nano: int
    counterparty_raw: str | None
    comment: str | None
    op: int | None
    from_known_worker: bool
    label: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TransactionRecord:
        return cls(**{**data, "kind": TxKind(data["kind"])})


def parse_transaction(
    tx: Transaction, known_worker_contracts: frozenset[TonAddress] = frozenset()
) -> TransactionRecord:
    """Describe a transaction fetched from a liteserver (or produced by the TVM emulator)."""
    fee = tx.total_fees.grams
    tx_hash = tx.cell.hash.hex()
    aborted = bool(getattr(tx.description, "aborted", False))
    message = tx.in_msg
    if message is not None and message.is_internal:
        source = _address(message.info.src)
        op, comment = read_body(message.body)
        known = source is not None and source in known_worker_contracts
        # An aborted transaction still keeps the value unless it bounced it back (a wallet
        # that was never deployed aborts on every incoming message, yet is credited).
        returned = aborted and any(out.is_internal and out.info.bounced for out in tx.out_msgs)
        kind, label = _incoming_kind(op, known, bool(message.info.bounced), returned)
        return TransactionRecord(
            tx.lt, tx_hash, tx.now, kind, message.info.value.grams, fee,
            source.raw if source else None, comment, op, known, label,
        )
    sent = sum(out.info.value.grams for out in tx.out_msgs if out.is_internal)
    first = next((out for out in tx.out_msgs if out.is_internal), None)
    destination = _address(first.info.dest) if first else None
    op, comment = read_body(first.body) if first else (None, None)
    if aborted:
        kind, label = TxKind.FAILED, "Failed transfer (the wallet contract refused it)"
    elif first is None:
        kind, label = TxKind.OTHER, "Wallet update (no transfer)"
    else:
        kind, label = TxKind.OUTGOING, "Sent"
    return TransactionRecord(
        tx.lt, tx_hash, tx.now, kind, sent, fee,
        destination.raw if destination else None, comment, op, False, label,
    )


def _incoming_kind(
    op: int | None, known: bool, bounced: bool, returned: bool
) -> tuple[TxKind, str]:
    if bounced:
        return TxKind.BOUNCED, "Returned transfer (the destination refused it)"
    if returned:
        return TxKind.FAILED, "Incoming transfer refused and sent back to the sender"
    if op == OP_PAYOUT:
        where = "from your worker contract" if known else "(sender not yet seen by this app)"
        return TxKind.PAYOUT, f"Cocoon payout {where}"
    if op == OP_EXCESSES:
        return TxKind.EXCESS, "Unused fees returned by a Cocoon contract"
    if known:
        return TxKind.PAYOUT, "Cocoon payout from your worker contract"
    return TxKind.INCOMING, "Received"


def read_body(body: Cell | None) -> tuple[int | None, str | None]:
    """The 32-bit op of a message body and, for op 0, its text comment."""
    if body is None:
        return None, None
    try:
        cs = body.begin_parse()
        if cs.remaining_bits < 32:
            return None, None
        op = cs.load_uint(32)
        if op != OP_COMMENT:
            return op, None
        return op, cs.load_snake_bytes().decode("utf-8", errors="replace")
    except Exception:  # a malformed body is shown without a comment, never an error
        return None, None


def _address(value: object) -> TonAddress | None:
    if isinstance(value, Address):
        try:
            return TonAddress.from_pytoniq(value)
        except ValueError:
            return None
    return None
