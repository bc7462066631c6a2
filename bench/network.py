"""What the Cocoon path costs: tokens/s through client -> devnet proxy -> worker -> engine over
tokens/s straight to the engine, and the first-token latency the path adds.

    .venv/bin/python bench/network.py [--tokens 128] [--rounds 4] [--concurrency 1]

One engine process (the app's `EngineSupervisor`, bundled SmolLM2-135M-Instruct Q4_1, 2 threads)
serves both: the same greedy streamed chat request goes straight to the engine's HTTP API, and
through the devnet client's OpenAI endpoint, the proxy, RA-TLS and the worker (fake-TDX
attestation on both hops, proof of work as the router does it). Each round runs both, in ABBA
order; the ratio and the added first-token time are medians over the paired rounds, since the
machine is shared. Target: ratio >= 0.90. It also
prints the CPU time the path costs per token (proxy, worker and client run in this process),
which says how much the path can take from the engine on a small machine, however noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import Devnet, DevnetSettings
from tests.helpers.devnet_harness import SERVED, attested_devnet, engine_settings, running_engine

PROMPT = "Write a short story about a lighthouse keeper who befriends a seagull."


async def stream_once(session: aiohttp.ClientSession, url: str, token: str,
                      tokens: int) -> tuple[int, float, float]:
    """One streamed request: (completion tokens, seconds to first content, total seconds)."""
    body = {"model": SERVED, "messages": [{"role": "user", "content": PROMPT}], "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": tokens, "temperature": 0}
    started = time.perf_counter()
    first = 0.0
    completion = 0
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        resp.raise_for_status()
        async for line in resp.content:
            if not line.startswith(b"data: {"):
                continue
            chunk: dict[str, Any] = json.loads(line[6:])
            if not first and any(c.get("delta", {}).get("content") for c in chunk["choices"]):
                first = time.perf_counter() - started
            if chunk.get("usage"):
                completion = chunk["usage"]["completion_tokens"]
    return completion, first, time.perf_counter() - started


async def measure(url: str, token: str, tokens: int, concurrency: int
                  ) -> tuple[float, float, float]:
    """One round: aggregate completion tokens/s, median first-token latency, and the CPU time
    this process (client, proxy and worker; the engine is another process) spent per token."""
    async with aiohttp.ClientSession() as session:
        started, cpu = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(stream_once(session, url, token, tokens)
                                         for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    produced = sum(r[0] for r in results)
    return produced / wall, statistics.median(r[1] for r in results), cpu / max(1, produced)


Rounds = list[tuple[float, float, float]]


async def compare(args: argparse.Namespace, endpoint: EngineEndpoint, devnet: Devnet
                  ) -> tuple[Rounds, Rounds]:
    """Paired rounds straight to the engine and through client -> proxy -> worker -> engine."""
    direct_url = f"{endpoint.base_url}/v1/chat/completions"
    path_url = f"{devnet.http_url}/v1/chat/completions"
    await measure(direct_url, endpoint.token, 16, 1)  # warm both paths up
    await measure(path_url, devnet.settings.http_token, 16, 1)
    direct: Rounds = []
    path: Rounds = []
    for round_no in range(args.rounds):
        # ABBA order, so a load that drifts during the run favours neither side
        for side in (("direct", "path") if round_no % 2 == 0 else ("path", "direct")):
            if side == "direct":
                direct.append(await measure(direct_url, endpoint.token, args.tokens,
                                            args.concurrency))
            else:
                path.append(await measure(path_url, devnet.settings.http_token, args.tokens,
                                          args.concurrency))
    return direct, path


async def main(args: argparse.Namespace) -> None:
    slots = max(1, args.concurrency)
    settings = DevnetSettings(worker_policy=AttestationPolicy("fake_tdx"))  # the default PoW
    async with running_engine(engine_settings(parallel_sequences=slots),
                              probe_interval_s=30.0) as supervisor:
        endpoint = supervisor.endpoint
        assert endpoint is not None
        async with attested_devnet(endpoint, settings, max_active_requests=slots) as served:
            direct, path = await compare(args, endpoint, served.devnet)
    direct_tps = statistics.median(r[0] for r in direct)
    path_tps = statistics.median(r[0] for r in path)
    ratio = statistics.median(p[0] / d[0] for p, d in zip(path, direct, strict=True))
    added_ms = statistics.median(p[1] - d[1] for p, d in zip(path, direct, strict=True)) * 1000
    cpu_us = (statistics.median(r[2] for r in path)
              - statistics.median(r[2] for r in direct)) * 1e6
    print(f"straight to the engine : {direct_tps:7.1f} tokens/s  (rounds: "
          f"{', '.join(f'{r[0]:.1f}' for r in direct)})")
    print(f"through the Cocoon path: {path_tps:7.1f} tokens/s  (rounds: "
          f"{', '.join(f'{r[0]:.1f}' for r in path)})")
    print(f"ratio                  : {ratio:7.3f}  (median of paired rounds; target >= 0.90)")
    print(f"added first-token time : {added_ms:7.1f} ms (median)")
    print(f"path CPU per token     : {cpu_us:7.0f} us (proxy + worker + client, this process)")
    print(json.dumps({"direct_tokens_per_s": round(direct_tps, 2),
                      "path_tokens_per_s": round(path_tps, 2),
                      "ratio": round(ratio, 4),
                      "added_first_token_ms": round(added_ms, 1),
                      "path_cpu_us_per_token": round(cpu_us)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=1)
    asyncio.run(main(parser.parse_args()))
