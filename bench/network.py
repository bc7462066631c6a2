"""What the Cocoon path costs: tokens/s through client -> devnet proxy -> worker -> engine over
tokens/s straight to the engine, the first-token time the path adds, and each part's own CPU.

    .venv/bin/python bench/network.py [--tokens 128] [--rounds 6] [--concurrency 1] [--hold-ms 5]
                                      [--threads 2]

Four processes, as in production: the engine (bundled SmolLM2-135M-Instruct Q4_1, `--threads`
threads, started by the app's `EngineSupervisor`), the worker beside it (`bench/network_parts.py
worker`), the devnet's proxy and client with its OpenAI endpoint (`… devnet`; in production both
run on other machines), and this process, the consumer that reads the answers. The same greedy
streamed chat request goes straight to the engine's HTTP API and through the path (fake-TDX
attestation on both hops, proof of work as the router does it). Each round runs both, in ABBA
order; the ratio and the added first-token time are medians over the paired rounds. Each part's
CPU per token comes from its own process's CPU time over the rounds of each side, so the
worker's own cost is printed apart from the proxy's and the client's. The CPU that other
programs on this machine used during the rounds is printed too (it is shared): the ratio is only
as good as the machine is quiet. Target: ratio >= 0.95.

With as many engine threads as cores (the default on this 2-core machine) the engine computes on
every core, so every microsecond the other parts spend is taken from it, doubled by the engine's
threads spinning at their barriers while one of them waits for a core. `--threads` below the
core count leaves the path a core of its own, as on a GPU host, where the engine does not
compute on the CPU; the output says which of the two was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cocoon_desktop.network.worker.coalesce import HOLD_S
from tests.helpers.devnet_harness import SERVED

PROMPT = "Write a short story about a lighthouse keeper who befriends a seagull."
PARTS = Path(__file__).with_name("network_parts.py")
TARGET = 0.95


async def stream_once(session: aiohttp.ClientSession, url: str, token: str,
                      tokens: int) -> tuple[int, float]:
    """One streamed request: (completion tokens, seconds to first content)."""
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
    return completion, first


def cpu_s(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU seconds so far of each named process (the engine with its children)."""
    out = {}
    for name, process in processes.items():
        tree = [process, *process.children(recursive=True)] if name == "engine" else [process]
        out[name] = sum(p.cpu_times().user + p.cpu_times().system for p in tree)
    return out


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every process, the kernel's work too)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def others_cpu_s(ours: set[int]) -> dict[str, float]:
    """CPU seconds so far of every other running process, by name (those that end during the
    rounds are in `machine_busy_s` only)."""
    out: dict[str, float] = {}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        times = process.info["cpu_times"]
        if process.pid in ours or times is None:
            continue
        words = process.info["cmdline"] or [process.info["name"]]
        name = " ".join(Path(w).name for w in words[:3])[:40]
        out[name] = out.get(name, 0.0) + times.user + times.system
    return out


@dataclass
class Side:
    name: str
    url: str
    token: str
    tokens_per_s: list[float] = field(default_factory=list)
    first_s: list[float] = field(default_factory=list)
    produced: int = 0
    cpu: dict[str, float] = field(default_factory=dict)

    async def round(self, tokens: int, concurrency: int,
                    processes: dict[str, psutil.Process]) -> None:
        before = cpu_s(processes)
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            results = await asyncio.gather(*(stream_once(session, self.url, self.token, tokens)
                                             for _ in range(concurrency)))
            wall = time.perf_counter() - started
        after = cpu_s(processes)
        produced = sum(r[0] for r in results)
        self.produced += produced
        self.tokens_per_s.append(produced / wall)
        self.first_s.append(statistics.median(r[1] for r in results))
        for name in processes:
            self.cpu[name] = self.cpu.get(name, 0.0) + after[name] - before[name]

    def cpu_us_per_token(self, name: str) -> float:
        return self.cpu.get(name, 0.0) / max(1, self.produced) * 1e6


