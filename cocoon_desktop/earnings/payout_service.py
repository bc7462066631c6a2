"""Runs payouts: decides, checks the node wallet's gas, records, sends through the wallet area.

Each payout is written to the ledger (`prepared`) before its message leaves, then marked
`submitted` with the external message hash, or `failed` with the reason. A crash in between
leaves a `prepared` row that the chain sync settles. Re-sending a statement is harmless: the
contract pays only tokens it has not paid yet.

The wallet side is a small interface (`PayoutSender`) so this module needs no keys:
`wallet_bridge.WalletPayoutSender` implements it with the node wallet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pytoniq_core import Address

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.ledger_rows import PayoutChange, PayoutDraft
from cocoon_desktop.earnings.payouts import (
    GasCheck,
    PayoutCandidate,
    PayoutMessage,
    PayoutPolicy,
    build_payout_message,
    check_gas,
    decide,
    payout_candidates,
)
from cocoon_desktop.earnings.records import PayoutReason, PayoutStatus

log = logging.getLogger(__name__)


class PayoutSendError(RuntimeError):
    """The payout could not be sent; the message says what happened and what to do."""


@dataclass(frozen=True)
class NodeWalletState:
    address: Address
    display_address: str
    balance_nanoton: int | None  # None when it could not be read


class PayoutSender(Protocol):
    async def node_wallet_state(self) -> NodeWalletState: ...

    async def send_payout(self, message: PayoutMessage) -> str:
        """Sign and send; return the external message hash (hex). Raise PayoutSendError."""
        ...


@dataclass(frozen=True)
class PayoutOutcome:
    """One proxy's result of a payout round, in words for the UI and the stats page."""

    proxy_key: str
    sent: bool
    message: str
    payout_id: int | None = None
    gas: GasCheck | None = None


class PayoutService:
    """Call `run_once()` on a timer and `request_payout()` when the user asks."""

    def __init__(self, ledger: Ledger, sender: PayoutSender, policy: PayoutPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._sender = sender
        self.policy = policy or PayoutPolicy()
        self._clock = clock
        self._last_request_at: float | None = None
        self._lock = asyncio.Lock()

    def note_request(self) -> None:
        """Tell the service a request was served (payouts on idle wait for quiet)."""
        self._last_request_at = self._clock()

    async def run_once(self, user_proxy_key: str | None = None) -> list[PayoutOutcome]:
        """Pay out every proxy whose due amount passes the policy (or the one the user named)."""
        async with self._lock:
            candidates = await run_blocking(payout_candidates, self._ledger)
            idle_s = (None if self._last_request_at is None
                      else self._clock() - self._last_request_at)
            outcomes = []
            for candidate in candidates:
                asked = candidate.proxy_key == user_proxy_key
                if user_proxy_key is not None and not asked:
                    continue
                decision = decide(candidate, self.policy, idle_s=idle_s, user_asked=asked)
                if decision.reason is None:
                    outcomes.append(PayoutOutcome(candidate.proxy_key, False,
                                                  decision.explanation))
                    continue
                outcomes.append(await self._pay(candidate, decision.reason))
            return outcomes

    async def request_payout(self, proxy_sc_address: str) -> str:
        """The worker stats page's `/request/payout?proxy=`: one sentence for the page."""
        try:
            wanted = Address(proxy_sc_address).to_str(is_user_friendly=False)
        except Exception:
            return f"'{proxy_sc_address}' is not a TON address; pass the proxy's contract address"
        proxies = await run_blocking(self._ledger.proxies)
        match = next((p for p in proxies if p.proxy_sc_address == wanted), None)
        if match is None:
            return "this worker has no signed statement from that proxy yet: nothing to pay out"
        outcomes = await self.run_once(user_proxy_key=match.proxy_key)
        if not outcomes:
            return "this proxy has not sent a signed statement yet: nothing to pay out"
        return outcomes[0].message

    async def _pay(self, candidate: PayoutCandidate, reason: PayoutReason) -> PayoutOutcome:
        wallet = await self._sender.node_wallet_state()
        gas = check_gas(wallet.balance_nanoton, wallet.display_address, self.policy)
        if not gas.ok:
            log.warning("payout to %s held back: %s", candidate.worker_sc_address, gas.message)
            return PayoutOutcome(candidate.proxy_key, False, gas.message, gas=gas)
        message = build_payout_message(candidate.statement, wallet.address,
                                       self.policy.gas_nanoton)
        draft = PayoutDraft(
            candidate.proxy_key, candidate.statement_id, candidate.worker_sc_address,
            candidate.tokens_paid, candidate.statement.tokens_committed,
            candidate.amount_nanoton, self.policy.gas_nanoton, reason, message.body_hash)
        payout_id = await run_blocking(self._ledger.add_payout, draft)
        try:
            external_hash = await self._sender.send_payout(message)
        except PayoutSendError as exc:
            await run_blocking(self._ledger.update_payout, payout_id,
                                    PayoutChange(PayoutStatus.FAILED, error=str(exc)))
            return PayoutOutcome(candidate.proxy_key, False, str(exc), payout_id, gas)
        await run_blocking(
            self._ledger.update_payout, payout_id,
            PayoutChange(PayoutStatus.SUBMITTED, external_msg_hash=external_hash))
        log.info("payout #%d sent: %d tokens to %s", payout_id, candidate.tokens_due,
                 candidate.worker_sc_address)
        return PayoutOutcome(candidate.proxy_key, True,
                             f"payout #{payout_id} sent; the worker contract pays it to the "
                             "owner address once the chain takes it (seconds to a minute)",
                             payout_id, gas)
