"""A local Cocoon network for tests: the real or a scripted engine, the devnet, a worker, chat.

Shared by the network and earnings integration tests (and whoever else needs a served devnet):

    async with scripted_engine() as engine, served_devnet(engine.endpoint) as served:
        devnet, worker, events = served          # worker connected; events it emitted
        status, chunks, raw = await chat(devnet, "Hi")

`running_engine()` starts the real engine with the bundled model instead (skips without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings
from cocoon_desktop.network.attestation import AttestationPolicy, QuoteProvider
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    Devnet,
    DevnetSettings,
    start_devnet,
)
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.network.worker.worker import Worker
from tests.helpers.bundled_model import bundled_model_or_skip

MODEL_NAME = "smollm2-135m@0123abc:test"
SERVED = "smollm2-135m"
EngineSource = EngineEndpoint | Callable[[], EngineEndpoint | None]


def engine_settings(**changes: Any) -> EngineSettings:
    values: dict[str, Any] = {"model_path": bundled_model_or_skip(), "model_name": MODEL_NAME,
                              "context_tokens": 2048, "parallel_sequences": 4, "threads": 2,
                              "max_queued_requests": 8, "max_completion_tokens": 512}
    return EngineSettings(**{**values, **changes})


@contextlib.asynccontextmanager
async def running_engine(settings: EngineSettings | None = None,
                         **supervisor_options: Any) -> AsyncIterator[EngineSupervisor]:
    """The real engine process with the bundled model, ready; stopped at the end."""
    options: dict[str, Any] = {"probe_interval_s": 0.5, **supervisor_options}
    supervisor = EngineSupervisor(settings or engine_settings(), **options)
    await supervisor.start()
    try:
        await supervisor.wait_ready(180)
        yield supervisor
    finally:
        await supervisor.stop(drain_timeout_s=0)


def make_worker(devnet: Devnet, engine: EngineSource, provider: QuoteProvider | None = None,
                proxy_policy: AttestationPolicy | None = None, **changes: Any) -> Worker:
    values: dict[str, Any] = {
        "owner_address": friendly(DEVNET_WORKER_OWNER), "model_name": MODEL_NAME,
        "engine": engine, "root_config": devnet.root_config,
        "root_contract_address": devnet.root_contract_address,
        "proxies": (devnet.workers_endpoint,),
        "proxy_policy": proxy_policy or AttestationPolicy("any"),
        "reconnect_min_s": 0.2, "reconnect_max_s": 1.0}
    config = WorkerConfig(**{**values, **changes})
    return Worker(config, make_identity(provider))


class ServedDevnet(NamedTuple):
    devnet: Devnet
    worker: Worker
    events: list[Any]  # every event the worker emitted, in order


@contextlib.asynccontextmanager
async def served_devnet(engine: EngineSource, settings: DevnetSettings | None = None, *,
                        proxy_provider: QuoteProvider | None = None,
                        worker_provider: QuoteProvider | None = None,
                        worker_policy: AttestationPolicy | None = None,
                        listeners: Iterable[Callable[[Any], None]] = (),
                        **worker_changes: Any) -> AsyncIterator[ServedDevnet]:
    """A devnet and one worker connected to it (`listeners` see its events from the start);
    both stopped at the end."""
    devnet = await start_devnet(settings or DevnetSettings(pow_difficulty=4),
                                proxy_provider=proxy_provider)
    try:
        worker = make_worker(devnet, engine, worker_provider, worker_policy, **worker_changes)
        served = ServedDevnet(devnet, worker, [])
        for listener in (served.events.append, *listeners):
            worker.add_listener(listener)
        await worker.start()
        try:
            await wait_until(lambda: worker.status().connected_proxies == 1)
            yield served
        finally:
            await worker.stop()
    finally:
        await devnet.stop()


def attested_settings() -> DevnetSettings:
    """Devnet settings whose proxy demands software attestation (fake TDX) of workers."""
    return DevnetSettings(worker_policy=AttestationPolicy("fake_tdx"), pow_difficulty=8)


def attested_devnet(engine: EngineSource, settings: DevnetSettings | None = None,
                    **options: Any) -> contextlib.AbstractAsyncContextManager[ServedDevnet]:
    """`served_devnet` with fake TDX presented and demanded on both sides."""
    return served_devnet(engine, settings or attested_settings(),
                         proxy_provider=FakeTdxProvider(), worker_provider=FakeTdxProvider(),
                         worker_policy=AttestationPolicy("fake_tdx"), **options)


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 20) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout_s)


async def chat(devnet: Devnet, content: str, max_tokens: int = 16, *,
               first_bytes: asyncio.Event | None = None, **extra: Any
               ) -> tuple[int, list[dict[str, Any]], str]:
    """POST a streamed chat request to the devnet client; (status, SSE events, raw text).
    `first_bytes` is set once the answer's first bytes are in (its status is then known)."""
    body = {"model": SERVED, "messages": [{"role": "user", "content": content}],
            "stream": True, "max_tokens": max_tokens, "temperature": 0, **extra}
    headers = {"Authorization": f"Bearer {devnet.settings.http_token}"}
    raw = b""
    async with aiohttp.ClientSession() as session, session.post(
            f"{devnet.http_url}/v1/chat/completions", json=body, headers=headers) as resp:
        try:
            async for chunk in resp.content.iter_any():
                raw += chunk
                if first_bytes is not None:
                    first_bytes.set()
        except aiohttp.ClientPayloadError:
            raw += b"\n[the answer broke off]"
    text = raw.decode()
    events = [json.loads(line[5:]) for line in text.splitlines()
              if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")]
    return resp.status, events, text


class ScriptedEngine:
    """A loopback OpenAI-style server for tests that are about the network, not the model:
    it streams `parts` then a usage chunk, like the real engine with include_usage.

    `hold_after`: the answer stops after that many parts (0: before even its headers) and
    holds until `stop()`, so a test can act at a known point of an answer under any load."""

    def __init__(self, parts: int = 3, prompt_tokens: int = 11, delay_s: float = 0.0,
                 hold_after: int | None = None) -> None:
        self.parts, self.prompt_tokens, self.delay_s = parts, prompt_tokens, delay_s
        self.hold_after = hold_after
        self.token = "engine-test-token"
        self.seen: list[dict[str, Any]] = []
        self.seen_headers: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self._released = asyncio.Event()
        self.endpoint: EngineEndpoint | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "bad token"}, status=401)
        body = await request.json()
        self.seen.append(body)
        self.seen_headers.append(dict(request.headers))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.parts,
                 "total_tokens": self.prompt_tokens + self.parts}
        chunks = [{"choices": [{"delta": {"content": f"w{i} "}}], "usage": None}
                  for i in range(self.parts)]
        try:
            await self._hold_at(0)
            await resp.prepare(request)
            for sent, chunk in enumerate(chunks):
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await self._hold_at(sent + 1)
                await asyncio.sleep(self.delay_s)
            await resp.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
        except ConnectionResetError:  # the worker went away mid-answer, as a real one may
            if not resp.prepared:
                return web.json_response({"error": "the engine stopped"}, status=503)
        return resp

    async def _hold_at(self, parts_sent: int) -> None:
        if parts_sent == self.hold_after:
            await self._released.wait()
            raise ConnectionResetError("the scripted answer was held until the engine stopped")

    async def start(self) -> EngineEndpoint:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.endpoint = EngineEndpoint(f"http://127.0.0.1:{port}", self.token)
        return self.endpoint

    async def stop(self) -> None:
        self._released.set()
        if self._runner is not None:
            await self._runner.cleanup()


@contextlib.asynccontextmanager
async def scripted_engine(parts: int = 3, prompt_tokens: int = 11,
                          delay_s: float = 0.0) -> AsyncIterator[ScriptedEngine]:
    engine = ScriptedEngine(parts, prompt_tokens, delay_s)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()
