"""The devnet client: a Cocoon client session to the proxy, behind an OpenAI-style endpoint.

Like upstream's client runner (runners/client/ClientRunningRequest.cpp) it takes
`max_coefficient` (default 4000), `timeout` (default 120 s) and `enable_debug` out of the JSON
body, wraps the request as `http.request` in `client.runQueryEx`, and streams the answer parts
back as they come. It listens on loopback only and wants `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass

from aiohttp import web

from cocoon_desktop.core.tasks import TaskSet
from cocoon_desktop.network import tl
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.connection import TlConnection
from cocoon_desktop.network.errors import NOTREADY, TIMEOUT, ConnectionClosed, RemoteError
from cocoon_desktop.network.ratls import RaTlsIdentity
from cocoon_desktop.network.tl import client as ct
from cocoon_desktop.network.tl import worker as wt
from cocoon_desktop.network.tl.base import HttpHeader, HttpRequest, HttpResponse, TokensUsed
from cocoon_desktop.network.tl.parts import CLIENT_PART, read_part
from cocoon_desktop.network.transport import Endpoint, connect

log = logging.getLogger(__name__)
HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
MAX_BODY_BYTES = 4 << 20
PROTO_VERSION = 2


@dataclass(frozen=True)
class Head:
    status: int
    reason: str
    headers: list[HttpHeader]
    payload: bytes


@dataclass(frozen=True)
class Part:
    data: bytes


@dataclass(frozen=True)
class End:
    tokens: TokensUsed


@dataclass(frozen=True)
class Failed:
    code: int
    message: str


Event = Head | Part | End | Failed


class DevnetClient:
    def __init__(self, proxy: Endpoint, identity: RaTlsIdentity, policy: AttestationPolicy,
                 owner_address: str) -> None:
        self.proxy = proxy
        self.identity = identity
        self.policy = policy
        self.owner_address = owner_address
        self.conn: TlConnection | None = None
        self._queues: dict[bytes, asyncio.Queue[Event]] = {}
        self._watchers: dict[bytes, asyncio.Task[None]] = {}
        self._tasks = TaskSet("devnet client")  # the watchers above, owned until they end
        self._stopped = False
        self.charged: dict[bytes, int] = {}  # request id -> adjusted tokens the proxy billed
        self._lock = asyncio.Lock()

    async def ensure_connected(self) -> TlConnection:
        async with self._lock:
            if self._stopped:
                raise ConnectionClosed("the devnet client has stopped; start the devnet again")
            if self.conn is not None and not self.conn.closed.is_set():
                return self.conn
            self.conn, _ = await connect(self.proxy, self.identity, self.policy,
                                         name=f"proxy {self.proxy} (client)",
                                         on_packet=self._on_packet)
            params = ct.ClientParams(0, self.owner_address, True, PROTO_VERSION, PROTO_VERSION)
            answer = tl.decode_as(await self.conn.query(
                ct.ClientConnectToProxy(params, 0).encode(), 30), ct.ClientConnectedToProxy)
            if not answer.params.flags & 3:
                raise ConnectionClosed("the proxy is too old for this client; update the "
                                       "devnet")
            auth = tl.decode(await self.conn.query(ct.ClientAuthorizeLong().encode(), 30))
            if isinstance(auth, ct.ClientAuthorizationFailed):
                raise ConnectionClosed(f"the proxy refused us: {auth.error}")
            return self.conn

    async def stop(self) -> None:
        """End the proxy session: requests in flight fail with the reason, and no new one
        starts (their watchers are awaited, nothing is left pending)."""
        async with self._lock:
            self._stopped = True  # no reconnect after this
        if self.conn is not None:
            await self.conn.close("the devnet client stopped")
        await self._tasks.close()
        self._watchers.clear()

    async def models(self) -> list[ct.ClientWorkerTypeV2]:
        conn = await self.ensure_connected()
        answer = await conn.query(ct.ClientGetWorkerTypesV2().encode(), 30)
        return tl.decode_as(answer, ct.ClientWorkerTypesV2).types

    async def _on_packet(self, data: bytes) -> None:
        part = read_part(CLIENT_PART, data)  # the common case, every token: read directly
        if part is not None and part[0] in self._queues:
            self._queues[part[0]].put_nowait(Part(part[1]))
            return
        message = tl.decode(data)
        if isinstance(message, wt.ProxyClientRequestPayment):
            self.charged[message.request_id] = message.request_tokens
            return
        queue = self._queues.get(getattr(message, "request_id", b""))
        if queue is None:
            log.info("answer for an unknown or finished request dropped")
            return
        for event in _events(message):
            queue.put_nowait(event)

    async def query(self, model: str, path: str, body: dict[str, object], *,
                    max_coefficient: int = 4000, max_tokens: int = 1000, timeout_s: float = 120,
                    enable_debug: bool = False) -> tuple[bytes, asyncio.Queue[Event]]:
        """Send one request; returns its id and the queue its events arrive on."""
        conn = await self.ensure_connected()
        request_id = secrets.token_bytes(32)
        payload = json.dumps(body).encode()
        http = HttpRequest("POST", path, "HTTP/1.1", [
            HttpHeader("Content-Type", "application/json"),
            HttpHeader("Content-Length", str(len(payload)))], payload)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues[request_id] = queue
        message = ct.ClientRunQueryEx(model, http.encode(), max_coefficient, max_tokens,
                                      timeout_s * 0.95, request_id, 0, 0, enable_debug or None)
        await conn.send_packet(message.encode())
        self._watchers[request_id] = self._tasks.spawn(
            self._watch(conn, request_id, timeout_s), name="devnet request watcher")
        return request_id, queue

    async def _watch(self, conn: TlConnection, request_id: bytes, timeout_s: float) -> None:
        """Fail the request if the proxy connection drops, the client stops, or nothing
        completes it in time (a finished request's watcher is cancelled after `done()`)."""
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.closed.wait(), timeout_s)
        finally:
            queue = self._queues.get(request_id)
            if queue is not None:
                if conn.closed.is_set():
                    failed = Failed(NOTREADY, "the connection to the devnet proxy closed "
                                    f"before the answer was complete ({conn.close_reason}); "
                                    "send the request again once the devnet runs")
                elif self._stopped:
                    failed = Failed(NOTREADY, "the devnet client stopped before the answer "
                                    "was complete; start the devnet and send the request again")
                else:
                    failed = Failed(TIMEOUT, "client: timeout")
                queue.put_nowait(failed)

    def done(self, request_id: bytes) -> None:
        self._queues.pop(request_id, None)
        watcher = self._watchers.pop(request_id, None)
        if watcher is not None:
            watcher.cancel()


