"""Helpers for the node's integration tests: a devnet node config, requests through the
devnet's client endpoint, waiting for a node state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeState, NodeStatus

ROOT = Path(__file__).resolve().parents[3]
COUNTING = "1, 2, 3, 4, 5, 6, 7,"  # the model keeps counting for as long as it may


def devnet_config(home: Path, **changes: Any) -> NodeConfig:
    values: dict[str, Any] = {"home": home, "stats_port": 0, "max_active_requests": 2,
                              "context_tokens": 1024, "threads": 2,
                              "monitoring_interval_s": 0.2, "drain_timeout_s": 60.0}
    return NodeConfig(**{**values, **changes})


class StatusLog:
    """Every status a node publishes; waits for one that matches."""

    def __init__(self, node: Node) -> None:
        self.seen: list[NodeStatus] = []
        node.status_changed.add(self.seen.append)

    def states(self) -> list[NodeState]:
        out: list[NodeState] = []
        for status in self.seen:
            if not out or out[-1] is not status.state:
                out.append(status.state)
        return out

    async def wait_for(self, predicate: Callable[[NodeStatus], bool], timeout_s: float = 120
                       ) -> NodeStatus:
        async def poll() -> NodeStatus:
            while True:
                if self.seen and predicate(self.seen[-1]):
                    return self.seen[-1]
                await asyncio.sleep(0.05)
        try:
            return await asyncio.wait_for(poll(), timeout_s)
        except TimeoutError:
            last = self.seen[-1] if self.seen else None
            raise AssertionError(f"the node never got there; last status: {last}") from None


@contextlib.asynccontextmanager
async def serving_node(config: NodeConfig) -> AsyncIterator[tuple[Node, StatusLog]]:
    """A node open and serving on `config` (SERVING reached), with the log of its statuses;
    closed on the way out, and that close must succeed when the body did."""
    node = Node(config)
    log = StatusLog(node)
    await node.open()
    try:
        await node.start_serving()
        await log.wait_for(lambda s: s.state is NodeState.SERVING)
        assert node.engine is not None and node.engine.settings is not None
        yield node, log
    finally:
        closed = await node.close()
    assert closed is True, "the node did not stop cleanly"


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 60) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout_s)


def client_of(run_file: Path) -> tuple[str, str]:
    """The devnet client's URL and token from a running node's run file."""
    data = json.loads(run_file.read_text())
    return data["devnet_client_url"], data["devnet_client_token"]


async def complete(url: str, token: str, model: str, prompt: str = COUNTING,
                   max_tokens: int = 16, started: asyncio.Event | None = None
                   ) -> tuple[int, str]:
    """A streamed completion through the devnet; (HTTP status, the raw answer). `started` is
    set once the first bytes arrived (the job is running on the worker)."""
    body = {"model": model.split("@")[0], "prompt": prompt, "max_tokens": max_tokens,
            "temperature": 0, "stream": True}
    raw = b""
    async with aiohttp.ClientSession() as session, session.post(
            f"{url}/v1/completions", json=body,
            headers={"Authorization": f"Bearer {token}"}) as response:
        async for chunk in response.content.iter_any():
            raw += chunk
            if started is not None:
                started.set()
        return response.status, raw.decode(errors="replace")


def served_ok(answer: tuple[int, str]) -> bool:
    status, text = answer
    return status == 200 and "data: [DONE]" in text and '"error"' not in text


class Served:
    """A running `cocoon-desktop serve` and what its run file says."""

    def __init__(self, rig: Path, instance: int | None, home: Path,
                 env: dict[str, str] | None = None) -> None:
        args = [sys.executable, "-m", "cocoon_desktop", "serve", "--config", str(rig)]
        args += ["--instance", str(instance)] if instance is not None else []
        self.stderr_file = home.parent / f"serve-{instance}.log"
        self.process = subprocess.Popen(args, cwd=ROOT, env=env or serve_env(home.parent),
                                        stdout=subprocess.DEVNULL,
                                        stderr=self.stderr_file.open("wb"))
        self.run_file = home / "data" / "node-run.json"

    @property
    def log(self) -> str:
        return self.stderr_file.read_text(errors="replace")

    def run(self) -> dict[str, str]:
        return json.loads(self.run_file.read_text())

    async def serving(self, timeout_s: float = 180) -> dict[str, str]:
        async def poll() -> dict[str, str]:
            while True:
                assert self.process.poll() is None, self.log
                if self.run_file.exists() and self.run().get("stats_url"):
                    run = self.run()
                    if (await stats(run, "/nodestatus")).get("state") == "serving":
                        return run
                await asyncio.sleep(0.2)
        return await asyncio.wait_for(poll(), timeout_s)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


def serve_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "COCOON_HOME": str(home)}
    env.pop("NOTIFY_SOCKET", None)
    return env


async def stats(run: dict[str, str], path: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token or run['stats_token']}"}
    async with aiohttp.ClientSession() as session, session.get(
            run["stats_url"] + path, headers=headers) as response:
        if response.status != 200:
            return {"http_status": response.status}
        return await response.json()
