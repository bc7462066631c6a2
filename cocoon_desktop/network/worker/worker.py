"""The Cocoon worker: serves proxies' requests with the local engine and tracks what it earned.

Hooks for other areas (all plain Python):
- `enable()` / `disable()` / `await drain(timeout_s)`: GPU protection and the UI pause work;
  proxies are told at once (`worker.enabledDisabled`) and new requests are refused explicitly.
- `add_listener(callback)`: `RequestStarted`, `RequestFinished` (tokens and nanoTON),
  `PaymentReceived` (a verified, proxy-signed statement), `PaymentRejected` (a statement or
  counters refused on the wire: bad signature, wrong contract, malformed, rollback),
  `ProxyStateChanged`.
- `status()`: a frozen `WorkerStatus` snapshot; `stats` holds upstream's counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.network.errors import ERROR, NOTREADY, RemoteError
from cocoon_desktop.network.ratls import RaTlsIdentity
from cocoon_desktop.network.tl.base import TokensUsed
from cocoon_desktop.network.tl.worker import (
    ProxyQueryAnswerError,
    ProxyQueryAnswerErrorEx,
    ProxyQueryFinalInfo,
    ProxyRunQueryEx,
)
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.accounts import ProxyAccount
from cocoon_desktop.network.worker.proxy_link import ProxyLink
from cocoon_desktop.network.worker.request import RunningRequest
from cocoon_desktop.network.worker.stats import WorkerStats
from cocoon_desktop.network.worker.types import (
    WorkerConfig,
    WorkerEvent,
    WorkerStatus,
)
from cocoon_desktop.protocol.statements import VerifiedStatement

log = logging.getLogger(__name__)
Listener = Callable[[WorkerEvent], None]


class Worker:
    def __init__(self, config: WorkerConfig, identity: RaTlsIdentity,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self.identity = identity
        self.coefficient = config.coefficient
        self.stats = WorkerStats()
        self.links: list[ProxyLink] = []
        self.accounts: dict[str, ProxyAccount] = {}
        self.active_requests = 0
        self._enabled = True
        self._draining = False
        self._engine_ready = True
        self._events: Listeners[WorkerEvent] = Listeners("worker events")
        self._session = session
        self._own_session = session is None
        self._links = TaskSet("worker")  # one task per proxy link
        self._notices = TaskSet("worker notices")  # state/coefficient messages in flight
        self._idle = asyncio.Event()
        self._idle.set()

    # -- events -------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every event; returns the function that unsubscribes it."""
        return self._events.add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._events.remove(listener)

    def emit(self, event: WorkerEvent) -> None:
        self._events.emit(event)

    # -- life cycle ---------------------------------------------------------------------------
    def _targets(self) -> list[Endpoint]:
        if self.config.proxies:
            return list(self.config.proxies)
        registered = [p.for_workers for p in self.config.root_config.registered_proxies]
        random.shuffle(registered)
        return registered[: max(1, self.config.proxy_connections)]

    async def start(self) -> None:
        """Connect to the proxies; returns at once (links reconnect in the background)."""
        targets = self._targets()
        if not targets:
            raise ValueError("no proxy to connect to: name one, or use a root config that "
                             "lists registered proxies")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        self._links, self._notices = TaskSet("worker"), TaskSet("worker notices")
        self.links = [ProxyLink(self, endpoint) for endpoint in targets]
        for link in self.links:
            self._links.spawn(link.run(), name=f"proxy-link {link.endpoint}")

    async def stop(self) -> None:
        """End every proxy session and wait for all the worker's tasks: running requests are
        cancelled (reported as failed), nothing is left pending on the event loop."""
        await self._notices.close()
        await self._links.close()  # each link cancels and awaits its requests as it ends
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- control ------------------------------------------------------------------------------
    @property
    def accepting(self) -> bool:
        return self._enabled and not self._draining and self._engine_ready

    def set_engine_ready(self, ready: bool) -> None:
        """Upstream's uplink monitor: while the engine is down, proxies see us as disabled."""
        if ready != self._engine_ready:
            self._engine_ready = ready
            self._broadcast_state()

    def enable(self) -> None:
        self._enabled, self._draining = True, False
        self._broadcast_state()

    def disable(self) -> None:
        self._enabled = False
        self._broadcast_state()

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking requests and wait for the running ones; True if all finished in time."""
        self._draining = True
        self._broadcast_state()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except TimeoutError:
            return False

    def set_coefficient(self, coefficient: int) -> None:
        if not 0 <= coefficient < 1_000_000_000:
            raise ValueError("the coefficient must be between 0 and 999999999 (1000 = 1.0x)")
        self.coefficient = coefficient
        for link in self.links:
            self._notify(link.send_coefficient(coefficient))

    def _broadcast_state(self) -> None:
        for link in self.links:
            self._notify(link.send_state(not self.accepting))

    def _notify(self, message: Coroutine[Any, Any, None]) -> None:
        if self._notices.closed:  # stopping: the proxies are being disconnected anyway
            message.close()
            return
        self._notices.spawn(message, name="worker notice")

    def status(self) -> WorkerStatus:
        return WorkerStatus(self._enabled, self._draining, self.coefficient,
                            self.active_requests, self.config.max_active_requests,
                            tuple(link.status() for link in self.links))

    def restore_account(self, statement: VerifiedStatement, proxy_sc: str, db_tokens: int = 0,
                        max_tokens: int = 0) -> None:
        """Seed what a proxy owes us from the earnings ledger (after an app restart), so a
        proxy that lost or rolled back its state is refused at the next handshake, as
        upstream's worker does. The ledger holds only statements verified when they came."""
        account = self.account_for(statement.proxy_public_key, proxy_sc,
                                   statement.worker_sc_address)
        account.tokens_committed = max(account.tokens_committed, statement.tokens_committed)
        account.statement_boc = statement.boc
        account.db_tokens = max(account.db_tokens, db_tokens, statement.tokens_committed)
        account.max_known = max(account.max_known, max_tokens, account.db_tokens)

    def account_for(self, proxy_key: bytes, proxy_sc: str, worker_sc: str) -> ProxyAccount:
        account = self.accounts.get(proxy_sc)
        if account is not None and account.proxy_public_key != proxy_key:
            raise RemoteError(ERROR, f"PROXY PUBLIC KEY CHANGED for {proxy_sc}: another key "
                                     "now speaks for this proxy contract; it is refused (check "
                                     "the proxy address in the configuration)")
        if account is None:
            account = ProxyAccount(self.emit, proxy_key, proxy_sc, worker_sc,
                                   self.config.root_config.worker_fee_per_token)
            self.accounts[proxy_sc] = account
        return account

    # -- requests -----------------------------------------------------------------------------
    def receive_request(self, link: ProxyLink, req: ProxyRunQueryEx) -> None:
        """Accept or refuse a request from a ready proxy link (never blocks the reader)."""
        if not self.accepting or self.active_requests >= self.config.max_active_requests:
            reason = ("too many active queries" if self.accepting
                      else "worker is disabled" if not self._enabled
                      else "worker is draining" if self._draining
                      else "the worker's engine is not ready")
            code = ERROR if self.accepting else NOTREADY
            link.requests.spawn(self._refuse(link, req, code, reason), name="refusal")
            return
        assert link.account is not None and self._session is not None
        link.account.update_payment(req.signed_payment)
        running = RunningRequest(req, proto_version=link.proto_version, config=self.config,
                                 session=self._session, link=link, stats=self.stats,
                                 proxy_key=link.account.proxy_key, emit=self.emit)
        self.active_requests += 1
        self._idle.clear()
        link.requests.spawn(running.run(), name=f"request {running.request_id[:16]}",
                            on_done=self._request_done)

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self.active_requests -= 1
        if self.active_requests == 0:
            self._idle.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("request task failed", exc_info=task.exception())

    async def _refuse(self, link: ProxyLink, req: ProxyRunQueryEx, code: int,
                      reason: str) -> None:
        if link.proto_version == 0:
            message = ProxyQueryAnswerError(code, reason, req.request_id, TokensUsed()).encode()
        else:
            now = time.time() if link.proto_version >= 2 else None
            final = ProxyQueryFinalInfo(0, TokensUsed(), None, now, now)
            message = ProxyQueryAnswerErrorEx(req.request_id, code, reason, 0, final).encode()
        with contextlib.suppress(ConnectionError):
            await link.send(message)
