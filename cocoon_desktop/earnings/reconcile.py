"""Where is my money: earned, committed by the proxy, paid by the contract, received, per proxy,
with a sentence for every gap, and each payout matched to the requests it paid.

Statements and payouts are cumulative counts of adjusted tokens, so a payout covering tokens
(from, to] pays the requests whose running total (in finish order) falls in that range. The
proxy counts in its own order, so a request at a boundary may be split: it is marked partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.payouts import PayoutPolicy, decide, payout_candidates
from cocoon_desktop.earnings.records import PayoutReason, PayoutRecord, PayoutStatus, ProxyInfo
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.protocol.statements import RejectReason

_PAID = (PayoutStatus.CONFIRMED, PayoutStatus.RECEIVED)


class GapKind(StrEnum):
    NOT_COMMITTED = "not_committed"  # counted, not yet signed
    BEYOND_LEDGER = "beyond_ledger"  # signed more than this ledger served
    NOT_PAID = "not_paid"  # signed, not yet paid out
    IN_FLIGHT = "in_flight"
    FAILED = "failed"
    NOT_RECEIVED = "not_received"  # paid by the contract, not yet seen in the owner's wallet
    NOT_SYNCED = "not_synced"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"  # a record the ledger could not hold, set aside with the reason


@dataclass(frozen=True)
class Gap:
    kind: GapKind
    tokens: int
    nanoton: int
    message: str


@dataclass(frozen=True)
class PayoutMatch:
    """The requests one payout paid (request ids in finish order)."""

    payout_id: int
    tokens_from: int
    tokens_to: int
    request_ids: tuple[str, ...]
    first_partial: bool
    last_partial: bool
    tokens_beyond_ledger: int  # part of the range no request in this ledger accounts for


@dataclass(frozen=True)
class ProxyReconciliation:
    proxy_key: str
    proxy_sc_address: str
    earned_tokens: int
    earned_nanoton: int
    counted_tokens: int  # what the proxy says it counted (0 when it has not said)
    committed_tokens: int
    committed_nanoton: int
    paid_tokens: int
    paid_nanoton: int
    received_nanoton: int
    gaps: tuple[Gap, ...]
    matches: tuple[PayoutMatch, ...]


@dataclass(frozen=True)
class Reconciliation:
    proxies: tuple[ProxyReconciliation, ...]
    rejections: tuple[Gap, ...]

    @property
    def all_clear(self) -> bool:
        return not self.rejections and all(not p.gaps for p in self.proxies)


def _tokens(n: int) -> str:
    return f"{n:,} token" + ("" if n == 1 else "s")


def match_payouts(ordered: list[tuple[str, int]], payouts: list[PayoutRecord]
                  ) -> tuple[PayoutMatch, ...]:
    """Match each paid payout's token range to requests by running total."""
    bounds, total = [], 0
    for request_id, adjusted in ordered:
        bounds.append((request_id, total, total + adjusted))
        total += adjusted
    matches = []
    for p in sorted((p for p in payouts if p.status in _PAID), key=lambda p: p.tokens_from):
        inside = [(rid, lo, hi) for rid, lo, hi in bounds
                  if hi > p.tokens_from and lo < p.tokens_to and hi > lo]
        matches.append(PayoutMatch(
            p.id, p.tokens_from, p.tokens_to, tuple(rid for rid, _, _ in inside),
            bool(inside) and inside[0][1] < p.tokens_from,
            bool(inside) and inside[-1][2] > p.tokens_to,
            max(0, p.tokens_to - max(total, p.tokens_from))))
    return tuple(matches)


def _counting_gaps(earned: int, counted: int, committed: int, fee: int) -> list[Gap]:
    gaps = []
    if earned > committed:
        missing = earned - committed
        message = (f"proxy has not yet committed {_tokens(missing)} "
                   f"({format_ton(missing * fee)}); proxies sign what they owe as they "
                   "go, usually within minutes")
        if counted and counted < earned:
            message += (f"; its last report counted {_tokens(counted)} in all, fewer than the "
                        f"{earned:,} this worker metered: if that stays so, raise it with the "
                        "proxy's operator")
        gaps.append(Gap(GapKind.NOT_COMMITTED, missing, missing * fee, message))
    if committed > earned:
        extra = committed - earned
        gaps.append(Gap(GapKind.BEYOND_LEDGER, extra, extra * fee,
                        f"the proxy signed {_tokens(extra)} more than this ledger recorded "
                        "(served before this ledger began, or by another worker with the same "
                        "owner address)"))
    return gaps


