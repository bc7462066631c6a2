"""What a decode pass with more tokens per sequence yields on this machine, and so the most any
speculation can gain here (bench/speculative.py prints it beside its own figures).

    .venv/bin/python bench/pass_curve.py [--sequences 8] [--most 5]

`N` sequences, each holding `PROMPT_TOKENS` tokens of KV, decode passes of m tokens per
sequence (m = 1 .. most; with one KV stream per sequence llama.cpp gives every sequence of a
pass the same number) and the tokens/s of each m is printed as a ratio to m = 1. With drafts
accepted at a per-token rate a, a step that carries k drafts per sequence yields
1 + a + ... + a^k tokens per sequence for the price of a pass with k + 1, so no draft
length can give more than `ceiling(curve, a)`. Acceptance varies from draft to draft, so
`lockstep_bound` replays real greedy answers instead: the engine's own prompt lookup drafts at
each step, and a policy that knew in advance how many tokens of each draft hold picks the
step's one draft length (all sequences carry it, as in the engine); its tokens/s while every
sequence generates, over one token per step, bounds what the engine's choice can reach with
these drafts on this machine. Run it with nothing else busy: it times passes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from cocoon_desktop.engine.process.batch import TokenBatch
    from cocoon_desktop.engine.process.llama_native import NativeContext

PROMPT_TOKENS = 700  # about the summarize workload's prompt
ROUNDS, PASSES = 4, 4  # medians of ROUNDS rounds, each the median of PASSES passes per m


def measure(model_file: Path, sequences: int, most: int, threads: int) -> dict[int, float]:
    """Tokens/s of passes with m tokens per sequence over that of m = 1, for m = 1 .. most."""
    from cocoon_desktop.engine.process.batch import TokenBatch
    from cocoon_desktop.engine.process.llama_native import NativeContext, NativeModel

    model = NativeModel(model_file, gpu_layers=0)
    context = NativeContext(model, n_ctx=2048 * sequences, n_seq_max=sequences, n_batch=512,
                            threads=threads)
    batch = TokenBatch(512)
    rng = random.Random(1)
    try:
        for seq_id in range(sequences):  # each sequence holds a prompt's KV
            for start in range(0, PROMPT_TOKENS, 256):
                batch.clear()
                count = min(256, PROMPT_TOKENS - start)
                batch.add_run([rng.randrange(1000, 40000) for _ in range(count)], start, seq_id)
                _decode(context, batch)
        seconds: dict[int, list[float]] = {}
        for _ in range(ROUNDS):  # the sizes interleaved, so a drift in load hits them alike
            for m in range(1, most + 1):
                times = []
                for _ in range(PASSES):
                    batch.clear()
                    for seq_id in range(sequences):
                        batch.add_run([rng.randrange(1000, 40000) for _ in range(m)],
                                      PROMPT_TOKENS, seq_id, logits_on_all=True)
                    started = time.perf_counter()
                    _decode(context, batch)
                    times.append(time.perf_counter() - started)
                    for seq_id in range(sequences):
                        context.remove_tokens(seq_id, PROMPT_TOKENS)
                seconds.setdefault(m, []).append(statistics.median(times))
        one = statistics.median(seconds[1])
        return {m: m * one / statistics.median(values) for m, values in seconds.items()}
    finally:
        batch.close()
        context.close()
        model.close()


def _decode(context: NativeContext, batch: TokenBatch) -> None:
    status = context.decode(batch.native)
    if status != 0:
        raise RuntimeError(f"llama_decode failed with status {status}")


def ceiling(curve: dict[int, float], acceptance: float) -> tuple[float, int]:
    """The most tokens/s any draft length gives over none, with every drafted token kept at
    `acceptance` given the ones before it were, and that length."""
    best, best_length = 1.0, 0
    for m, speed in curve.items():
        length = m - 1
        tokens = sum(acceptance ** i for i in range(length + 1))
        gain = speed * tokens / m
        if gain > best:
            best, best_length = gain, length
    return best, best_length


def greedy_answers(model_file: Path, texts: list[str], tokens: int, threads: int
                   ) -> list[tuple[list[int], list[int]]]:
    """(prompt tokens, answer tokens) of each text answered at once, greedy, no speculation."""
    import threading

    from cocoon_desktop.engine.process.inference import (
        GenerationEvent,
        GenerationRequest,
        InferenceCore,
        SamplingParams,
        TokenDelta,
    )
    from cocoon_desktop.engine.types import EngineSettings

    settings = EngineSettings(model_path=model_file, model_name="bench",
                              context_tokens=2048 * len(texts), parallel_sequences=len(texts),
                              threads=threads, speculative=False)
    with InferenceCore(settings) as core:
        rendered = [core.render_chat([{"role": "user", "content": t}]) for t in texts]
        prompts = [core.tokenize(r, add_special=False) for r in rendered]
        answers = [""] * len(texts)
        done = [threading.Event() for _ in texts]

        def sink_for(index: int) -> Callable[[GenerationEvent], None]:
            def sink(event: GenerationEvent) -> None:
                if isinstance(event, TokenDelta):
                    answers[index] += event.text
                else:
                    done[index].set()
            return sink

        for index, prompt in enumerate(prompts):
            core.start(GenerationRequest(f"bound-{index}", tuple(prompt), SamplingParams(
                max_tokens=tokens, temperature=0)), sink_for(index))
        for event in done:
            if not event.wait(600):
                raise RuntimeError("a greedy answer did not finish in 10 minutes")
        # The answer's tokens: its text tokenized after the prompt (the template ends with a
        # special token, so the prompt's tokens stay as they were).
        return [(prompt, core.tokenize(text + answer, add_special=False)[len(prompt):])
                for prompt, text, answer in zip(prompts, rendered, answers, strict=True)]


def lockstep_bound(curve: dict[int, float], answers: list[tuple[list[int], list[int]]]
                   ) -> float:
    """Tokens/s over plain decoding of the best step-by-step draft length, known in advance,
    while every sequence still generates (see the module's docstring)."""
    from cocoon_desktop.engine.process.speculative import NgramIndex

    most = max(curve) - 1
    indexes = [NgramIndex() for _ in answers]
    positions = [0] * len(answers)
    produced = spent = 0.0
    while all(p < len(answer) - 1 for p, (_, answer) in zip(positions, answers, strict=True)):
        held: list[tuple[int, int]] = []  # per sequence: (drafted, tokens of it that hold)
        for index, (prompt, answer) in enumerate(answers):
            p = positions[index]
            draft = indexes[index].propose(prompt + answer[:p], answer[p], most)
            future = answer[p + 1:]
            hold = next((i for i, (a, b) in enumerate(zip(draft, future, strict=False))
                         if a != b), min(len(draft), len(future)))
            held.append((len(draft), hold))

        def step_rate(length: int, held: list[tuple[int, int]] = held) -> float:
            kept = sum(1 + min(hold, length) for _, hold in held)
            return kept * curve[length + 1] / (length + 1)

        length = max(range(most + 1), key=step_rate)
        for index, (_, hold) in enumerate(held):
            positions[index] += 1 + min(hold, length)
        produced += sum(1 + min(hold, length) for _, hold in held)
        spent += (length + 1) / curve[length + 1]  # in one-token passes
    return produced / len(answers) / spent if spent else 1.0


def describe(curve: dict[int, float], sequences: int) -> str:
    return (f"passes of N={sequences} sequences with m = 1..{max(curve)} tokens each: tokens/s "
            + " ".join(f"{curve[m]:.2f}" for m in sorted(curve)) + " x that of m = 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--most", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from concurrency import model_path

    curve = measure(model_path(), args.sequences, args.most, args.threads)
    print(describe(curve, args.sequences))
    for acceptance in (0.6, 0.8, 0.9, 1.0):
        gain, length = ceiling(curve, acceptance)
        print(f"  drafts kept at {acceptance:.0%}: at most {gain:.2f} x (drafts of {length})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