def _events(message: tl.TlObject) -> list[Event]:
    if isinstance(message, ct.ClientQueryAnswerEx | ct.ClientQueryAnswer):
        head = tl.decode_as(message.answer, HttpResponse)
        out: list[Event] = [Head(head.status_code, head.reason, head.headers, head.payload)]
    elif isinstance(message, ct.ClientQueryAnswerPartEx | ct.ClientQueryAnswerPart):
        out = [Part(message.answer)]
    elif isinstance(message, ct.ClientQueryAnswerErrorEx | ct.ClientQueryAnswerError
                    | ct.ClientQueryAnswerPartError):
        return [Failed(message.error_code, message.error)]
    else:
        return []
    final = getattr(message, "final_info", None)
    if final is not None:
        out.append(End(final.tokens_used))
    elif getattr(message, "is_completed", False):
        out.append(End(message.request_tokens_used))  # type: ignore[attr-defined]
    return out


def http_status(code: int) -> int:
    """Upstream's mapping of a Cocoon error code to the client's HTTP status."""
    return {TIMEOUT: 504, NOTREADY: 502}.get(code, 500)


def error_response(status: int, message: str, code: int | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "cocoon_error", "code": code}}
    return web.json_response(body, status=status)


def parse_body(raw: bytes) -> tuple[dict[str, object], dict[str, object]]:
    """Split the client's JSON into the request body and the Cocoon options it carries."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise RemoteError(400, "the request body is not JSON; send an OpenAI-style JSON "
                               "object") from exc
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise RemoteError(400, "the request body must be a JSON object with a 'model' string")
    options: dict[str, object] = {"max_tokens": 1000}
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RemoteError(400, f"'{key}' must be a non-negative integer")
            options["max_tokens"] = value
    for key, kind in (("max_coefficient", int), ("timeout", (int, float)),
                      ("enable_debug", bool)):
        if key in body:
            value = body.pop(key)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                wanted = {"max_coefficient": "an integer", "timeout": "a number of seconds",
                          "enable_debug": "true or false"}[key]
                raise RemoteError(400, f"'{key}' has the wrong type: send {wanted}")
            options[key] = value
    body.pop("request_guid", None)
    return body, options
