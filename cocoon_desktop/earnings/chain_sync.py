"""Settle payouts against the chain: the worker contract's paid-out counter and the owner's
incoming payouts.

- A payout is `confirmed` when the worker contract's `tokens_processed` reaches its range end.
- A payout still open 15 minutes after it was sent (its message is valid for 10) is `failed`:
  it never ran; asking again is safe.
- Tokens the contract paid that no local payout explains (the upstream runner, another install)
  become a payout with reason `chain`.
- A confirmed payout becomes `received` when an incoming payout of the right amount appears in
  the owner's wallet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.payouts import GAS_NANOTON
from cocoon_desktop.earnings.records import PayoutReason, PayoutRecord, PayoutStatus, to_ms
from cocoon_desktop.protocol.cells import WorkerContractState

log = logging.getLogger(__name__)
PAYOUT_EXPIRY = timedelta(minutes=15)
RECEIPT_CLOCK_SLACK = timedelta(minutes=2)
_OPEN = (PayoutStatus.PREPARED, PayoutStatus.SUBMITTED)
_DONE = (PayoutStatus.CONFIRMED, PayoutStatus.RECEIVED)


class ChainUnavailable(RuntimeError):
    """The chain could not be read now; the message says why (it is retried later)."""


@dataclass(frozen=True)
class IncomingPayout:
    """A payout that arrived in the owner's wallet (op `payout`)."""

    tx_hash: str
    amount_nanoton: int
    utime: int  # unix seconds
    source_raw: str | None


class ChainReader(Protocol):
    async def worker_contract_state(self, worker_sc_address: str) -> WorkerContractState | None:
        """The contract's data, or None while it is not deployed. Raise ChainUnavailable."""
        ...

    async def owner_payouts(self) -> list[IncomingPayout]:
        """Recent incoming payouts of the owner address. Raise ChainUnavailable."""
        ...


@dataclass(frozen=True)
class SyncReport:
    confirmed: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    found_on_chain: tuple[int, ...] = ()
    received: tuple[int, ...] = ()
    problems: tuple[str, ...] = ()


def apply_contract_state(ledger: Ledger, proxy_key: str, tokens_processed: int,
                         now: datetime) -> SyncReport:
    """Record the contract's counter and settle this proxy's payouts with it."""
    ledger.record_chain_state(proxy_key, tokens_processed, now)
    confirmed, failed = [], []
    payouts = ledger.payouts(proxy_key)
    for payout in payouts:
        if payout.status not in _OPEN:
            continue
        if tokens_processed >= payout.tokens_to:
            ledger.update_payout(payout.id, PayoutChange(PayoutStatus.CONFIRMED), now)
            confirmed.append(payout.id)
        elif now - (payout.submitted_at or payout.created_at) > PAYOUT_EXPIRY:
            ledger.update_payout(payout.id, PayoutChange(
                PayoutStatus.FAILED, error="not carried out on chain within 15 minutes (the "
                "message expired or was never sent); asking for the payout again is safe"), now)
            failed.append(payout.id)
    done = [p.tokens_to for p in payouts if p.status in _DONE or p.id in confirmed]
    explained = max(done, default=0)
    found = []
    proxy = ledger.proxy(proxy_key)
    if tokens_processed > explained and proxy is not None:
        found.append(ledger.add_payout(PayoutDraft(
            proxy_key, None, proxy.worker_sc_address, explained, tokens_processed,
            (tokens_processed - explained) * proxy.worker_fee_per_token, 0, PayoutReason.CHAIN,
            None, PayoutStatus.CONFIRMED), now))
        ledger.update_payout(found[-1], PayoutChange(PayoutStatus.CONFIRMED), now)
    return SyncReport(tuple(confirmed), tuple(failed), tuple(found))


def _fits(payout: PayoutRecord, receipt: IncomingPayout) -> bool:
    low, high = payout.amount_nanoton, payout.amount_nanoton + GAS_NANOTON
    if not low <= receipt.amount_nanoton <= high:
        return False
    if payout.reason is PayoutReason.CHAIN:  # discovered after the fact: any time fits
        return True
    sent = payout.submitted_at or payout.created_at
    return receipt.utime * 1000 >= to_ms(sent - RECEIPT_CLOCK_SLACK)


def match_receipts(ledger: Ledger, receipts: list[IncomingPayout], now: datetime) -> SyncReport:
    """Mark confirmed payouts received, oldest payout to oldest fitting receipt."""
    payouts = ledger.payouts()
    used = {p.owner_tx_hash for p in payouts if p.owner_tx_hash}
    waiting = [p for p in payouts if p.status is PayoutStatus.CONFIRMED]
    received = []
    for receipt in sorted(receipts, key=lambda r: r.utime):
        if receipt.tx_hash in used:
            continue
        payout = next((p for p in waiting if _fits(p, receipt)), None)
        if payout is None:
            continue
        ledger.update_payout(payout.id, PayoutChange(PayoutStatus.RECEIVED,
                                                     owner_tx_hash=receipt.tx_hash), now)
        waiting.remove(payout)
        used.add(receipt.tx_hash)
        received.append(payout.id)
    return SyncReport(received=tuple(received))


async def sync_with_chain(ledger: Ledger, reader: ChainReader,
                          now: datetime | None = None) -> SyncReport:
    """Read every proxy's worker contract and the owner's payouts; settle the ledger."""
    when = now or datetime.now(UTC)
    parts: list[SyncReport] = []
    problems: list[str] = []
    for proxy in await run_blocking(ledger.proxies):
        try:
            state = await reader.worker_contract_state(proxy.worker_sc_address)
        except ChainUnavailable as exc:
            problems.append(str(exc))
            continue
        tokens = state.tokens_processed if state is not None else 0
        parts.append(await run_blocking(apply_contract_state, ledger, proxy.proxy_key,
                                             tokens, when))
    try:
        receipts = await reader.owner_payouts()
        parts.append(await run_blocking(match_receipts, ledger, receipts, when))
    except ChainUnavailable as exc:
        problems.append(str(exc))
    return SyncReport(
        tuple(i for p in parts for i in p.confirmed), tuple(i for p in parts for i in p.failed),
        tuple(i for p in parts for i in p.found_on_chain),
        tuple(i for p in parts for i in p.received), tuple(problems))
