"""What each proxy owes this worker, from its signed payment statements and counters."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cocoon_desktop.network.tl.worker import SignedPayment, SignedPaymentEmpty
from cocoon_desktop.network.worker.types import PaymentReceived, PaymentRejected, WorkerEvent
from cocoon_desktop.protocol.statements import RejectReason, StatementRejected, verify_statement

log = logging.getLogger(__name__)


class ProxyAccount:
    """What one proxy owes this worker (upstream WorkerProxyInfo), kept across reconnects."""

    def __init__(self, emit: Callable[[WorkerEvent], None], proxy_key: bytes, proxy_sc: str,
                 worker_sc: str, worker_fee_per_token: int) -> None:
        self._emit = emit
        self.proxy_public_key = proxy_key
        self.proxy_key = proxy_key.hex()
        self.proxy_sc_address = proxy_sc
        self.worker_sc_address = worker_sc
        self.worker_fee_per_token = worker_fee_per_token  # nanoTON, the root config's
        self.tokens_committed = 0  # newest verified signed statement
        self.db_tokens = 0
        self.max_known = 0
        self.statement_boc: bytes | None = None

    def update_payment(self, payment: SignedPayment | SignedPaymentEmpty,
                       db_tokens: int | None = None, max_tokens: int | None = None) -> bool:
        """Take a statement (and the proxy's counters); False when it fails a check or they
        went backwards, which is also reported as `PaymentRejected`. This is the one place a
        statement from the wire is verified: `PaymentReceived` carries the result onwards."""
        boc = payment.data if isinstance(payment, SignedPayment) else b""
        backwards: list[str] = []
        if isinstance(payment, SignedPayment):
            try:
                statement = verify_statement(payment.data, self.proxy_public_key,
                                             self.worker_sc_address)
            except StatementRejected as exc:
                log.error("proxy %s sent a bad payment statement: %s", self.proxy_key[:16], exc)
                self._emit(PaymentRejected(self.proxy_key, boc, exc.reason, exc.detail))
                return False
            if statement.tokens_committed < self.tokens_committed:
                backwards.append(f"it signed {statement.tokens_committed:,} tokens, fewer than "
                                 f"the {self.tokens_committed:,} it signed before")
            if statement.tokens_committed > self.tokens_committed:
                self.tokens_committed = statement.tokens_committed
                self.statement_boc = payment.data
                self.db_tokens = max(self.db_tokens, statement.tokens_committed)
                self.max_known = max(self.max_known, statement.tokens_committed)
                self._emit(PaymentReceived(
                    self.proxy_key, self.proxy_sc_address, self.worker_sc_address,
                    self.worker_fee_per_token, statement,
                    db_tokens if db_tokens is not None else self.db_tokens,
                    max_tokens if max_tokens is not None else self.max_known))
        if db_tokens is not None and db_tokens < self.db_tokens:
            backwards.append(f"it reports {db_tokens:,} tokens in its database, fewer than the "
                             f"{self.db_tokens:,} known")
        if max_tokens is not None and max_tokens < self.max_known:
            backwards.append(f"it reports {max_tokens:,} tokens counted, fewer than the "
                             f"{self.max_known:,} known")
        self.db_tokens = max(self.db_tokens, db_tokens or 0)
        self.max_known = max(self.max_known, max_tokens or 0)
        if backwards:
            detail = ("the proxy's payment information went backwards: " + "; ".join(backwards)
                      + " (it lost or rolled back its state)")
            log.error("proxy %s: %s", self.proxy_key[:16], detail)
            self._emit(PaymentRejected(self.proxy_key, boc, RejectReason.ROLLBACK, detail))
        return not backwards
