"""Worker events into the earnings ledger, with the electricity each request drew.

Plain, blocking calls (SQLite commits with fsync): the app runs them on its blocking pool.
Statements are re-verified by the ledger before they are stored.
"""

from __future__ import annotations

import dataclasses
import logging
from decimal import ROUND_HALF_UP, Decimal

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import ProxySession, ServedRequest
from cocoon_desktop.earnings.statements import StatementRejected
from cocoon_desktop.hardware.energy import Tariff
from cocoon_desktop.network.worker.types import (
    PaymentReceived,
    ProxyStateChanged,
    RequestFinished,
)

log = logging.getLogger(__name__)


def served_request(event: RequestFinished, joules: float | None,
                   tariff: Tariff | None) -> ServedRequest:
    """The ledger row of a finished request; its energy cost in billionths of the currency."""
    served = event.to_served_request()
    if joules is None:
        return served
    cost = None
    currency = None
    if tariff is not None and tariff.price_per_kwh > 0:
        cost = int((tariff.cost(joules) * Decimal(10**9)).quantize(Decimal(1), ROUND_HALF_UP))
        currency = tariff.currency
    return dataclasses.replace(served, energy_j=joules, energy_cost_nano=cost,
                               energy_currency=currency)


class LedgerRecorder:
    def __init__(self, ledger: Ledger, worker_fee_per_token: int) -> None:
        self.ledger = ledger
        self.worker_fee_per_token = worker_fee_per_token

    def proxy_changed(self, event: ProxyStateChanged) -> None:
        """Remember a proxy once its handshake is done, so its statements can be verified."""
        if event.state != "ready" or not (event.proxy_key and event.proxy_sc_address
                                          and event.worker_sc_address):
            return
        self.ledger.register_proxy(ProxySession(event.proxy_key, event.proxy_sc_address,
                                                event.worker_sc_address,
                                                self.worker_fee_per_token))

    def request_finished(self, served: ServedRequest) -> bool:
        """Store a served request; False if it was already stored (never counted twice)."""
        return self.ledger.record_request(served)

    def payment_received(self, event: PaymentReceived) -> bool:
        """Store a proxy's signed statement (re-verified); False when it was refused."""
        try:
            _, new = self.ledger.record_statement(
                event.proxy_key, event.statement.boc, db_tokens=event.db_tokens,
                max_tokens=event.max_tokens)
        except StatementRejected as exc:
            log.error("a payment statement from proxy %s was refused: %s",
                      event.proxy_key[:16], exc)
            return False
        return new
