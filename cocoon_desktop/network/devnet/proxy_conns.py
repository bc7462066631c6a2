"""The devnet proxy's inbound connections: worker handshakes and client sessions.

Worker side (upstream ProxyInboundWorkerConnection): connectToProxy -> compareBalance ->
(extendedCompare) -> proxyHandshakeComplete, each allowed only in its turn, so a replayed or
out-of-order handshake query is refused. Client side (upstream ProxyInboundClientConnection in
fake-TON mode): connectToProxy, then either authorization succeeds.
"""

from __future__ import annotations

import hashlib
import logging

from cocoon_desktop.network import tl
from cocoon_desktop.network.attestation import PeerAttestation
from cocoon_desktop.network.connection import TlConnection
from cocoon_desktop.network.devnet.book import (
    MAX_PROTO_VERSION,
    MIN_PROTO_VERSION,
    ProxyBook,
    WorkerLine,
)
from cocoon_desktop.network.devnet.relay import Relay
from cocoon_desktop.network.errors import ERROR, PROTOVIOLATION, RemoteError
from cocoon_desktop.network.root_config import friendly, parse_address
from cocoon_desktop.network.tl import client as ct
from cocoon_desktop.network.tl import worker as wt
from cocoon_desktop.network.tl.parts import PROXY_PART, read_part
from cocoon_desktop.network.tls_stream import TlsStream

log = logging.getLogger(__name__)


def _proto(flags: int, low: int | None, high: int | None) -> int:
    remote_low, remote_high = (low or 0, high or 0) if flags & 2 else (0, 0)
    if remote_high < MIN_PROTO_VERSION or remote_low > MAX_PROTO_VERSION:
        raise RemoteError(PROTOVIOLATION, "cannot choose common protocol version")
    return min(remote_high, MAX_PROTO_VERSION)


