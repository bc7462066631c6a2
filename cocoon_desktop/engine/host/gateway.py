"""A loopback-only door to the engine, without a token, for upstream's worker runner (opt-in).

Upstream Cocoon's worker runner forwards each job to `forward_requests_to` (127.0.0.1:8000 by
default) as plain HTTP with the proxy's headers and no Authorization header
(runners/worker/WorkerRunningRequest.cpp). Our engine wants its per-launch bearer token, so the
runner cannot use it directly. `UpstreamGateway` listens on a loopback address only, takes the
engine's three OpenAI routes without a token and forwards each request to the engine's current
endpoint (port and token change at every launch) with the token added. Answers stream through
as they come (nothing is buffered); a client that disconnects closes the engine connection,
which cancels the generation within one decode step.

The price: every program and every user of this machine can use the engine through it. It is
off unless asked for (rig key `engine.upstream_gateway_port`, `serve --upstream-gateway PORT`)
and says so in the log when it opens.

Who is there: a web page in the user's browser can reach a loopback port by DNS rebinding (its
own name resolving to 127.0.0.1). Such a request names the page's host in `Host` and carries
the browser's `Origin` / `Sec-Fetch-*` headers; the gateway refuses it (403). It cannot demand a
loopback `Host` outright: upstream's runner forwards the headers of the original client request,
`Host` included. Every job is put in the network lane: a `X-Cocoon-Lane` from the proxy is
dropped, so a network job never takes the chat's place.

What upstream's runner expects of the answer (`WorkerRunningRequest::send_answer`, b75d444): it
drops the engine's `content-length`, `transfer-encoding` and `connection` headers only when they
are spelled in lower case (its comparison is case-sensitive), then appends the cost fields to
the body and adds its own `Content-Length` or `Transfer-Encoding`. So the gateway sends those
three in lower case, as vLLM and SGLang do; a `Content-Length` would reach the client beside
upstream's own and the answer would be cut. Streamed answers through upstream's runner count 0
tokens whatever the engine (upstream's `ByteTokenCounter` reads bare JSON values and cannot parse
SSE): the user is then paid nothing for them. The project's own worker (`network.worker`)
counts streams right; prefer it.

    gateway = UpstreamGateway(lambda: node.engine.endpoint, port=8000)
    await gateway.start()      # GatewayError: not loopback, or the port is taken
    ...
    await gateway.stop()
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from contextlib import suppress

import aiohttp
from aiohttp import web

from cocoon_desktop.engine.api import LANE_HEADER, MAX_BODY_BYTES, ApiError, Lane
from cocoon_desktop.engine.types import EngineEndpoint

log = logging.getLogger(__name__)
DEFAULT_PORT = 8000  # upstream's `forward_requests_to` default
ROUTES = {"/v1/models": "GET", "/v1/chat/completions": "POST", "/v1/completions": "POST"}
REQUEST_HEADERS = ("Content-Type", "Accept", "User-Agent")
BROWSER_HEADERS = ("Origin", "Sec-Fetch-Site", "Sec-Fetch-Mode")
FRAMING_HEADERS = ("Content-Length", "Transfer-Encoding", "Connection")
RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "Retry-After", "X-Accel-Buffering")
CONNECT_TIMEOUT_S = 10.0
ENGINE_RETRY_S = "5"
EndpointSource = Callable[[], EngineEndpoint | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GatewayError(Exception):
    """The gateway cannot open; the text says why and what to do."""


def loopback_host(host: str) -> str:
    """`host` when it is a loopback IP address; GatewayError otherwise (names included: a name
    could resolve to an address other programs reach)."""
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        raise GatewayError(f"The upstream gateway listens only on a loopback IP address such as "
                           f"127.0.0.1, not {host!r}. Use 127.0.0.1 (upstream's "
                           "forward_requests_to default).") from None
    if not address.is_loopback:
        raise GatewayError(f"Refusing to open the upstream gateway on {address}: it takes "
                           "requests without a token, so it listens only on a loopback address "
                           "(127.0.0.1 or ::1). Run upstream's worker runner on this machine and "
                           "point its forward_requests_to at 127.0.0.1.")
    return str(address)


class UpstreamGateway:
    def __init__(self, endpoint: EndpointSource, *, port: int = DEFAULT_PORT,
                 host: str = "127.0.0.1", why_not_ready: Callable[[], str] | None = None) -> None:
        """`endpoint()`: the engine's endpoint now, None while it is not ready (asked at every
        request, so a restarted engine is followed); `why_not_ready()`: a sentence for that
        case. Raises GatewayError for a host that is not loopback."""
        self.host = loopback_host(host)
        self.port = port
        self._endpoint = endpoint
        self._why_not_ready = why_not_ready
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> str:
        """Listen; returns the URL. GatewayError when the port cannot be had."""
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors_middleware])
        app.router.add_route("*", "/{path:.*}", self._forward)
        listener = self._bind()
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        await web.SockSite(runner, listener).start()
        self._runner = runner
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            auto_decompress=False)
        log.warning("upstream gateway open on %s: it forwards to the engine WITHOUT a token, so "
                    "every program and every user on this machine can use the engine through "
                    "it. Turn it off by removing engine.upstream_gateway_port (or "
                    "--upstream-gateway).", self.url)
        return self.url

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # only TIME_WAIT's sake
        try:
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise GatewayError(
                f"The upstream gateway cannot listen on {self.host}:{self.port} "
                f"({exc.strerror or exc}): another program (an engine of upstream's, another "
                "instance) probably uses that port. Stop it, or choose another port and give "
                "the runner the same one in forward_requests_to.") from None
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        return listener

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        _refuse_browsers_elsewhere(request)
        method = ROUTES.get(request.path)
        if method is None:
            raise ApiError(404, f"There is no {request.path} here. The gateway forwards only "
                           f"{', '.join(ROUTES)} to the engine.", code="not_found")
        if request.method != method:
            raise ApiError(405, f"{request.method} is not allowed on {request.path}; use "
                           f"{method}.", code="method_not_allowed")
        endpoint = self._endpoint()
        if endpoint is None or self._session is None:
            why = self._why_not_ready() if self._why_not_ready is not None else ""
            raise ApiError(503, f"The engine is not ready{': ' + why if why else '.'} Retry in a "
                           "few seconds.", type="server_error", code="engine_not_ready",
                           headers={"Retry-After": ENGINE_RETRY_S})
        body = await request.read() if method == "POST" else None
        headers = {name: request.headers[name] for name in REQUEST_HEADERS
                   if name in request.headers}
        headers[LANE_HEADER] = Lane.NETWORK.value
        headers.update(endpoint.auth_header)
        try:
            upstream = await self._session.request(method, endpoint.base_url + request.path_qs,
                                                   data=body, headers=headers)
        except aiohttp.ClientError as exc:
            raise ApiError(503, f"The engine did not answer ({type(exc).__name__}); it may be "
                           "restarting. Retry in a few seconds.", type="server_error",
                           code="engine_unavailable", headers={"Retry-After": ENGINE_RETRY_S}
                           ) from None
        try:
            return await _relay(request, upstream)
        finally:
            upstream.close()  # a rest left unread (the client left): the engine sees it go


def _is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse_browsers_elsewhere(request: web.Request) -> None:
    """A browser request naming a host other than loopback: a page doing DNS rebinding."""
    host = request.headers.get("Host", "")
    if _is_loopback_host(host) or not any(h in request.headers for h in BROWSER_HEADERS):
        return
    log.warning("upstream gateway: refused a browser request for host %r (DNS rebinding?)",
                host[:80])
    raise ApiError(403, f"This gateway serves programs on this machine, not web pages: a "
                   f"browser request for {host[:80]!r} is refused.", code="forbidden_host")


class _LowerCaseFraming(web.StreamResponse):
    """Writes Content-Length, Transfer-Encoding and Connection in lower case, the only spelling
    upstream's runner drops before adding its own (see the module's docstring)."""

    async def _write_headers(self) -> None:
        for name in FRAMING_HEADERS:
            values = self.headers.popall(name, [])
            for value in values:
                self.headers.add(name.lower(), value)
        await super()._write_headers()


async def _relay(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    """Copy the engine's answer to the client chunk by chunk, as it arrives."""
    response = _LowerCaseFraming(status=upstream.status, reason=upstream.reason, headers={
        name: upstream.headers[name] for name in RESPONSE_HEADERS if name in upstream.headers})
    if upstream.content_length is not None:
        response.content_length = upstream.content_length
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except aiohttp.ClientError as exc:
        # Headers are sent: the client sees the answer end early (as with the engine itself).
        log.warning("the engine's answer broke off (%s); the client gets a cut answer", exc)
        return response
    except ConnectionResetError:
        log.debug("the client left; closing the engine connection cancels its generation")
        return response
    upstream.release()  # read to the end: the connection may serve the next request
    with suppress(ConnectionResetError):
        await response.write_eof()
    return response


@web.middleware
async def _errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPRequestEntityTooLarge:
        error = ApiError(413, f"The request body is larger than {MAX_BODY_BYTES // 2**20} MiB. "
                         "Send a shorter prompt.", code="request_too_large")
        return web.json_response(error.body(), status=413)
