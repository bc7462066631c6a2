"""A small async client for the engine's API, for the worker, the chat window and the benchmarks.

    async with EngineClient(supervisor.endpoint, lane=Lane.CHAT) as client:
        async for chunk in client.stream_chat({"model": ..., "messages": [...]}):
            ...

Errors are explicit, never silence or a hang:
- `EngineUnavailable`: the engine is not running, is loading or stopping, or died while answering
  (the connection dropped, or a stream ended without `data: [DONE]`).
- `EngineBusy` (an `EngineRequestError`, status 503): the queue is full; `retry_after_s` says when
  to try again.
- `EngineRequestError`: the engine refused the request (4xx) or failed it; `.status`, `.code` and
  the engine's message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import aiohttp

from cocoon_desktop.engine.api import LANE_HEADER, Lane
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineEndpoint

CONNECT_TIMEOUT_S = 5.0
UNAVAILABLE_CODES = {"engine_loading", "engine_stopping", "engine_failed"}


class EngineError(Exception):
    """Base of the client's errors; the text is meant for people."""


class EngineUnavailable(EngineError):
    """The engine cannot answer now: not running, starting, stopping, or it died mid-request."""


class EngineRequestError(EngineError):
    def __init__(self, status: int, message: str, *, code: str | None = None,
                 error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.error_type = error_type


class EngineBusy(EngineRequestError):
    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(503, message, code="queue_full", error_type="server_error")
        self.retry_after_s = retry_after_s


class EngineClient:
    """One aiohttp session to one engine launch (its endpoint changes with every launch)."""

    def __init__(self, endpoint: EngineEndpoint, *, lane: Lane = Lane.NETWORK,
                 read_timeout_s: float | None = None) -> None:
        self.endpoint = endpoint
        self.lane = lane
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S,
                                              sock_read=read_timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                base_url=self.endpoint.base_url, timeout=self._timeout,
                headers={**self.endpoint.auth_header, LANE_HEADER: self.lane.value})
        return self._session

    async def status(self, *, timeout_s: float | None = None) -> EngineStats:
        data = await self._get_json("/v1/engine/status", timeout_s)
        try:
            return EngineStats.from_json(data)
        except ValueError as exc:
            raise EngineUnavailable(f"The engine answered with an unreadable status: {exc}.") \
                from None

    async def models(self) -> list[dict[str, Any]]:
        return list((await self._get_json("/v1/models", None)).get("data", []))

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        """A whole chat completion (`stream` is forced off)."""
        return await self._post_json("/v1/chat/completions", {**body, "stream": False})

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/v1/completions", {**body, "stream": False})

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The chunks of a streamed chat completion, ending with the usage chunk."""
        return self._stream("/v1/chat/completions", body)

    def stream_complete(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._stream("/v1/completions", body)

    async def _get_json(self, path: str, timeout_s: float | None) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        try:
            async with self._http().get(path, timeout=timeout) as response:
                return await _json_or_raise(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unavailable(exc) from None

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._http().post(path, json=body) as response:
                return await _json_or_raise(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unavailable(exc) from None

    async def _stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = {**body, "stream": True,
                "stream_options": {**body.get("stream_options", {}), "include_usage": True}}
        try:
            async with self._http().post(path, json=body) as response:
                if response.status != 200:
                    await _json_or_raise(response)
                async for payload in _sse_payloads(response):
                    yield payload
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _unavailable(exc) from None


async def _sse_payloads(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream; raises unless it ends with [DONE]."""
    async for raw_line in response.content:
        line = raw_line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        try:
            payload = json.loads(data)
        except ValueError:
            raise EngineUnavailable("The engine sent an unreadable stream event.") from None
        if "error" in payload:
            raise _error_from_body(500, payload)
        yield payload
    raise EngineUnavailable("The engine stopped in the middle of the answer (it crashed or was "
                            "stopped). Retry when it is running again.")


async def _json_or_raise(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except (ValueError, aiohttp.ContentTypeError):
        data = {}
    if response.status == 200 and isinstance(data, dict):
        return data
    if response.status == 503 and _code(data) == "queue_full":
        retry_after = response.headers.get("Retry-After", "1")
        raise EngineBusy(_message(data, response.status),
                         float(retry_after) if retry_after.isdigit() else 1.0)
    raise _error_from_body(response.status, data)


def _error_from_body(status: int, data: Any) -> EngineError:
    code = _code(data)
    if code in UNAVAILABLE_CODES:
        return EngineUnavailable(_message(data, status))
    error = data.get("error") if isinstance(data, dict) else None
    error_type = error.get("type") if isinstance(error, dict) else None
    return EngineRequestError(status, _message(data, status), code=code, error_type=error_type)


def _code(data: Any) -> str | None:
    error = data.get("error") if isinstance(data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _message(data: Any, status: int) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return f"The engine answered HTTP {status} without an explanation."


def _unavailable(exc: BaseException) -> EngineUnavailable:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return EngineUnavailable("The engine is not running (nothing answers at its address). "
                                 "Start it, or wait until it is ready.")
    if isinstance(exc, TimeoutError):
        return EngineUnavailable("The engine did not answer in time. It may be overloaded or "
                                 "stuck; the app restarts it when it stops responding.")
    return EngineUnavailable("The connection to the engine broke while it was answering (it "
                             f"crashed or was stopped: {type(exc).__name__}). Retry when it is "
                             "running again.")
