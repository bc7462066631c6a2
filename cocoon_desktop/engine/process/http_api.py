"""The engine's OpenAI-compatible HTTP API (aiohttp), served on a loopback socket.

Routes (every one needs `Authorization: Bearer <per-launch token>`):
  GET  /v1/models            the loaded model
  POST /v1/chat/completions  chat, streamed (server-sent events) or not
  POST /v1/completions       plain text completion, streamed or not
  GET  /v1/engine/status     capacity, load, throughput, GPU offload, sandbox (`EngineStats`)

Errors are always OpenAI's `{"error": {...}}` JSON. The app runs with aiohttp's handler
cancellation on, so a client that disconnects cancels its handler at once, and the handler's
exit cancels the generation (within one decode step) or its place in the queue.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from cocoon_desktop.engine.api import LANE_HEADER, MAX_BODY_BYTES, ApiError, Lane
from cocoon_desktop.engine.process.direct_stream import DirectStream
from cocoon_desktop.engine.process.generation import Generation
from cocoon_desktop.engine.process.inference_types import GenerationFinished
from cocoon_desktop.engine.process.openai_api import (
    ApiRequest,
    Endpoint,
    ServedModel,
    decode_json_body,
    parse_request,
)
from cocoon_desktop.engine.process.openai_format import (
    SSE_DONE,
    ResponseFormatter,
    Usage,
    sse_event,
)
from cocoon_desktop.engine.process.service import ENGINE_STOPPING, EngineService

log = logging.getLogger(__name__)
SERVICE_KEY = web.AppKey("service", EngineService)
TOKEN_KEY = web.AppKey("token", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(service: EngineService, token: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES,
                          middlewares=[_errors_middleware, _auth_middleware])
    app[SERVICE_KEY] = service
    app[TOKEN_KEY] = token
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/v1/engine/status", _status)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/completions", _completions)
    return app


def error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers)


@web.middleware
async def _errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        return error_response(_http_error(exc, request))


@web.middleware
async def _auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    expected = request.app[TOKEN_KEY]
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(),
                                                             expected.encode()):
        what = "no bearer token" if not header else "a wrong bearer token"
        raise ApiError(401, f"The request carries {what}. Send 'Authorization: Bearer <token>' "
                       "with the engine's per-launch token (the app's engine status shows where "
                       "it is; it changes every time the engine starts).",
                       type="authentication_error", code="invalid_api_key")
    return await handler(request)


def _http_error(exc: web.HTTPException, request: web.Request) -> ApiError:
    if exc.status == 404:
        return ApiError(404, f"There is no {request.path} here. The engine serves /v1/models, "
                        "/v1/chat/completions, /v1/completions and /v1/engine/status.",
                        code="not_found")
    if exc.status == 405:
        return ApiError(405, f"{request.method} is not allowed on {request.path}.",
                        code="method_not_allowed")
    if exc.status == 413:
        return ApiError(413, f"The request body is larger than {MAX_BODY_BYTES // 2**20} MiB. "
                        "Send a shorter prompt.", code="request_too_large")
    return ApiError(exc.status, exc.reason, code="http_error")


async def _models(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    served = ServedModel(service.settings.model_name)
    stats = service.stats()
    model = {
        "id": served.base_name, "object": "model", "created": 0, "owned_by": "cocoon-desktop",
        "cocoon_name": served.cocoon_name,
        "context_length": stats.context_tokens_per_sequence or None,
        "max_completion_tokens": service.settings.max_completion_tokens,
    }
    return web.json_response({"object": "list", "data": [model]})


async def _status(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE_KEY].stats().to_json())


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    return await _complete(request, Endpoint.CHAT)


async def _completions(request: web.Request) -> web.StreamResponse:
    return await _complete(request, Endpoint.COMPLETION)


async def _complete(request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
    service = request.app[SERVICE_KEY]
    service.check_accepting()
    lane = _lane(request)
    body = decode_json_body(await _read_body(request))
    api = parse_request(endpoint, body, ServedModel(service.settings.model_name),
                        service.settings.max_completion_tokens)
    prepared = await service.prepare(api)
    formatter = ResponseFormatter(api)
    async with service.generation(prepared, lane) as gen:
        if api.stream:
            return await _stream(request, api, gen, formatter)
        return await _collect(gen, formatter)


async def _read_body(request: web.Request) -> bytes:
    if request.content_type != "application/json":
        raise ApiError(415, f"The request's Content-Type is '{request.content_type}'. Send the "
                       "body as JSON with 'Content-Type: application/json'.",
                       code="unsupported_media_type")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _http_error(exc, request) from None


def _lane(request: web.Request) -> Lane:
    value = request.headers.get(LANE_HEADER, Lane.NETWORK.value).strip().lower()
    try:
        return Lane(value)
    except ValueError:
        raise ApiError(400, f"Unknown {LANE_HEADER} '{value}': use 'chat' or 'network' (or leave "
                       "the header out).", code="invalid_lane") from None


def _usage(event: GenerationFinished) -> Usage:
    return Usage(event.prompt_tokens, event.completion_tokens, event.cached_tokens)


def _generation_error(event: GenerationFinished) -> ApiError:
    if event.error == ENGINE_STOPPING:
        return ApiError(503, "The engine stopped while answering. Retry when it is running "
                        "again.", type="server_error", code="engine_stopping")
    return ApiError(500, f"Generation failed in the engine: {event.error}. Retry the request; "
                    "if it keeps failing, restart the engine from the app.",
                    type="server_error", code="generation_failed")


async def _collect(gen: Generation, formatter: ResponseFormatter) -> web.Response:
    parts: list[str] = []
    async for event in gen:
        if isinstance(event, GenerationFinished):
            if event.finish_reason == "error":
                raise _generation_error(event)
            text = "".join(parts)
            return web.json_response(formatter.full_response(text, event.finish_reason,
                                                             _usage(event)))
        parts.append(event.text)
    raise ApiError(500, "The generation ended without a result.", type="server_error")


async def _stream(request: web.Request, api: ApiRequest, gen: Generation,
                  formatter: ResponseFormatter) -> web.StreamResponse:
    try:
        return await _write_stream(request, api, gen, formatter)
    except ConnectionResetError:
        # The client left; leaving `service.generation` cancels the generation.
        log.debug("client closed the stream")
        return web.Response(status=499)


async def _write_stream(request: web.Request, api: ApiRequest, gen: Generation,
                        formatter: ResponseFormatter) -> web.StreamResponse:
    response: web.StreamResponse | None = None
    try:
        async for event in gen:
            if response is None:
                # Headers go out with the first event: an early failure is still a plain error.
                if isinstance(event, GenerationFinished) and event.finish_reason == "error":
                    raise _generation_error(event)
                response = await _open_stream(request, formatter)
                # From now on the decode thread may write text deltas itself (direct_stream.py).
                chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
                gen.direct = DirectStream.open(request.transport, formatter.text_event, chunked)
            if isinstance(event, bytes):  # the rest of a delta the decode thread wrote in part
                _write_raw(request, event)
                gen.written += 1
                continue
            if not isinstance(event, GenerationFinished):
                if event.text:
                    await response.write(formatter.text_event(event.text))
                gen.written += 1
                continue
            if event.finish_reason == "error":
                await response.write(sse_event(_generation_error(event).body()))
            else:
                await response.write(sse_event(formatter.finish_chunk(event.finish_reason)))
                if api.include_usage:
                    await response.write(sse_event(formatter.usage_chunk(_usage(event))))
            await response.write(SSE_DONE)
            await response.write_eof()
            return response
    finally:
        direct, gen.direct = gen.direct, None
        if direct is not None:
            direct.close()
    raise ApiError(500, "The generation ended without a result.", type="server_error")


def _write_raw(request: web.Request, data: bytes) -> None:
    """Bytes already framed as the response frames them (the rest of a direct write)."""
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client closed the stream")
    transport.write(data)


async def _open_stream(request: web.Request, formatter: ResponseFormatter
                       ) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    opening = formatter.opening_chunk()
    if opening is not None:
        await response.write(sse_event(opening))
    return response