class Part:
    """One of the bench's child processes (bench/network_parts.py)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, str(PARTS), *args], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def facts(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"{PARTS.name} {self.process.args[2]} ended before it was ready")
        return json.loads(line)

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def warm_up(direct: Side, path: Side, processes: dict[str, psutil.Process]) -> None:
    for side in (direct, path):  # the prompt cache, the connections
        await Side(side.name, side.url, side.token).round(16, 1, processes)


async def compare(args: argparse.Namespace, direct: Side, path: Side,
                  processes: dict[str, psutil.Process]) -> None:
    for round_no in range(args.rounds):
        # ABBA order, so a load that drifts during the run favours neither side
        for side in (direct, path) if round_no % 2 == 0 else (path, direct):
            await side.round(args.tokens, args.concurrency, processes)


def report(direct: Side, path: Side, others: dict[str, float], others_total_s: float,
           wall_s: float, threads: int) -> None:
    pairs = list(zip(path.tokens_per_s, direct.tokens_per_s, strict=True))
    ratio = statistics.median(p / d for p, d in pairs)
    added_ms = statistics.median(p - d for p, d in zip(path.first_s, direct.first_s,
                                                       strict=True)) * 1000
    for side in (direct, path):
        print(f"{side.name:<23}: {statistics.median(side.tokens_per_s):7.1f} tokens/s  "
              f"(rounds: {', '.join(f'{r:.1f}' for r in side.tokens_per_s)})")
    print(f"ratio                  : {ratio:7.3f}  (median of paired rounds; target >= {TARGET})")
    cores = os.cpu_count() or 1
    shared = ("the path shares every core with the engine" if threads >= cores
              else f"{cores - threads} core(s) left to the path, as on a GPU host")
    print(f"engine threads         : {threads} of {cores} cores ({shared})")
    print(f"added first-token time : {added_ms:7.1f} ms (median)")
    print("CPU per token (us)     :   direct     path")
    for name in ("worker", "devnet", "consumer", "engine"):
        direct_us, path_us = direct.cpu_us_per_token(name), path.cpu_us_per_token(name)
        print(f"  {name:<21}: {direct_us:8.0f} {path_us:8.0f}")
    print("  (worker: the worker and the app's engine supervisor, its own process; devnet: the "
          "proxy and the client with its endpoint, which run on other machines in production; "
          "consumer: this process reading the answers)")
    busy = [f"{name} {100 * s / wall_s:.0f} %" for name, s in
            sorted(others.items(), key=lambda kv: -kv[1])[:3] if s > 0.01 * wall_s]
    total = max(0.0, others_total_s)
    print(f"beside the bench       : {100 * total / wall_s:.0f} % of a core used by other "
          f"programs during the rounds ({', '.join(busy) or 'nothing else busy'}); "
          f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps({"direct_tokens_per_s": round(statistics.median(direct.tokens_per_s), 2),
                      "path_tokens_per_s": round(statistics.median(path.tokens_per_s), 2),
                      "ratio": round(ratio, 4), "engine_threads": threads,
                      "added_first_token_ms": round(added_ms, 1),
                      "worker_cpu_us_per_token": round(path.cpu_us_per_token("worker")),
                      "devnet_cpu_us_per_token": round(path.cpu_us_per_token("devnet")),
                      "others_percent_of_a_core": round(100 * total / wall_s, 1)}))


def main(args: argparse.Namespace) -> None:
    slots = max(1, args.concurrency)
    devnet = Part("devnet")
    worker: Part | None = None
    try:
        facts = devnet.facts()
        worker = Part("worker", json.dumps(facts), str(slots), str(args.hold_ms / 1000),
                      str(args.threads))
        engine = worker.facts()
        processes = {"worker": psutil.Process(worker.process.pid),
                     "devnet": psutil.Process(devnet.process.pid),
                     "consumer": psutil.Process(), "engine": psutil.Process(engine["engine_pid"])}
        direct = Side("straight to the engine", f"{engine['engine_url']}/v1/chat/completions",
                      engine["engine_token"])
        path = Side("through the Cocoon path", f"{facts['http_url']}/v1/chat/completions",
                    facts["http_token"])
        ours = {p.pid for p in processes.values()} | {
            c.pid for c in processes["engine"].children(recursive=True)}
        asyncio.run(warm_up(direct, path, processes))
        others, busy, started = others_cpu_s(ours), machine_busy_s(), time.perf_counter()
        asyncio.run(compare(args, direct, path, processes))
        wall_s, busy = time.perf_counter() - started, machine_busy_s() - busy
        after = others_cpu_s(ours)
        used = {name: after[name] - others.get(name, 0.0) for name in after}
        ours_s = sum(direct.cpu.values()) + sum(path.cpu.values())
        report(direct, path, used, busy - ours_s, wall_s, args.threads)
    finally:
        if worker is not None:
            worker.stop()
        devnet.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2,
                        help="the engine's threads (2: every core of this machine)")
    parser.add_argument("--hold-ms", type=float, default=HOLD_S * 1000,
                        help="the worker's answer_part_hold_s, in ms (how long a token may "
                             "wait for others to join its answer part)")
    main(parser.parse_args())
