"""When to cash out, and the exact message that does it (upstream WorkerProxyInfo / WorkerRunner).

The proxy's newest signed statement says "pay up to N adjusted tokens". To cash it out the
worker's node wallet sends the statement, repacked so unused gas comes back to the node wallet
(`WorkerContract::repack_signed_pay_message`), to the worker contract with 0.5 TON of gas
(`WorkerRunner::proxy_request_payout`). The contract pays the tokens it had not paid yet.

Policy defaults are upstream's: pay out at 10 TON due, or at 0.2 TON due when idle; the user can
ask at any amount. The node wallet contract refuses to send anything while it holds 2 TON or
less, so a payout needs a little more than that in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytoniq_core import Address, Cell

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import PayoutReason, PayoutRecord, PayoutStatus
from cocoon_desktop.protocol.cells import parse_signed_pay_message, wrap_signed_payload
from cocoon_desktop.protocol.money import NANOTON_PER_TON, format_ton
from cocoon_desktop.protocol.statements import VerifiedStatement
from cocoon_desktop.wallet.fees import STATIC_TRANSFER_FEE_NANO
from cocoon_desktop.wallet.withdraw import NODE_WALLET_SEND_FLOOR_NANO

GAS_NANOTON = NANOTON_PER_TON // 2  # upstream attaches to_nano(0.5)
NODE_WALLET_FLOOR_NANOTON = NODE_WALLET_SEND_FLOOR_NANO  # the contract needs more than this
SEND_FEE_NANOTON = STATIC_TRANSFER_FEE_NANO  # upper bound of the node wallet's own fee
_DONE = (PayoutStatus.CONFIRMED, PayoutStatus.RECEIVED)
_OPEN = (PayoutStatus.PREPARED, PayoutStatus.SUBMITTED)


@dataclass(frozen=True)
class PayoutPolicy:
    """When payouts happen by themselves; amounts in nanoTON."""

    threshold_nanoton: int = 10 * NANOTON_PER_TON  # upstream min_worker_payout_sum
    idle_threshold_nanoton: int = NANOTON_PER_TON // 5  # upstream min_worker_payout_sum_on_idle
    idle_after_s: float = 900.0  # no request for this long counts as idle
    gas_nanoton: int = GAS_NANOTON

    def __post_init__(self) -> None:
        if not 0 <= self.idle_threshold_nanoton <= self.threshold_nanoton:
            raise ValueError("the idle threshold must be between 0 and the payout threshold")
        if self.gas_nanoton <= 0 or self.idle_after_s < 0:
            raise ValueError("gas must be positive and the idle delay not negative")


@dataclass(frozen=True)
class PayoutCandidate:
    """What one proxy's newest statement lets this worker cash out now."""

    proxy_key: str
    proxy_sc_address: str
    worker_sc_address: str
    statement_id: int
    statement: VerifiedStatement
    tokens_paid: int  # what the contract already paid: its counter, or our done payouts
    fee_per_token: int
    in_flight: PayoutRecord | None  # a payout sent and not yet seen done

    @property
    def tokens_due(self) -> int:
        return max(0, self.statement.tokens_committed - self.tokens_paid)

    @property
    def amount_nanoton(self) -> int:
        return self.tokens_due * self.fee_per_token


def payout_candidates(ledger: Ledger) -> list[PayoutCandidate]:
    """One candidate per proxy that has sent at least one verified statement."""
    payouts = ledger.payouts()
    candidates = []
    for proxy in ledger.proxies():
        latest = ledger.latest_statement(proxy.proxy_key)
        if latest is None:
            continue
        mine = [p for p in payouts if p.proxy_key == proxy.proxy_key]
        done = [p.tokens_to for p in mine if p.status in _DONE]
        paid = max([proxy.chain_tokens_processed or 0, *done])
        in_flight = next((p for p in reversed(mine) if p.status in _OPEN), None)
        candidates.append(PayoutCandidate(
            proxy.proxy_key, proxy.proxy_sc_address, proxy.worker_sc_address, latest[0],
            latest[1], paid, proxy.worker_fee_per_token, in_flight))
    return candidates


