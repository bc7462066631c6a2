"""Writes what the worker reports into the ledger: served requests (with their GPU energy and
its cost), proxies met, verified payment statements, and the statements it refused on the wire
(into the ledger's rejection log, which `reconcile()` explains).

Worker listeners run on the event loop and must not block, so every ledger write goes to one
background thread, in arrival order (a proxy is registered before its statements). A write
that fails for a passing reason (disk full, a locked file) is kept and retried before the next
one: nothing the worker reported is dropped while the app runs; `backlog` says how many wait.
A write that can never succeed (a value no column can hold) is set aside in the ledger's
quarantine with its reason, shown by reconcile, so it never blocks the writes after it.

The records are this side's own (`served_request_from`, `session_from`); every fact comes on
the worker's events: the fee per token with the request and with the proxy, the statement
already verified (the ledger stores it without checking its signature again).
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from cocoon_desktop.earnings.errors import LedgerError
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import ProxySession, ServedRequest
from cocoon_desktop.hardware.energy import EnergyMeter, Tariff
from cocoon_desktop.protocol.money import NANOTON_PER_TON
from cocoon_desktop.protocol.statements import StatementRejected

if TYPE_CHECKING:  # the worker's types (its TL schema) load when serving starts, not with the app
    from cocoon_desktop.network.worker.types import ProxyStateChanged, RequestFinished

log = logging.getLogger(__name__)
Write = Callable[[Ledger], object]
_PASSING = (LedgerError, OSError, sqlite3.OperationalError)  # busy, locked, disk full, I/O


def _never_succeeds(exc: Exception) -> bool:
    """A write failing this way fails the same way every time (a constraint, an overflow)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    return not isinstance(exc, (*_PASSING, sqlite3.DatabaseError))


class EarningsRecorder:
    """Pass `on_worker_event` to `Worker.add_listener`; call `close()` at shutdown."""

    def __init__(self, ledger: Ledger, *, energy_meter: EnergyMeter | None = None,
                 tariff: Callable[[], Tariff | None] = lambda: None,
                 on_request: Callable[[], None] | None = None) -> None:
        self._ledger = ledger
        self._meter = energy_meter
        self._tariff = tariff
        self._on_request = on_request
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._pending: deque[tuple[Write, str]] = deque()
        self._lock = threading.Lock()
        self._last: Future[None] | None = None

    @property
    def backlog(self) -> int:
        """Writes waiting (after a failure, or not yet run)."""
        with self._lock:
            return len(self._pending)

    def on_worker_event(self, event: object) -> None:
        from cocoon_desktop.network.worker.types import (
            PaymentReceived,
            PaymentRejected,
            ProxyStateChanged,
            RequestFinished,
            RequestStarted,
        )

        if isinstance(event, RequestStarted):
            if self._meter is not None:
                self._meter.start(event.request_id)
        elif isinstance(event, RequestFinished):
            self._finished(event)
        elif isinstance(event, PaymentReceived):  # may come in the handshake, before "ready"
            self._enqueue(self._register(ProxySession(
                event.proxy_key, event.proxy_sc_address, event.worker_sc_address,
                event.worker_fee_per_token)))
            self._enqueue(lambda ledger: ledger.record_statement(
                event.statement, db_tokens=event.db_tokens, max_tokens=event.max_tokens),
                f"a statement of proxy {event.proxy_key[:12]}…")
        elif isinstance(event, PaymentRejected):  # refused on the wire: into the same log
            self._enqueue(lambda ledger: ledger.record_rejection(
                event.proxy_key, event.boc, event.reason, event.detail),
                f"a refused statement of proxy {event.proxy_key[:12]}…")
        elif isinstance(event, ProxyStateChanged) and event.state == "ready":
            session = session_from(event)
            if session is not None:
                self._enqueue(self._register(session))

    def _finished(self, event: RequestFinished) -> None:
        request = served_request_from(event)
        joules = None
        if self._meter is not None:
            try:
                joules = self._meter.finish(event.request_id)
            except ValueError:  # the start was missed (the meter began mid-request)
                joules = None
        tariff = self._tariff()
        if joules is not None:
            cost = int(tariff.cost(joules) * NANOTON_PER_TON) if tariff is not None else None
            request = dataclasses.replace(
                request, energy_j=joules, energy_cost_nano=cost,
                energy_currency=tariff.currency if tariff is not None else None)
        self._enqueue(lambda ledger: ledger.record_request(request),
                      f"request {event.request_id[:16]}… ({event.tokens.total_tokens} tokens, "
                      f"coefficient {event.coefficient})")
        if self._on_request is not None:
            self._on_request()

    @staticmethod
    def _register(session: ProxySession) -> Write:
        return lambda ledger: ledger.register_proxy(session)

    def _enqueue(self, write: Write, what: str = "a ledger write") -> None:
        with self._lock:
            self._pending.append((write, what))
            self._last = self._executor.submit(self._drain)

    def _drain(self) -> None:
        """Run waiting writes in order; stop at the first failure and keep it for later."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                write, what = self._pending[0]
            try:
                write(self._ledger)
            except StatementRejected as exc:  # already logged in the ledger; do not retry
                log.warning("statement not stored: %s", exc)
            except Exception as exc:
                if not (_never_succeeds(exc) and self._set_aside(what, exc)):
                    log.exception("a ledger write failed; it is kept and retried with the "
                                  "next one")
                    return
            with self._lock:
                self._pending.popleft()

    def _set_aside(self, what: str, exc: Exception) -> bool:
        """Quarantine a write that can never succeed; False if even that could not be written."""
        try:
            self._ledger.record_quarantine(what, f"{type(exc).__name__}: {exc}")
        except Exception:
            log.exception("could not set aside %s", what)
            return False
        return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every write queued so far has been tried; True when none is left
        waiting for a retry (everything handed over is stored)."""
        with self._lock:
            last = self._last
        if last is not None:
            last.result(timeout=timeout_s)
        return self.backlog == 0

    def close(self) -> None:
        """Finish the queued writes (retrying a failed one once) and stop the thread."""
        self._enqueue(lambda ledger: None)
        self.flush()
        self._executor.shutdown(wait=True)


def served_request_from(event: RequestFinished) -> ServedRequest:
    """The ledger's record of one request the worker finished."""
    return ServedRequest(request_id=event.request_id, proxy_key=event.proxy_key,
                         model=event.model, tokens=event.tokens, coefficient=event.coefficient,
                         adjusted_tokens=event.adjusted.total,
                         worker_fee_per_token=event.worker_fee_per_token,
                         started_at=event.started_at, finished_at=event.finished_at,
                         succeeded=event.succeeded)


def session_from(event: ProxyStateChanged) -> ProxySession | None:
    """The ledger's record of a proxy the worker is ready with (None before the handshake
    named its keys, contracts and fee)."""
    if (event.proxy_key and event.proxy_sc_address and event.worker_sc_address
            and event.worker_fee_per_token is not None):
        return ProxySession(event.proxy_key, event.proxy_sc_address, event.worker_sc_address,
                            event.worker_fee_per_token)
    return None
