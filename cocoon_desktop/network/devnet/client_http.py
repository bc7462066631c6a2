"""The devnet client's OpenAI-compatible HTTP endpoint (loopback, bearer token)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging

from aiohttp import web

from cocoon_desktop.network.devnet.client import (
    HOP_BY_HOP,
    MAX_BODY_BYTES,
    DevnetClient,
    End,
    Event,
    Failed,
    Head,
    Part,
    error_response,
    http_status,
    parse_body,
)
from cocoon_desktop.network.errors import RemoteError

log = logging.getLogger(__name__)
PATHS = ("/v1/chat/completions", "/v1/completions")
CLIENT_KEY = web.AppKey("client", DevnetClient)


def build_app(client: DevnetClient, token: str) -> web.Application:
    @web.middleware
    async def require_token(request: web.Request, handler):  # type: ignore[no-untyped-def]
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return error_response(401, "missing or wrong bearer token: send "
                                       "'Authorization: Bearer <token>' (printed at start-up)")
        return await handler(request)

    app = web.Application(middlewares=[require_token], client_max_size=MAX_BODY_BYTES)
    app[CLIENT_KEY] = client
    for path in PATHS:
        app.router.add_post(path, _completions)
    app.router.add_get("/v1/models", _models)
    return app


async def _models(request: web.Request) -> web.Response:
    client = request.app[CLIENT_KEY]
    try:
        types = await client.models()
    except (ConnectionError, OSError, TimeoutError, RemoteError) as exc:
        return error_response(502, f"the devnet proxy is unreachable: {exc}; is the devnet "
                                   "still running?")
    data = [{"id": t.name, "object": "model", "owned_by": "cocoon-devnet",
             "workers": len(t.workers)} for t in types]
    return web.json_response({"object": "list", "data": data})


async def _completions(request: web.Request) -> web.StreamResponse:
    client = request.app[CLIENT_KEY]
    try:
        body, options = parse_body(await request.read())
        request_id, queue = await client.query(
            str(body["model"]), request.path, body,
            max_coefficient=int(options.get("max_coefficient", 4000)),  # type: ignore[call-overload]
            max_tokens=int(options["max_tokens"]),  # type: ignore[call-overload]
            timeout_s=float(options.get("timeout", 120)),  # type: ignore[arg-type]
            enable_debug=bool(options.get("enable_debug", False)))
    except RemoteError as exc:
        return error_response(exc.code if exc.code < 600 else 502, exc.message)
    except (ConnectionError, OSError, TimeoutError) as exc:
        return error_response(502, f"the devnet proxy is unreachable: {exc}; is the devnet "
                                   "still running?")
    try:
        return await _stream(request, queue)
    finally:
        client.done(request_id)


async def _stream(request: web.Request, queue: asyncio.Queue) -> web.StreamResponse:
    """The answer as it comes. Its status goes out with its first bytes: until then a failure
    (the proxy vanished, the worker gave up) is a plain error response with a JSON body that
    says what happened, never a 200 followed by nothing. After them a failure can only be
    told inside the stream, which then breaks off."""
    event = await queue.get()
    if isinstance(event, Failed):
        return error_response(http_status(event.code), event.message, event.code)
    assert isinstance(event, Head)
    head, first = event, None
    if not head.payload:
        first = await queue.get()
        while isinstance(first, Part) and not first.data:
            first = await queue.get()
        if isinstance(first, Failed):
            return error_response(http_status(first.code), first.message, first.code)
    response = web.StreamResponse(status=head.status, reason=head.reason)
    for header in head.headers:
        if header.name.lower() not in HOP_BY_HOP:
            response.headers.add(header.name, header.value)
    await response.prepare(request)
    if head.payload:
        await response.write(head.payload)
    return await _relay(request, response, queue, first)


async def _relay(request: web.Request, response: web.StreamResponse, queue: asyncio.Queue,
                 event: Event | None) -> web.StreamResponse:
    while True:
        if isinstance(event, Part):
            if event.data:
                await response.write(event.data)
        elif isinstance(event, End):
            await response.write_eof()
            return response
        elif isinstance(event, Failed):
            log.warning("request failed mid-answer: %s", event.message)
            error = {"error": {"message": event.message, "code": event.code}}
            await response.write(b"\n\ndata: " + json.dumps(error).encode() + b"\n\n")
            # End the connection without the final chunk, so the caller sees a broken answer.
            if request.transport is not None:
                request.transport.close()
            return response
        event = await queue.get()