class WorkerSession:
    def __init__(self, proxy: ProxyBook, peer: PeerAttestation, where: str) -> None:
        self.proxy = proxy
        self.peer = peer
        self.where = where
        self.state = "none"
        self.line: WorkerLine | None = None
        self.conn: TlConnection | None = None

    def _params(self, proto: int) -> wt.ProxyParams:
        p = self.proxy
        return wt.ProxyParams(0, p.public_key, friendly(p.owner_address), friendly(p.sc_address),
                              p.root_config.is_test, proto if proto > 0 else None)

    async def on_query(self, data: bytes) -> bytes:
        query = tl.decode(data)
        if isinstance(query, wt.WorkerUpdatePaymentStatus) and self.state == "ok":
            account = self.line.account  # type: ignore[union-attr]
            return wt.WorkerPaymentStatus(wt.SignedPayment(account.statement), account.tokens,
                                          account.tokens).encode()
        expected = {"none": wt.WorkerConnectToProxy, "compare": wt.WorkerCompareBalance,
                    "compare_ext": wt.WorkerExtendedCompareBalance,
                    "finishing": wt.WorkerHandshakeComplete}.get(self.state)
        if expected is None or not isinstance(query, expected):
            raise RemoteError(PROTOVIOLATION, f"unexpected {query.TL_NAME} in handshake state "
                                              f"'{self.state}'")
        if isinstance(query, wt.WorkerConnectToProxy):
            return self._connect(query.params).encode()
        account = self.line.account  # type: ignore[union-attr]
        if isinstance(query, wt.WorkerCompareBalance):
            self.state = "compare_ext" if query.max_tokens > account.tokens else "finishing"
            error = 1 if self.state == "compare_ext" else 0
            return wt.WorkerCompareBalanceResult(wt.SignedPayment(account.statement),
                                                 account.tokens, account.tokens, error).encode()
        if isinstance(query, wt.WorkerExtendedCompareBalance):
            self.state = "finishing"
            return wt.WorkerExtendedCompareBalanceResult(0).encode()
        assert isinstance(query, wt.WorkerHandshakeComplete) and self.line is not None
        self.line.is_disabled = query.is_disabled
        self.state = "ok"
        self.proxy.lines.append(self.line)
        log.info("worker %s ready: model %s, coefficient %d, %d slots, attestation %s",
                 self.where, self.line.model, self.line.coefficient,
                 self.line.max_active_requests, self.peer.kind)
        return wt.WorkerHandshakeCompleted().encode()

    def _connect(self, params: wt.WorkerParams) -> wt.WorkerConnectedToProxy:
        root = self.proxy.root_config
        if not params.flags & 1:
            raise RemoteError(ERROR, "too old worker")
        if bool(params.is_test) != root.is_test:
            raise RemoteError(ERROR, "test mode mismatch")
        if not params.model:
            raise RemoteError(PROTOVIOLATION, "invalid worker hash or worker type")
        if not 0 <= params.coefficient < 1_000_000_000:
            raise RemoteError(PROTOVIOLATION, "invalid coefficient value")
        if (params.max_active_requests or 0) < 1 or (params.proxy_cnt or 0) < 1:
            raise RemoteError(PROTOVIOLATION, "invalid max_active_requests or proxy_cnt value")
        if self.proxy.check_worker_hashes:
            if not root.has_worker_hash(self.peer.image_hash):
                raise RemoteError(PROTOVIOLATION,
                                  f"invalid worker image hash {self.peer.image_hash_hex}: this "
                                  "devnet's root config does not list it; run an image it lists")
            if not root.has_model_hash(params.model):
                raise RemoteError(PROTOVIOLATION, f"invalid worker model '{params.model}': this "
                                                  "devnet's root config does not list it; serve "
                                                  "a model it lists")
        proto = _proto(params.flags, params.min_proto_version, params.max_proto_version)
        owner = parse_address(params.worker_owner_address, "worker owner address")
        account = self.proxy.account(owner)
        slots = -(-params.max_active_requests // params.proxy_cnt)  # type: ignore[operator]
        assert self.conn is not None
        self.line = WorkerLine(account, params.model, params.coefficient, slots,
                               self.peer.image_hash, proto, self.conn.send_packet)
        self.state = "compare"
        return wt.WorkerConnectedToProxy(self._params(proto), friendly(account.sc_address))

    async def on_packet(self, data: bytes) -> None:
        if self.state != "ok" or self.line is None:
            log.error("worker %s: message before the handshake completed, dropped", self.where)
            return
        part = read_part(PROXY_PART, data)  # the common case, every token: read directly
        if part is not None:
            relay = self.line.relays.get(part[0])
            if relay is not None and relay.sent_head:
                await relay.forward_part(part[1])
                return
        message = tl.decode(data)  # anything else, and errors, the general way
        if isinstance(message, wt.WorkerEnabledDisabled):
            self.line.is_disabled = bool(message.disabled)
        elif isinstance(message, wt.WorkerNewCoefficient):
            if message.new_coefficient < 0:
                await self.conn.close("bad coefficient value")  # type: ignore[union-attr]
            self.line.coefficient = message.new_coefficient
        elif hasattr(message, "request_id") and message.TL_NAME.startswith("proxy.queryAnswer"):
            relay = self.line.relays.get(message.request_id)
            if relay is None:
                log.warning("worker %s: answer to unknown request", self.where)
            else:
                await relay.from_worker(message)
        else:
            log.error("worker %s: unexpected %s dropped", self.where, message.TL_NAME)


async def _hold(proxy: ProxyBook, conn: TlConnection, kind: str, where: str) -> bool:
    """Run the tcp.connect handshake, then keep the session until it ends or the proxy stops
    (the connection is closed either way); False when the handshake failed."""
    try:
        await conn.start()
    except (ConnectionError, OSError, TimeoutError, ValueError) as exc:
        log.warning("%s %s: handshake failed: %s", kind, where, exc)
        return False
    proxy.connections.add(conn)
    try:
        await conn.closed.wait()
    finally:
        await conn.close("the devnet proxy stopped")
        proxy.connections.discard(conn)
    return True


async def accept_worker(proxy: ProxyBook, stream: TlsStream, peer: PeerAttestation,
                        where: str) -> None:
    session = WorkerSession(proxy, peer, where)
    conn = session.conn = TlConnection(stream, is_client=False, name=f"worker {where}",
                                       on_query=session.on_query, on_packet=session.on_packet)
    try:
        await _hold(proxy, conn, "worker", where)
    finally:  # also when the proxy stops: the clients of its running requests are told
        if session.line is not None:
            if session.line in proxy.lines:
                proxy.lines.remove(session.line)
            for relay in list(session.line.relays.values()):
                await relay.fail(ERROR, f"the worker disconnected: {conn.close_reason}")
            log.info("worker %s gone: %s", where, conn.close_reason)


class ClientSession:
    def __init__(self, proxy: ProxyBook, where: str, authorised: bool = False) -> None:
        self.proxy = proxy
        self.where = where
        self.authorised = authorised  # its certificate's key is one the proxy serves
        self.state = "none"
        self.proto = 0
        self.owner = ""
        self.conn: TlConnection | None = None

    async def on_query(self, data: bytes) -> bytes:
        query = tl.decode(data)
        if not self.authorised:
            log.warning("client %s: refused, its key is not one this proxy serves", self.where)
            raise RemoteError(PROTOVIOLATION, "client not authorised: this devnet proxy serves "
                                              "only its own client (its certificate key); use "
                                              "the devnet's OpenAI endpoint and its token")
        if isinstance(query, ct.ClientConnectToProxy) and self.state == "none":
            self.proto = _proto(query.params.flags, query.params.min_proto_version,
                                query.params.max_proto_version)
            self.owner = friendly(parse_address(query.params.client_owner_address,
                                                "client owner address"))
            self.state = "auth"
            p = self.proxy
            params = wt.ProxyParams(0, p.public_key, friendly(p.owner_address),
                                    friendly(p.sc_address), p.root_config.is_test,
                                    self.proto if self.proto > 0 else None)
            auth = ct.ClientAuthShort(hashlib.sha256(b"").digest(), 0)
            return ct.ClientConnectedToProxy(params, self.owner, auth,
                                             wt.SignedPaymentEmpty()).encode()
        if isinstance(query, ct.ClientAuthorizeShort | ct.ClientAuthorizeLong) \
                and self.state == "auth":
            self.state = "ok"  # the key was checked at the door; fake-TON: no payment needed
            return ct.ClientAuthorizationSuccess(wt.SignedPaymentEmpty(), 0, 0).encode()
        if isinstance(query, ct.ClientGetWorkerTypesV2) and self.state == "ok":
            return self._worker_types().encode()
        raise RemoteError(PROTOVIOLATION, f"unexpected {query.TL_NAME} in state '{self.state}'")

    def _worker_types(self) -> ct.ClientWorkerTypesV2:
        models: dict[str, list[ct.ClientWorkerInstanceV2]] = {}
        for line in self.proxy.lines:
            entry = models.setdefault(line.model_base, [])
            if not line.is_disabled:
                entry.append(ct.ClientWorkerInstanceV2(0, line.coefficient, line.running,
                                                       line.max_active_requests))
        return ct.ClientWorkerTypesV2([ct.ClientWorkerTypeV2(name, sorted(
            workers, key=lambda w: w.coefficient)) for name, workers in models.items()])

    async def on_packet(self, data: bytes) -> None:
        if self.state != "ok":
            log.error("client %s: message before authorisation, dropped", self.where)
            return
        message = tl.decode(data)
        if not isinstance(message, ct.ClientRunQueryEx):
            log.error("client %s: unexpected %s dropped", self.where, message.TL_NAME)
            return
        assert self.conn is not None
        relay = Relay(self.proxy, message, self.conn.send_packet, self.proto, self.owner)
        await relay.start()


async def accept_client(proxy: ProxyBook, stream: TlsStream, peer: PeerAttestation,
                        where: str) -> None:
    session = ClientSession(proxy, where,
                            authorised=peer.public_key in proxy.client_keys)
    session.conn = TlConnection(stream, is_client=False, name=f"client {where}",
                                on_query=session.on_query, on_packet=session.on_packet)
    await _hold(proxy, session.conn, "client", where)