@dataclass(frozen=True)
class PayoutDecision:
    reason: PayoutReason | None  # None: no payout now
    explanation: str


def decide(candidate: PayoutCandidate, policy: PayoutPolicy, *, idle_s: float | None,
           user_asked: bool = False) -> PayoutDecision:
    """Whether to cash out this candidate now, and why (or why not) in words.

    `idle_s` is how long since the last request (None: never served one this session)."""
    due = candidate.amount_nanoton
    if candidate.in_flight is not None:
        return PayoutDecision(None, f"payout #{candidate.in_flight.id} is on its way; waiting "
                                    "for the chain to confirm it")
    if due <= 0:
        return PayoutDecision(None, "nothing to pay out: every signed token is already paid")
    if user_asked:
        return PayoutDecision(PayoutReason.USER, f"paying out {format_ton(due)} as asked")
    if due >= policy.threshold_nanoton:
        return PayoutDecision(PayoutReason.THRESHOLD, f"{format_ton(due)} is due, at or "
                                                      "above the payout threshold")
    idle = idle_s is None or idle_s >= policy.idle_after_s
    if idle and due >= policy.idle_threshold_nanoton:
        return PayoutDecision(PayoutReason.IDLE, f"idle, and {format_ton(due)} is due")
    return PayoutDecision(None, f"{format_ton(due)} is due; payouts start at "
                                f"{format_ton(policy.threshold_nanoton)} (or "
                                f"{format_ton(policy.idle_threshold_nanoton)} when idle)")


@dataclass(frozen=True)
class GasCheck:
    """Whether the node wallet can send a payout, and what to do when it cannot."""

    balance_nanoton: int | None
    required_nanoton: int
    node_wallet_address: str

    @property
    def ok(self) -> bool:
        return self.balance_nanoton is not None and self.balance_nanoton >= self.required_nanoton

    @property
    def shortfall_nanoton(self) -> int:
        return max(0, self.required_nanoton - (self.balance_nanoton or 0))

    @property
    def message(self) -> str:
        if self.ok:
            return ""
        if self.balance_nanoton is None:
            return ("The node wallet's balance could not be read, so no payout was sent. It "
                    "is retried when the TON connection is back.")
        return (f"The node wallet holds {format_ton(self.balance_nanoton)}. A payout needs "
                f"more than {format_ton(NODE_WALLET_FLOOR_NANOTON)} in it (its contract "
                f"signs nothing below that) plus about {format_ton(SEND_FEE_NANOTON)} in "
                "fees; the 0.5 TON of gas it sends mostly comes back. Send at least "
                f"{format_ton(self.shortfall_nanoton)} to {self.node_wallet_address}, then "
                "ask for the payout again.")


def check_gas(balance_nanoton: int | None, node_wallet_address: str,
              policy: PayoutPolicy) -> GasCheck:
    required = max(NODE_WALLET_FLOOR_NANOTON, policy.gas_nanoton) + SEND_FEE_NANOTON
    return GasCheck(balance_nanoton, required, node_wallet_address)


@dataclass(frozen=True)
class PayoutMessage:
    """The internal message the node wallet sends to the worker contract."""

    destination: Address  # the worker contract
    amount_nanoton: int  # the gas attached
    body: Cell
    bounce: bool
    qid: int

    @property
    def body_hash(self) -> bytes:
        return self.body.hash


def build_payout_message(statement: VerifiedStatement, node_wallet: Address,
                         gas_nanoton: int = GAS_NANOTON) -> PayoutMessage:
    """Repack the proxy's signed statement with the node wallet as the excess recipient."""
    parts = parse_signed_pay_message(Cell.one_from_boc(statement.boc))
    body = wrap_signed_payload(parts.payload, parts.signature, node_wallet)
    return PayoutMessage(parts.worker_sc_address, gas_nanoton, body, True, parts.qid)
