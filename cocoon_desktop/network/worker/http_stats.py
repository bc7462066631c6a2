"""The worker's stats and control surface, as upstream's worker runner serves it, plus /metrics.

Loopback only. Every path needs the token, either as `Authorization: Bearer <token>` or as
upstream's `?access_hash=<token>` argument (runners/BaseRunner.cpp). Paths: `/jsonstats`
(upstream's keys; each counter is `[total, 1s, 10s, 1m, 10m, 1h, 1d]`), `/metrics` (Prometheus
text format), `/request/enable`, `/request/disable`, `/request/payout?proxy=<contract>`,
`/request/change_coefficient?coefficient=<multiplier, 1.0 = 1000>`.

The four `/request/...` controls change the worker, so they are POST only (arguments in the
query or a form body): a GET, which a link or an image tag in any web page can make, answers
405 and changes nothing (upstream's page uses GET; its controls are for this surface only).
A bad argument answers a JSON 400 that says what to send.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cocoon_desktop import __version__
from cocoon_desktop.network.root_config import RootConfig, friendly, parse_address
from cocoon_desktop.network.worker.served import ServedWorker

PayoutHook = Callable[[str], Awaitable[str]]


def root_config_json(root: RootConfig) -> dict[str, Any]:
    m = root.multipliers
    return {
        "owner_address": friendly(root.owner_address),
        "proxy_hashes": sorted(h.hex() for h in root.proxy_hashes),
        "registered_proxies": [{"seqno": p.seqno, "address_for_clients": str(p.for_clients),
                                "address_for_workers": str(p.for_workers)}
                               for p in root.registered_proxies],
        "last_proxy_seqno": root.last_proxy_seqno,
        "worker_hashes": sorted(h.hex() for h in root.worker_hashes),
        "model_hashes": sorted(h.hex() for h in root.model_hashes),
        "version": root.version, "struct_version": root.struct_version,
        "params_version": root.params_version, "unique_id": root.unique_id,
        "is_test": root.is_test, "price_per_token": root.price_per_token,
        "worker_fee_per_token": root.worker_fee_per_token,
        "prompt_tokens_price_multiplier": m.prompt, "cached_tokens_price_multiplier": m.cached,
        "completion_tokens_price_multiplier": m.completion,
        "reasoning_tokens_price_multiplier": m.reasoning,
        "proxy_delay_before_close": root.proxy_delay_before_close,
        "client_delay_before_close": root.client_delay_before_close,
        "proxy_min_stake": root.min_proxy_stake, "client_min_stake": root.min_client_stake,
        "proxy_code_hash": root.proxy_sc_code.hash.hex(),
        "worker_code_hash": root.worker_sc_code.hash.hex(),
        "client_code_hash": root.client_sc_code.hash.hex(),
    }


def json_stats(worker: ServedWorker) -> dict[str, Any]:
    config, root, status = worker.config, worker.config.root_config, worker.status()
    check = config.checks_proxy_hashes
    proxies = []
    for account in worker.accounts.values():
        proxies.append({
            "sc_inited": False, "proxy_sc_address": friendly(parse_address(
                account.proxy_sc_address, "proxy")),
            "proxy_public_key": account.proxy_key,
            "sc_address": friendly(parse_address(account.worker_sc_address, "worker")),
            "earned_tokens_committed_to_blockchain": account.tokens_committed,
            "earned_tokens_committed_to_proxy_db": account.db_tokens,
            "earned_tokens_max_known": account.max_known, "cached_out_tokens": 0,
            "expected_cached_out_tokens": 0, "running_request": False,
            "params_version": root.params_version})
    return {
        "status": {
            "actual_image_hash": root.has_worker_hash(config.image_hash) if check else True,
            "actual_model": root.has_model_hash(config.model_name) if check else True,
            "enabled": status.enabled, "draining": status.draining,
            "active_requests": status.active_requests,
            "max_active_requests": status.max_active_requests,
            "connected_proxies": status.connected_proxies,
            "git_commit": f"cocoon-desktop {__version__}", "git_commit_data": "",
        },
        "stats": worker.stats.as_json(),
        "localconfig": {"root_address": config.root_contract_address,
                        "owner_address": config.owner_address, "model": config.model_name,
                        "model_hash": hashlib.sha256(config.model_name.encode()).hexdigest(),
                        "coefficient": status.coefficient, "check_proxy_hash": check},
        "root_contract_config": root_config_json(root),
        "proxies": proxies,
    }


def prometheus(worker: ServedWorker) -> str:
    """The same figures in Prometheus' text exposition format."""
    status, stats = worker.status(), worker.stats
    fee = worker.config.root_config.worker_fee_per_token
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    metric("cocoon_worker_requests_total", "counter", "Requests by outcome.",
           [(f'{{result="{r}"}}', stats.total(k)) for r, k in
            (("received", "queries"), ("success", "success"), ("failed", "failed"))])
    metric("cocoon_worker_adjusted_tokens_total", "counter", "Adjusted tokens served, by kind.",
           [(f'{{kind="{k}"}}', stats.total(f"{k}_adjusted_tokens_used"))
            for k in ("prompt", "cached", "completion", "reasoning", "total")])
    metric("cocoon_worker_earned_nanoton_total", "counter", "nanoTON earned by served tokens.",
           [("", stats.total("total_adjusted_tokens_used") * fee)])
    metric("cocoon_worker_bytes_total", "counter", "Request and answer payload bytes.",
           [('{direction="received"}', stats.total("bytes_received")),
            ('{direction="sent"}', stats.total("bytes_sent"))])
    metric("cocoon_worker_request_seconds_total", "counter", "Time spent serving requests.",
           [("", stats.total("time"))])
    metric("cocoon_worker_active_requests", "gauge", "Requests being served now.",
           [("", status.active_requests)])
    metric("cocoon_worker_max_active_requests", "gauge", "Most requests served at once.",
           [("", status.max_active_requests)])
    metric("cocoon_worker_enabled", "gauge", "1 when taking new requests.",
           [("", float(status.enabled and not status.draining))])
    metric("cocoon_worker_coefficient", "gauge", "Price coefficient (1000 = 1.0x).",
           [("", status.coefficient)])
    metric("cocoon_worker_proxies_connected", "gauge", "Proxies with a ready session.",
           [("", status.connected_proxies)])
    metric("cocoon_worker_proxy_tokens_committed", "gauge",
           "Adjusted tokens in the newest signed statement, per proxy contract.",
           [(f'{{proxy="{a.proxy_sc_address}"}}', a.tokens_committed)
            for a in worker.accounts.values()])
    return "\n".join(lines) + "\n"