def _payout_gaps(info: ProxyInfo, payouts: list[PayoutRecord], not_paid: Gap | None
                 ) -> list[Gap]:
    gaps = [not_paid] if not_paid else []
    for p in payouts:
        if p.status in (PayoutStatus.PREPARED, PayoutStatus.SUBMITTED):
            gaps.append(Gap(GapKind.IN_FLIGHT, p.tokens_to - p.tokens_from, p.amount_nanoton,
                            f"payout #{p.id} ({format_ton(p.amount_nanoton)}) was sent and "
                            "waits for the chain"))
        elif p.status is PayoutStatus.CONFIRMED:
            gaps.append(Gap(GapKind.NOT_RECEIVED, p.tokens_to - p.tokens_from, p.amount_nanoton,
                            f"payout tx seen but not yet in the owner's wallet "
                            f"(payout #{p.id}, {format_ton(p.amount_nanoton)})"))
    ours = [p for p in payouts if p.reason is not PayoutReason.CHAIN]
    last = ours[-1] if ours else None
    if last is not None and last.status is PayoutStatus.FAILED:
        gaps.append(Gap(GapKind.FAILED, 0, 0, f"the last payout (#{last.id}) failed: "
                                               f"{last.error or 'no reason recorded'}"))
    if info.chain_read_at is None:
        gaps.append(Gap(GapKind.NOT_SYNCED, 0, 0, "the worker contract has not been read from "
                        "the chain yet, so 'paid' counts only this app's own payouts"))
    return gaps


_NOT_COUNTED = "nothing of it was counted; if it keeps coming, raise it with the proxy's operator"
_REJECTIONS = {
    RejectReason.UNKNOWN_PROXY.value: ("statement from an unknown proxy key rejected",
                                       _NOT_COUNTED),
    RejectReason.BAD_SIGNATURE.value: ("tampered or wrongly signed statement rejected",
                                       _NOT_COUNTED),
    RejectReason.WRONG_WORKER.value: ("statement for another worker's contract rejected",
                                      _NOT_COUNTED),
    RejectReason.MALFORMED.value: ("malformed statement rejected", _NOT_COUNTED),
    RejectReason.ROLLBACK.value: ("statement that went backwards rejected",
                                  "what the proxy signed before still stands and stays payable; "
                                  "this worker does not serve it until its figures are back: "
                                  "raise it with the proxy's operator"),
}


def _rejection_gaps(ledger: Ledger) -> tuple[Gap, ...]:
    gaps = []
    for r in ledger.rejected_statements():
        words, advice = _REJECTIONS.get(r.reason, (f"statement rejected ({r.reason})",
                                                   _NOT_COUNTED))
        gaps.append(Gap(GapKind.REJECTED, 0, 0,
                        f"{words} ({r.times_seen}x, last {r.last_seen:%Y-%m-%d %H:%M} UTC, proxy "
                        f"key {r.proxy_key[:12]}…): {r.detail}; {advice}"))
    return tuple(gaps)


def reconcile(ledger: Ledger, policy: PayoutPolicy | None = None) -> Reconciliation:
    """The full picture, per proxy the worker has served or heard from."""
    policy = policy or PayoutPolicy()
    candidates = {c.proxy_key: c for c in payout_candidates(ledger)}
    results = []
    for info in ledger.proxies():
        fee = info.worker_fee_per_token
        ordered = [(r[0], r[1]) for r in ledger.query(
            "SELECT request_id, adjusted_tokens FROM served_requests WHERE proxy_key = ? "
            "ORDER BY finished_at_ms, id", (info.proxy_key,))]
        earned = sum(t for _, t in ordered)
        payouts = ledger.payouts(info.proxy_key)
        latest = ledger.latest_statement(info.proxy_key)
        committed = latest[1].tokens_committed if latest else 0
        paid = max([info.chain_tokens_processed or 0,
                    *(p.tokens_to for p in payouts if p.status in _PAID)])
        not_paid = None
        candidate = candidates.get(info.proxy_key)
        if candidate and candidate.tokens_due and candidate.in_flight is None:
            why = decide(candidate, policy, idle_s=0.0).explanation
            not_paid = Gap(GapKind.NOT_PAID, candidate.tokens_due, candidate.amount_nanoton,
                           f"{_tokens(candidate.tokens_due)} signed but not paid out yet: {why}")
        results.append(ProxyReconciliation(
            info.proxy_key, info.proxy_sc_address, earned, earned * fee, info.max_tokens,
            committed, committed * fee, paid, paid * fee,
            sum(p.amount_nanoton for p in payouts if p.status is PayoutStatus.RECEIVED),
            tuple(_counting_gaps(earned, info.max_tokens, committed, fee)
                  + _payout_gaps(info, payouts, not_paid)),
            match_payouts(ordered, payouts)))
    return Reconciliation(tuple(results), _rejection_gaps(ledger) + _quarantine_gaps(ledger))


def _quarantine_gaps(ledger: Ledger) -> tuple[Gap, ...]:
    return tuple(Gap(GapKind.QUARANTINED, 0, 0,
                     f"set aside on {when:%Y-%m-%d %H:%M} UTC, not counted: {what}: {reason}; "
                     "the proxy sent a value the ledger cannot hold, keep the ledger for a "
                     "support request") for what, reason, when in ledger.quarantined_writes())
