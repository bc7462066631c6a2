"""The worker's stats surface as a node serves it: upstream's paths, the node's gauges in
`/metrics`, and `/nodestatus` (the node's snapshot as JSON).

Every path needs the token (`Authorization: Bearer …` or upstream's `?access_hash=…`). It
listens on 127.0.0.1 unless the rig file asks for another address (`[stats] listen`), for a
Prometheus server elsewhere on the farm's network: then over HTTPS (`tls_certificate`,
`tls_key`), or over plain HTTP only when the operator accepted that risk in so many words
(`accept_plain_http_risk`); otherwise it refuses to listen.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from cocoon_desktop.network.worker.http_stats import PayoutHook, build_stats_app
from cocoon_desktop.network.worker.served import ServedWorker
from cocoon_desktop.node.status import NodeProblem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StatsTokenError(Exception):
    def __init__(self, problem: NodeProblem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def load_stats_token(token_file: Path | None) -> str:
    """The operator's token file (e.g. a systemd credential, shared with Prometheus' scrape
    config), else a fresh random token for this run."""
    if token_file is None:
        return secrets.token_urlsafe(32)
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StatsTokenError(NodeProblem(
            f"The stats token file {token_file} cannot be read: {exc.strerror}.",
            "Create it (e.g. `openssl rand -hex 32 > FILE; chmod 600 FILE`) or remove "
            "`token_file` from the rig file to get a fresh token each run.")) from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise StatsTokenError(NodeProblem(
            f"The stats token in {token_file} is too short or has spaces in it.",
            "Use at least 16 characters without spaces (e.g. `openssl rand -hex 32`)."))
    return token


class StatsSurface:
    """Started with the worker, stopped with it. `url` is set while it listens."""

    def __init__(self, host: str, port: int, token: str, *,
                 tls: tuple[Path, Path] | None = None,
                 accept_plain_http_risk: bool = False) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.url = ""
        self._tls = tls
        self._accept_risk = accept_plain_http_risk
        self._runner: web.AppRunner | None = None

    def _ssl_context(self) -> ssl.SSLContext | None:
        """HTTPS when configured; refuses a plain non-loopback bind unless the risk is accepted
        (PermissionError, which `start` lets through as an OSError with the reason)."""
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self._tls)
            return context
        if not ipaddress.ip_address(self.host).is_loopback and not self._accept_risk:
            raise PermissionError(
                f"refused to serve the stats on {self.host} over plain HTTP: the token would "
                "cross the network in clear; configure `stats.tls_certificate` and "
                "`stats.tls_key`, or set `stats.accept_plain_http_risk = true`")
        return None

    async def start(self, worker: ServedWorker, on_payout: PayoutHook | None,
                    extra_metrics: Callable[[], str],
                    node_status: Callable[[], dict[str, Any]],
                    extra_json: Callable[[], dict[str, Any]] = dict) -> str:
        """Listen; OSError when the address is taken (another instance with this number?) or
        a plain-HTTP bind beyond loopback was not allowed (PermissionError). `extra_json`:
        keys added to `/jsonstats` (the node's VM)."""
        context = self._ssl_context()
        app = build_stats_app(worker, self.token, on_payout)
        app.middlewares.append(_append_to_metrics(extra_metrics))
        app.middlewares.append(_add_to_jsonstats(extra_json))

        async def nodestatus(request: web.Request) -> web.Response:
            return web.json_response(node_status())

        app.router.add_get("/nodestatus", nodestatus)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, ssl_context=context)
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{'https' if context else 'http'}://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.url = ""


def _add_to_jsonstats(extra: Callable[[], dict[str, Any]]) -> Any:
    """A middleware adding the node's keys to upstream's `/jsonstats` (after the token)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        added = extra() if request.path == "/jsonstats" else {}
        if added and isinstance(response, web.Response) and response.status == 200 \
                and response.text is not None:
            return web.json_response({**json.loads(response.text), **added})
        return response

    return middleware


def _append_to_metrics(extra: Callable[[], str]) -> Any:
    """A middleware adding the node's gauges after the worker's own on `/metrics` (runs after
    the token check, which is the app's first middleware)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (request.path == "/metrics" and isinstance(response, web.Response)
                and response.status == 200 and response.text is not None):
            response.text = response.text + extra()
        return response

    return middleware
