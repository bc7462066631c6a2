"""One proxy as the worker sees it: connect, handshake, serve, reconnect with backoff.

The handshake is upstream's (runners/worker/WorkerProxyConnection.cpp): `worker.connectToProxy`
-> `worker.connectedToProxy` (proxy too old, test-mode mismatch and unexpected contract
addresses are refused), `worker.compareBalanceWithProxy` (a proxy that reports less than we
hold has lost or rolled back state: refused), optionally `worker.extendedCompareBalanceWithProxy`,
then `worker.proxyHandshakeComplete(is_disabled)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime
from typing import Protocol

from cocoon_desktop.core.tasks import TaskSet, cancel_and_wait
from cocoon_desktop.network import tl
from cocoon_desktop.network.attestation import AttestationError, PeerAttestation
from cocoon_desktop.network.connection import TlConnection
from cocoon_desktop.network.errors import FAILURE, RemoteError
from cocoon_desktop.network.ratls import RaTlsIdentity
from cocoon_desktop.network.root_config import RootConfigError, friendly, parse_address
from cocoon_desktop.network.tl.worker import (
    ProxyRunQuery,
    ProxyRunQueryEx,
    ProxyWorkerRequestPayment,
    SignedPayment,
    SignedPaymentEmpty,
    WorkerCompareBalance,
    WorkerCompareBalanceResult,
    WorkerConnectedToProxy,
    WorkerConnectToProxy,
    WorkerEnabledDisabled,
    WorkerExtendedCompareBalance,
    WorkerExtendedCompareBalanceResult,
    WorkerHandshakeComplete,
    WorkerHandshakeCompleted,
    WorkerNewCoefficient,
    WorkerParams,
    WorkerPaymentStatus,
    WorkerUpdatePaymentStatus,
)
from cocoon_desktop.network.transport import Endpoint, connect
from cocoon_desktop.network.worker.accounts import ProxyAccount
from cocoon_desktop.network.worker.types import (
    MAX_PROTO_VERSION,
    MIN_PROTO_VERSION,
    ProxyStateChanged,
    ProxyStatus,
    WorkerConfig,
    WorkerEvent,
)
from cocoon_desktop.protocol.cells import raw_address

log = logging.getLogger(__name__)
QUERY_TIMEOUT_S = 30.0


class LinkHost(Protocol):
    """What a proxy link needs from the worker that owns it (`worker.Worker`)."""

    config: WorkerConfig
    identity: RaTlsIdentity
    coefficient: int
    links: list[ProxyLink]

    @property
    def accepting(self) -> bool: ...

    def emit(self, event: WorkerEvent) -> None: ...

    def account_for(self, proxy_key: bytes, proxy_sc: str, worker_sc: str) -> ProxyAccount: ...

    def receive_request(self, link: ProxyLink, req: ProxyRunQueryEx) -> None: ...


class HandshakeRefused(Exception):
    """The proxy is not one this worker may serve; the text says why."""


class ProxyLink:
    def __init__(self, worker: LinkHost, endpoint: Endpoint) -> None:
        self.worker = worker
        self.endpoint = endpoint
        self.state = "connecting"
        self.detail = ""
        self.conn: TlConnection | None = None
        self.account: ProxyAccount | None = None
        self.proto_version = 0
        self.connected_since: datetime | None = None
        # this session's work: requests and refusals running, the payment poll
        self.requests = TaskSet(f"proxy link {endpoint}")

    def _set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        acc = self.account
        self.worker.emit(ProxyStateChanged(
            str(self.endpoint), state, detail,  # type: ignore[arg-type]
            acc.proxy_key if acc else None, acc.proxy_sc_address if acc else None,
            acc.worker_sc_address if acc else None, acc.worker_fee_per_token if acc else None))

    def status(self) -> ProxyStatus:
        acc = self.account
        return ProxyStatus(str(self.endpoint), self.state, self.detail,
                           acc.proxy_key if acc else None, acc.proxy_sc_address if acc else None,
                           acc.worker_sc_address if acc else None,
                           acc.tokens_committed if acc else 0, acc.max_known if acc else 0,
                           self.connected_since)

    async def run(self) -> None:
        """Serve this proxy until cancelled, reconnecting with exponential backoff."""
        config = self.worker.config
        delay = config.reconnect_min_s
        while True:
            self._set_state("connecting")
            try:
                await self._session()
                delay = config.reconnect_min_s
            except asyncio.CancelledError:
                raise
            except (HandshakeRefused, AttestationError, RootConfigError) as exc:
                self._set_state("disconnected", f"refused: {exc}")
                log.warning("proxy %s refused: %s", self.endpoint, exc)
            except (OSError, ConnectionError, TimeoutError, RemoteError, tl.TlError,
                    ValueError) as exc:
                self._set_state("disconnected", f"{type(exc).__name__}: {exc}")
                log.info("proxy %s: %s", self.endpoint, exc)
            finally:
                await self._drop_connection()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, config.reconnect_max_s)

    async def _drop_connection(self) -> None:
        await self.requests.cancel_all()  # each reports its request as failed as it ends
        if self.conn is not None:
            await self.conn.close("worker stopped serving this proxy")
            self.conn = None
        self.connected_since = None

    async def _session(self) -> None:
        config = self.worker.config
        self.conn, peer = await connect(
            self.endpoint, self.worker.identity, config.proxy_policy,
            name=f"proxy {self.endpoint}", on_packet=self._on_packet, on_query=self._on_query,
            timeout_s=config.connection_timeout_s)
        self._set_state("handshake")
        await self._handshake(peer)
        self.connected_since = datetime.now(UTC)
        self._set_state("ready")
        payment_poll = self.requests.spawn(self._poll_payments(),
                                           name=f"payment poll {self.endpoint}")
        try:
            await self.conn.closed.wait()
        finally:
            await cancel_and_wait([payment_poll], f"proxy link {self.endpoint}")
        log.info("proxy %s: connection closed: %s", self.endpoint, self.conn.close_reason)
        self._set_state("disconnected", self.conn.close_reason)

    async def _query(self, obj: tl.TlObject, expect: type) -> tl.TlObject:
        assert self.conn is not None
        answer = await self.conn.query(obj.encode(), QUERY_TIMEOUT_S)
        return tl.decode_as(answer, expect)

    async def _handshake(self, peer: PeerAttestation) -> None:
        worker, config = self.worker, self.worker.config
        root = config.root_config
        if peer.tcb_status:
            advisories = f" (advisories {', '.join(peer.advisory_ids)})" \
                if peer.advisory_ids else ""
            log.info("proxy %s: TDX platform verified with Intel DCAP, TCB status %s%s",
                     self.endpoint, peer.tcb_status, advisories)
        if config.checks_proxy_hashes and not root.has_proxy_hash(peer.image_hash):
            raise HandshakeRefused(f"invalid proxy hash {peer.image_hash_hex}: the root config "
                                   "does not list the image this proxy runs; use a proxy of "
                                   "the network, or update the root config")
        params = WorkerParams(0, config.owner_address, config.model_name, worker.coefficient,
                              config.is_test, len(worker.links) or 1, config.max_active_requests,
                              MIN_PROTO_VERSION, MAX_PROTO_VERSION)
        answer = await self._query(WorkerConnectToProxy(params), WorkerConnectedToProxy)
        proxy = answer.params
        if not proxy.flags & 3:
            raise HandshakeRefused("proxy is too old: it speaks no protocol version this "
                                   "worker knows; use another proxy, or ask its operator to "
                                   "update it")
        if bool(proxy.is_test) != config.is_test:
            raise HandshakeRefused(f"test mode mismatch: the proxy serves a "
                                   f"{'test' if proxy.is_test else 'real'} network, this worker "
                                   f"a {'test' if config.is_test else 'real'} one; connect to a "
                                   "proxy of the worker's network")
        proxy_owner = parse_address(proxy.proxy_owner_address, "proxy owner address")
        proxy_sc = parse_address(proxy.proxy_sc_address, "proxy contract address")
        worker_sc = parse_address(answer.worker_sc_address, "worker contract address")
        root_address = parse_address(config.root_contract_address, "root contract address")
        expected = root.proxy_sc_address(proxy_owner, proxy.proxy_public_key, root_address)
        if raw_address(expected) != raw_address(proxy_sc):
            raise HandshakeRefused(f"PROXY SC ADDRESS IS UNEXPECTED: expected "
                                   f"{friendly(expected)} got {friendly(proxy_sc)}; the proxy "
                                   f"and this worker use different root configs: use the "
                                   "network's current root config (or root contract address)")
        expected = root.worker_sc_address(parse_address(config.owner_address, "owner address"),
                                          proxy_sc, proxy.proxy_public_key)
        if raw_address(expected) != raw_address(worker_sc):
            raise HandshakeRefused(f"WORKER SC ADDRESS IS UNEXPECTED: expected "
                                   f"{friendly(expected)} got {friendly(worker_sc)}; the proxy "
                                   "would pay another contract than this owner's: check the "
                                   "owner address and the root config")
        self.proto_version = proxy.proto_version or 0
        self.account = worker.account_for(proxy.proxy_public_key, raw_address(proxy_sc),
                                          raw_address(worker_sc))
        await self._compare_balance()
        disabled = not worker.accepting
        await self._query(WorkerHandshakeComplete(disabled), WorkerHandshakeCompleted)

    async def _compare_balance(self) -> None:
        acc = self.account
        assert acc is not None
        result = await self._query(
            WorkerCompareBalance(acc.tokens_committed, acc.db_tokens, acc.max_known),
            WorkerCompareBalanceResult)
        if not acc.update_payment(result.signed_payment, result.tokens_committed_to_db,
                                  result.max_tokens):
            raise HandshakeRefused("cannot reconcile payment information: the proxy reports "
                                   "fewer tokens than it already signed for us (it lost or "
                                   "rolled back its state); it is not served until that is "
                                   "fixed, and what it signed stays payable: raise it with the "
                                   "proxy's operator")
        if result.error_code:
            ext = await self._query(WorkerExtendedCompareBalance(acc.db_tokens, b""),
                                    WorkerExtendedCompareBalanceResult)
            if ext.error_code:
                raise HandshakeRefused(f"cannot reconcile payment information: received "
                                       f"error {ext.error_code}; it is not served until the "
                                       "proxy agrees: raise it with the proxy's operator")

    async def _poll_payments(self) -> None:
        while self.conn is not None and not self.conn.closed.is_set():
            await asyncio.sleep(random.uniform(10, 20))
            with contextlib.suppress(RemoteError, TimeoutError, ConnectionError, tl.TlError):
                status = await self._query(WorkerUpdatePaymentStatus(), WorkerPaymentStatus)
                assert self.account is not None
                self.account.update_payment(status.signed_payment, status.db_tokens,
                                            status.max_tokens)

    async def _on_query(self, data: bytes) -> bytes:
        raise RemoteError(FAILURE, f"the worker accepts no queries (got {tl.peek_id(data):#x})")

    async def _on_packet(self, data: bytes) -> None:
        if self.state != "ready" or self.account is None:
            log.error("dropping a message from %s: connection not ready", self.endpoint)
            return
        try:
            message = tl.decode(data)
        except tl.TlError as exc:
            log.error("dropping a message from %s: %s", self.endpoint, exc)
            return
        if isinstance(message, ProxyRunQueryEx | ProxyRunQuery):
            if isinstance(message, ProxyRunQuery):
                message = ProxyRunQueryEx(message.query, message.signed_payment,
                                          message.coefficient, message.timeout,
                                          message.request_id, 0)
            self.worker.receive_request(self, message)
        elif isinstance(message, SignedPayment | SignedPaymentEmpty):
            self.account.update_payment(message)
        elif isinstance(message, ProxyWorkerRequestPayment):
            if not self.account.update_payment(message.signed_payment, message.db_tokens,
                                               message.max_tokens):
                await self.conn.close("the proxy's payment information went backwards")  # type: ignore[union-attr]
        else:
            log.error("dropping a message from %s: unexpected %s", self.endpoint,
                      message.TL_NAME)

    def send_nowait(self, data: bytes) -> None:
        """Queue one message; it leaves with whatever else is sent in this turn of the loop."""
        if self.conn is None:
            raise ConnectionError(f"proxy {self.endpoint} is not connected")
        self.conn.send_packet_nowait(data)

    async def drain(self) -> None:
        """Wait while the proxy reads slower than we send."""
        if self.conn is not None:
            await self.conn.drain()

    async def send(self, data: bytes) -> None:
        self.send_nowait(data)
        await self.drain()

    async def send_state(self, disabled: bool) -> None:
        if self.state == "ready":
            with contextlib.suppress(ConnectionError):
                await self.send(WorkerEnabledDisabled(int(disabled)).encode())

    async def send_coefficient(self, coefficient: int) -> None:
        if self.state == "ready":
            with contextlib.suppress(ConnectionError):
                await self.send(WorkerNewCoefficient(coefficient).encode())
