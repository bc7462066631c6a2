"""One `proxy.runQueryEx` served end to end (upstream runners/worker/WorkerRunningRequest.cpp).

Validate, forward to the engine with its bearer token, stream the answer back as
`proxy.queryAnswerEx` (the HTTP head) then `proxy.queryAnswerPartEx` parts, the last one with
`tokensUsed` in its final info; any failure becomes `proxy.queryAnswerErrorEx` with an upstream
error code. Peers on protocol version 0 get the older answer constructors. The engine's bytes
pass through as they are (only the usage chunk gains upstream's cost fields) and are joined
into fewer parts when the engine outpaces the link (`coalesce.PartCoalescer`: no byte waits
longer than `WorkerConfig.answer_part_hold_s`).

Nothing the proxy sends is trusted as it is: its numbers and HTTP head are checked first
(`validation`); a bad one is refused with `queryAnswerErrorEx` and a failed `RequestFinished`
at the worker's own coefficient, so no peer value ever reaches the ledger. The worker sets the
engine lane itself (`X-Cocoon-Lane: network`): a proxy cannot put its job in the chat lane.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import aiohttp

from cocoon_desktop.engine.api import LANE_HEADER, Lane
from cocoon_desktop.network import tl
from cocoon_desktop.network.errors import ERROR, NOTREADY, PROTOVIOLATION, TIMEOUT, RemoteError
from cocoon_desktop.network.tl.base import HttpHeader, HttpRequest, HttpResponse
from cocoon_desktop.network.tl.parts import PROXY_PART, encode_part
from cocoon_desktop.network.tl.worker import (
    ProxyQueryAnswer,
    ProxyQueryAnswerError,
    ProxyQueryAnswerErrorEx,
    ProxyQueryAnswerEx,
    ProxyQueryAnswerPart,
    ProxyQueryAnswerPartError,
    ProxyQueryAnswerPartEx,
    ProxyQueryFinalInfo,
    ProxyRunQueryEx,
)
from cocoon_desktop.network.worker.coalesce import PartCoalescer
from cocoon_desktop.network.worker.stats import WorkerStats
from cocoon_desktop.network.worker.tokens import TokenCounter
from cocoon_desktop.network.worker.types import RequestFinished, RequestStarted, WorkerConfig
from cocoon_desktop.network.worker.validation import (
    check_head,
    check_run_query,
    prescan_http_request,
    validate_request,
)

log = logging.getLogger(__name__)
DROPPED_HEADERS = {"content-length", "transfer-encoding", "connection", "host", "authorization",
                   "keep-alive", LANE_HEADER.lower()}
Emit = Callable[[object], None]


class AnswerLink(Protocol):
    """Where the answer goes (`proxy_link.ProxyLink`)."""

    def send_nowait(self, data: bytes) -> None: ...  # queue one message, in order

    async def drain(self) -> None: ...  # wait while the proxy reads slower than we send


class ProxyGone(Exception):
    """The answer cannot reach the proxy any more (its connection closed)."""


class RunningRequest:
    def __init__(self, req: ProxyRunQueryEx, *, proto_version: int, config: WorkerConfig,
                 session: aiohttp.ClientSession, link: AnswerLink, stats: WorkerStats,
                 proxy_key: str, emit: Emit) -> None:
        self.req = req
        self.request_id = req.request_id.hex()
        self._proto = proto_version
        self._config = config
        self._session = session
        self._link = link
        self._stats = stats
        self._proxy_key = proxy_key
        self._emit = emit
        root = config.root_config
        self._refusal: RemoteError | None = None
        try:
            check_run_query(req.coefficient, req.timeout)
        except RemoteError as exc:
            self._refusal = exc
        self._coefficient = config.coefficient if self._refusal else req.coefficient
        self._counter = TokenCounter(self._coefficient, root.multipliers, root.price_per_token)
        self._started_unix = time.time()
        self._started = datetime.now(UTC)
        self._sent_head = False
        self._debug = bool(req.enable_debug)

    async def run(self) -> None:
        self._stats.add("queries")
        self._emit(RequestStarted(self.request_id, self._proxy_key, self._config.model_base_name,
                                  self._started))
        error: str | None = None
        succeeded = False
        try:
            if self._refusal is not None:
                raise self._refusal
            async with asyncio.timeout(self.req.timeout):
                succeeded = await self._serve()
            if not succeeded:
                error = "the engine answered with an HTTP error"
        except RemoteError as exc:
            error = exc.message
            await self._send_error(exc.code, exc.message)
        except TimeoutError:
            error = "worker: timeout"
            await self._send_error(TIMEOUT, error)
        except aiohttp.ClientConnectorError as exc:
            error = f"worker: http failed: the engine is unreachable ({exc.os_error})"
            await self._send_error(NOTREADY, error)
        except aiohttp.ClientPayloadError:
            error = ("worker: http failed: the engine stopped in the middle of the answer (it "
                     "crashed or restarted); retry the request")
            await self._send_error(ERROR, error)
        except (aiohttp.ClientError, ConnectionError) as exc:
            error = f"worker: http failed: {type(exc).__name__}: {exc}"
            await self._send_error(ERROR, error)
        except ProxyGone:
            error = "the proxy connection closed"
        except asyncio.CancelledError:
            self._finish(False, "the proxy connection closed")
            raise
        except Exception as exc:  # a bug or an input nobody foresaw: answer, log, go on
            log.exception("request %s: unexpected failure", self.request_id[:16])
            error = f"worker: internal error ({type(exc).__name__}); the request was not served"
            await self._send_error(ERROR, error)
        if error:
            log.warning("request %s failed: %s", self.request_id[:16], error)
        self._finish(succeeded, error)

    async def _serve(self) -> bool:
        prescan_http_request(self.req.query, self._config.max_request_bytes)
        try:
            http_request = tl.decode_as(self.req.query, HttpRequest)
        except tl.TlError as exc:
            raise RemoteError(PROTOVIOLATION, f"worker: invalid http request: {exc}") from exc
        self._stats.add("bytes_received", len(http_request.payload))
        check_head(http_request.method, [(h.name, h.value) for h in http_request.headers])
        valid = validate_request(http_request.url, http_request.payload,
                                 self._config.max_request_bytes)
        if valid.model != self._config.model_base_name:
            raise RemoteError(PROTOVIOLATION, "worker: invalid http request: model name "
                              f"mismatch ('{valid.model}', this worker serves "
                              f"'{self._config.model_base_name}'; ask for that model)")
        headers = {h.name: h.value for h in http_request.headers
                   if h.name.lower() not in DROPPED_HEADERS}
        headers.setdefault("Content-Type", "application/json")
        headers[LANE_HEADER] = Lane.NETWORK.value
        engine = self._config.engine_endpoint()
        if engine is None:
            raise RemoteError(NOTREADY, "worker: the engine is not running (starting or "
                                        "restarting); try again shortly")
        headers.update(engine.auth_header)
        url = engine.base_url.rstrip("/") + valid.path
        async with self._session.request(http_request.method or "POST", url, data=valid.body,
                                         headers=headers) as resp:
            await self._send_head(resp)
            parts = PartCoalescer(self._queue_part, self._config.answer_part_hold_s)
            try:
                async for chunk in resp.content.iter_any():
                    parts.add(self._counter.feed(chunk))
                    await self._drain()
                await self._send_part(parts.take() + self._counter.finish(), final=True)
            finally:
                parts.close()
            return resp.status < 400

    async def _send_head(self, resp: aiohttp.ClientResponse) -> None:
        headers = [HttpHeader(k, v) for k, v in resp.headers.items()
                   if k.lower() not in DROPPED_HEADERS]
        headers += [HttpHeader("X-Cocoon-Worker-Start", f"{self._started_unix:.6f}"),
                    HttpHeader("X-Cocoon-Worker-End", f"{time.time():.6f}"),
                    HttpHeader("Transfer-Encoding", "chunked")]
        head = HttpResponse(f"HTTP/{resp.version.major}.{resp.version.minor}", resp.status,
                            resp.reason or "", headers, b"").encode()
        rid = self.req.request_id
        if self._proto == 0:
            message = ProxyQueryAnswer(head, False, rid, self._counter.usage()).encode()
        else:
            message = ProxyQueryAnswerEx(rid, head, 0, None).encode()
        self._queue(message)
        self._sent_head = True
        await self._drain()

    def _queue_part(self, data: bytes, final: bool = False) -> None:
        self._stats.add("bytes_sent", len(data))
        rid = self.req.request_id
        if self._proto == 0:
            message = ProxyQueryAnswerPart(data, final, rid, self._counter.usage()).encode()
        elif not final:  # every token's part: written directly
            message = encode_part(PROXY_PART, rid, data)
        else:
            message = ProxyQueryAnswerPartEx(rid, data, 0, self._final_info()).encode()
        self._queue(message)

    async def _send_part(self, data: bytes, final: bool) -> None:
        self._queue_part(data, final)
        await self._drain()

    def _queue(self, message: bytes) -> None:
        try:
            self._link.send_nowait(message)
        except (ConnectionError, OSError) as exc:
            raise ProxyGone(str(exc)) from exc

    async def _drain(self) -> None:
        try:
            await self._link.drain()
        except (ConnectionError, OSError) as exc:
            raise ProxyGone(str(exc)) from exc

    def _final_info(self) -> ProxyQueryFinalInfo:
        debug = None
        if self._debug:
            debug = json.dumps({"type": "worker_stats", "start_time": self._started_unix,
                                "answer_receive_end_at": time.time()})
        times = (self._started_unix, time.time()) if self._proto >= 2 else (None, None)
        return ProxyQueryFinalInfo(0, self._counter.usage(), debug, *times)

    async def _send_error(self, code: int, message: str) -> None:
        rid = self.req.request_id
        if self._proto == 0:
            cls = ProxyQueryAnswerPartError if self._sent_head else ProxyQueryAnswerError
            payload = cls(code, message, rid, self._counter.usage()).encode()
        else:
            payload = ProxyQueryAnswerErrorEx(rid, code, message, 0, self._final_info()).encode()
        try:
            self._link.send_nowait(payload)
            await self._link.drain()
        except (ConnectionError, OSError) as exc:
            log.info("request %s: could not report the error: %s", self.request_id[:16], exc)

    def _finish(self, succeeded: bool, error: str | None) -> None:
        adjusted = self._counter.adjusted
        stats = self._stats
        stats.add("success" if succeeded else "failed")
        stats.add("time", time.time() - self._started_unix)
        for name, value in (("total", adjusted.total), ("prompt", adjusted.prompt),
                            ("cached", adjusted.cached), ("completion", adjusted.completion),
                            ("reasoning", adjusted.reasoning)):
            stats.add(f"{name}_adjusted_tokens_used", value)
        self._emit(RequestFinished(
            self.request_id, self._proxy_key, self._config.model_base_name, succeeded, error,
            self._counter.counts, adjusted, self._coefficient,
            self._config.root_config.worker_fee_per_token, self._started, datetime.now(UTC)))
