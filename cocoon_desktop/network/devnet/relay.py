"""One client request through the devnet proxy (upstream ProxyRunningRequest).

Forward `proxy.runQueryEx` to the chosen worker, relay its answer parts to the client as
`client.queryAnswerEx` / `…PartEx` / `…ErrorEx` (older constructors for version-0 peers), and at
the end meter the worker's `tokensUsed`: the worker's cumulative statement is re-signed and sent
(`proxy.workerRequestPayment`), and the client gets `proxy.clientRequestPayment`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cocoon_desktop.network import tl
from cocoon_desktop.network.devnet.book import ProxyBook, WorkerLine
from cocoon_desktop.network.errors import PROTOVIOLATION, TIMEOUT, RemoteError
from cocoon_desktop.network.tl import client as ct
from cocoon_desktop.network.tl import worker as wt
from cocoon_desktop.network.tl.base import HttpHeader, HttpResponse, TokensUsed
from cocoon_desktop.network.tl.parts import CLIENT_PART, encode_part

log = logging.getLogger(__name__)
Send = Callable[[bytes], Awaitable[None]]


class Relay:
    def __init__(self, proxy: ProxyBook, req: ct.ClientRunQueryEx, send_client: Send,
                 client_proto: int, client_owner: str) -> None:
        self.proxy = proxy
        self.req = req
        self.send_client = send_client
        self.client_proto = client_proto
        self.client_owner = client_owner
        self.worker_request_id = secrets.token_bytes(32)
        self.line: WorkerLine | None = None
        self.sent_head = False
        self.done = False
        self.started = time.time()
        self.tokens = TokensUsed()
        self._timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        try:
            self.line = self.proxy.choose(self.req.model_name, self.req.max_coefficient)
        except RemoteError as exc:
            await self._send_client(ct.ClientQueryAnswerError(
                exc.code, exc.message, self.req.request_id, TokensUsed()))
            self.done = True
            return
        line = self.line
        line.running += 1
        line.account.running += 1
        line.relays[self.worker_request_id] = self
        payment = wt.SignedPayment(line.account.statement)
        timeout = self.req.timeout * 0.95
        if line.proto_version > 0:
            message: tl.TlObject = wt.ProxyRunQueryEx(
                self.req.query, payment, line.coefficient, timeout, self.worker_request_id, 0,
                self.req.enable_debug)
        else:
            message = wt.ProxyRunQuery(self.req.query, payment, line.coefficient, timeout,
                                       self.worker_request_id)
        self._timer = asyncio.get_running_loop().call_later(self.req.timeout, self._timed_out)
        try:
            await line.send(message.encode())  # type: ignore[operator]
        except ConnectionError as exc:
            await self.fail(TIMEOUT, f"the worker is unreachable: {exc}")

    def _timed_out(self) -> None:
        if not self.done and not self.proxy.tasks.closed:
            self.proxy.tasks.spawn(self.fail(TIMEOUT, "proxy: timeout waiting for the worker"),
                                   name="devnet request timeout")

    async def _send_client(self, message: tl.TlObject) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.send_client(message.encode())

    def _client_final(self, info: wt.ProxyQueryFinalInfo | None) -> ct.ClientQueryFinalInfo:
        times: tuple[Any, ...] = (None,) * 4
        if self.client_proto >= 2:
            times = (self.started, time.time(), info.worker_start_time if info else 0.0,
                     info.worker_end_time if info else 0.0)
        return ct.ClientQueryFinalInfo(0, self.tokens, None, None, *times)

    async def from_worker(self, message: tl.TlObject) -> None:
        """Relay one worker answer object (any protocol version) to the client."""
        if self.done:
            return
        if isinstance(message, wt.ProxyQueryAnswer | wt.ProxyQueryAnswerPart):
            final = wt.ProxyQueryFinalInfo(0, message.tokens_used) \
                if message.is_completed else None
            cls = wt.ProxyQueryAnswerEx if isinstance(message, wt.ProxyQueryAnswer) \
                else wt.ProxyQueryAnswerPartEx
            message = cls(message.request_id, message.answer, 0, final)
        elif isinstance(message, wt.ProxyQueryAnswerError | wt.ProxyQueryAnswerPartError):
            message = wt.ProxyQueryAnswerErrorEx(message.request_id, message.error_code,
                                                 message.error, 0,
                                                 wt.ProxyQueryFinalInfo(0, message.tokens_used))
        if isinstance(message, wt.ProxyQueryAnswerErrorEx):
            if message.final_info is not None:
                self.tokens = message.final_info.tokens_used
            await self.fail(message.error_code, message.error, message.final_info)
            return
        if isinstance(message, wt.ProxyQueryAnswerEx) == self.sent_head:
            await self.fail(PROTOVIOLATION, "proxy: out of order answer parts from the worker")
            return
        completed = message.final_info is not None  # type: ignore[union-attr]
        if completed:
            self.tokens = message.final_info.tokens_used  # type: ignore[union-attr]
        await self._relay(message, completed)
        if completed:
            await self._finish(True)

    async def forward_part(self, answer: bytes) -> None:
        """Relay a worker's answer part that is neither the head nor the last one (what
        `from_worker` does with it, without building the objects)."""
        if self.done:
            return
        rid = self.req.request_id
        if self.client_proto == 0:
            await self._send_client(ct.ClientQueryAnswerPart(answer, False, rid, self.tokens))
            return
        with contextlib.suppress(ConnectionError, OSError):
            await self.send_client(encode_part(CLIENT_PART, rid, answer))

    async def _relay(self, message: Any, completed: bool) -> None:
        final = self._client_final(message.final_info) if completed else None
        rid = self.req.request_id
        if isinstance(message, wt.ProxyQueryAnswerEx):
            self.sent_head = True
            head = tl.decode_as(message.answer, HttpResponse)
            head = HttpResponse(head.http_version, head.status_code, head.reason, [
                *head.headers, HttpHeader("X-Cocoon-Proxy-Start", f"{self.started:.6f}"),
                HttpHeader("X-Cocoon-Proxy-End", f"{time.time():.6f}")], head.payload).encode()
            if self.client_proto == 0:
                out: tl.TlObject = ct.ClientQueryAnswer(head, completed, rid, self.tokens)
            else:
                out = ct.ClientQueryAnswerEx(rid, head, 0, final)
        elif self.client_proto == 0:
            out = ct.ClientQueryAnswerPart(message.answer, completed, rid, self.tokens)
        else:
            out = ct.ClientQueryAnswerPartEx(rid, message.answer, 0, final)
        await self._send_client(out)

    async def fail(self, code: int, error: str,
                   info: wt.ProxyQueryFinalInfo | None = None) -> None:
        if self.done:
            return
        rid = self.req.request_id
        if self.client_proto > 0:
            out: tl.TlObject = ct.ClientQueryAnswerErrorEx(rid, code, error, 0,
                                                           self._client_final(info))
        elif self.sent_head:
            out = ct.ClientQueryAnswerPartError(code, error, rid, self.tokens)
        else:
            out = ct.ClientQueryAnswerError(code, error, rid, self.tokens)
        log.warning("request %s failed: %s (code %d)", rid.hex()[:16], error, code)
        await self._send_client(out)
        await self._finish(False)

    async def _finish(self, succeeded: bool) -> None:
        self.done = True
        if self._timer is not None:
            self._timer.cancel()
        line = self.line
        assert line is not None
        line.relays.pop(self.worker_request_id, None)
        line.finished(time.time() - self.started)
        total = self.tokens.total_tokens_used
        payment = self.proxy.meter(line, total)
        account = line.account
        log.info("request %s %s: %d adjusted tokens, worker earns %d nanoTON",
                 self.req.request_id.hex()[:16], "done" if succeeded else "failed", total,
                 total * self.proxy.root_config.worker_fee_per_token)
        with contextlib.suppress(ConnectionError, OSError):
            await line.send(wt.ProxyWorkerRequestPayment(  # type: ignore[operator]
                self.worker_request_id, payment, account.tokens, account.tokens, total,
                self.client_owner).encode())
        await self._send_client(wt.ProxyClientRequestPayment(
            self.req.request_id, wt.SignedPaymentEmpty(), total, total, total))