def _page(text: str) -> web.Response:
    html = f"<!DOCTYPE html>\n<html><body>\n{text}<br/>\n</body></html>\n"
    return web.Response(text=html, content_type="text/html")


Handler = Callable[[web.Request], Awaitable[web.Response]]


async def _argument(request: web.Request, name: str) -> str | None:
    if name in request.query:
        return request.query[name]
    form = await request.post()
    value = form.get(name)
    return value if isinstance(value, str) else None


def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _coefficient_handler(worker: ServedWorker) -> Handler:
    async def change_coefficient(request: web.Request) -> web.Response:
        text = await _argument(request, "coefficient")
        if text is None:
            return _bad_request("send coefficient=1.0 (1.0 = the base price)")
        try:
            multiplier = float(text)
        except ValueError:
            multiplier = math.nan
        if not math.isfinite(multiplier) or len(text) > 32:
            return _bad_request(f"failed to parse {text[:40]!r} as a coefficient: send a "
                                "number such as 1.5 (1.0 = the base price)")
        value = round(multiplier * 1000)
        try:
            worker.set_coefficient(value)
        except ValueError as exc:
            return _bad_request(f"{exc}; got {multiplier:g}")
        return _page(f"coefficient set to {value * 0.001:g}")

    return change_coefficient


async def _use_post(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": f"{request.path} changes the worker: send it as POST, not GET"},
        status=405, headers={"Allow": "POST"})


def _payout_handler(worker: ServedWorker, on_payout: PayoutHook | None) -> Handler:
    async def payout(request: web.Request) -> web.Response:
        target = await _argument(request, "proxy") or ""
        known = {friendly(parse_address(a.proxy_sc_address, "proxy")): a
                 for a in worker.accounts.values()} | {
            a.proxy_sc_address: a for a in worker.accounts.values()}
        if target not in known:
            return _page("proxy not found")
        if on_payout is None:
            return _page("payouts need the wallet, which is not connected to this worker")
        return _page(await on_payout(known[target].proxy_sc_address))

    return payout


def build_stats_app(worker: ServedWorker, token: str, on_payout: PayoutHook | None = None
                    ) -> web.Application:
    @web.middleware
    async def require_token(request: web.Request, handler):  # type: ignore[no-untyped-def]
        given = request.query.get("access_hash") or request.headers.get(
            "Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise web.HTTPUnauthorized(text="missing or wrong token: send 'Authorization: "
                                            "Bearer <token>' or '?access_hash=<token>'\n")
        return await handler(request)

    def toggle(enable: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            worker.enable() if enable else worker.disable()
            return _page("state updated")
        return handler

    async def jsonstats(request: web.Request) -> web.Response:
        return web.json_response(json_stats(worker))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=prometheus(worker), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"})

    app = web.Application(middlewares=[require_token])
    app.router.add_get("/jsonstats", jsonstats)
    app.router.add_get("/metrics", metrics)
    controls = {"/request/enable": toggle(True), "/request/disable": toggle(False),
                "/request/payout": _payout_handler(worker, on_payout),
                "/request/change_coefficient": _coefficient_handler(worker)}
    for path, handler in controls.items():
        app.router.add_post(path, handler)
        app.router.add_get(path, _use_post)
    return app


async def serve_stats(worker: ServedWorker, token: str, port: int = 0,
                      on_payout: PayoutHook | None = None) -> tuple[web.AppRunner, int]:
    """Start the surface on 127.0.0.1; returns the runner (call `cleanup()`) and the port."""
    runner = web.AppRunner(build_stats_app(worker, token, on_payout), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
