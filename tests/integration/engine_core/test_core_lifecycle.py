"""Request life cycle on real llama.cpp: cancel, capacity, bad input, close, failures."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from cocoon_desktop.engine.process.inference import (
    EngineClosed,
    GenerationFinished,
    GenerationRequest,
    InferenceCore,
    InvalidRequest,
    NoFreeSequence,
    PromptTooLong,
    SamplingParams,
    TokenDelta,
)
from cocoon_desktop.engine.process.llama_native import NativeContext
from tests.integration.engine_core.core_harness import Collector, chat_tokens, generate

pytestmark = pytest.mark.engine
LONG = SamplingParams(max_tokens=400, temperature=0)
MakeCore = Callable[..., InferenceCore]


def test_cancel_from_the_event_sink_stops_at_that_token(core: InferenceCore) -> None:
    handle_box: list = []

    def cancel_at_fifth(delta: TokenDelta) -> None:
        if delta.completion_tokens == 5:
            handle_box[0].cancel()

    sink = Collector(on_delta=cancel_at_fifth)
    handle_box.append(core.start(GenerationRequest(
        "c", chat_tokens(core, "Write a long essay about clouds."), LONG), sink))
    finished = sink.wait()
    assert finished.finish_reason == "cancelled"
    assert finished.completion_tokens == 5
    assert [e.completion_tokens for e in sink.events if isinstance(e, TokenDelta)][-1] == 5


def test_cancel_from_another_thread_stops_within_one_token(core: InferenceCore) -> None:
    sink = Collector()
    handle = core.start(GenerationRequest(
        "c2", chat_tokens(core, "Write a long essay about rivers."), LONG), sink)
    assert sink.delta_seen.wait(60)
    seen = sink.events[-1].completion_tokens
    handle.cancel()
    finished = sink.wait()
    assert finished.finish_reason == "cancelled"
    assert seen <= finished.completion_tokens <= seen + 2  # the step in flight may finish
    assert core.active_count == 0


def test_cancel_right_after_start_ends_at_once(core: InferenceCore) -> None:
    sink = Collector()
    core.start(GenerationRequest("quick", chat_tokens(core, "Write a long essay about ice."),
                                 LONG), sink).cancel()
    finished = sink.wait()
    assert finished.finish_reason == "cancelled"
    assert finished.completion_tokens <= 1


def test_capacity_is_enforced_and_freed_on_finish(make_core: MakeCore) -> None:
    small = make_core(parallel_sequences=2, context_tokens=1024)
    prompt = chat_tokens(small, "Write a long essay about snow.")
    sinks = [Collector(), Collector()]
    handles = [small.start(GenerationRequest(f"r{i}", prompt, LONG), sink)
               for i, sink in enumerate(sinks)]
    assert small.active_count == 2
    with pytest.raises(NoFreeSequence, match="All 2 parallel sequences are busy"):
        small.start(GenerationRequest("r3", prompt, LONG), Collector())
    handles[0].cancel()
    assert sinks[0].wait().finish_reason == "cancelled"
    third = Collector()
    small.start(GenerationRequest("r3", prompt, SamplingParams(max_tokens=2)), third)
    assert third.wait().completion_tokens == 2
    handles[1].cancel()
    sinks[1].wait()
    assert small.active_count == 0


def test_prompt_limits_and_bad_tokens(make_core: MakeCore) -> None:
    small = make_core(parallel_sequences=2, context_tokens=512)  # 256 tokens per sequence
    limit = small.info.context_tokens_per_sequence
    assert limit == 256
    filler = small.tokenize("word " * 400, add_special=False)
    with pytest.raises(PromptTooLong, match=f"at most {limit} tokens"):
        small.start(GenerationRequest("big", tuple(filler[:limit]), LONG), Collector())
    # the largest prompt that fits: its first token fills the last KV cell, and the second
    # comes from that cell's logits and needs no cell of its own
    _, finished = generate(small, tuple(filler[:limit - 1]), LONG)
    assert finished.finish_reason == "length" and finished.completion_tokens == 2
    with pytest.raises(InvalidRequest, match="empty"):
        small.start(GenerationRequest("empty", (), LONG), Collector())
    with pytest.raises(InvalidRequest, match="outside this model's vocabulary"):
        small.start(GenerationRequest("oov", (1, 10**7), LONG), Collector())
    assert small.active_count == 0


def test_repeated_prefix_is_reported_as_cached_tokens(make_core: MakeCore) -> None:
    fresh = make_core(parallel_sequences=2, context_tokens=2048)
    messages = [{"role": "user", "content": "Name a planet."}]
    prompt = tuple(fresh.tokenize(fresh.render_chat(messages), add_special=False))
    answer, first = generate(fresh, prompt, SamplingParams(max_tokens=12, temperature=0))
    assert first.cached_tokens == 0
    _, again = generate(fresh, prompt, SamplingParams(max_tokens=12, temperature=0))
    assert again.cached_tokens == len(prompt) - 1  # the last prompt token is always decoded
    follow_up = [*messages, {"role": "assistant", "content": answer},
                 {"role": "user", "content": "And another one?"}]
    longer = tuple(fresh.tokenize(fresh.render_chat(follow_up), add_special=False))
    _, third = generate(fresh, longer, SamplingParams(max_tokens=4, temperature=0))
    assert third.cached_tokens >= len(prompt)
    assert third.prompt_tokens == len(longer)


def test_kv_space_is_reclaimed_over_many_requests(make_core: MakeCore) -> None:
    small = make_core(parallel_sequences=2, context_tokens=512)  # 256 tokens per sequence
    words = ["river", "stone", "cloud", "maple", "ember", "frost", "tide", "dune"]
    for round_index in range(12):
        word = words[round_index % len(words)]
        prompt = tuple(small.tokenize(f"{round_index} {word} " * 80, add_special=False)[:170])
        _, finished = generate(small, prompt, SamplingParams(max_tokens=40, temperature=0))
        assert finished.finish_reason == "length", finished.error
        kv = small.stats.kv_tokens_per_sequence
        assert max(kv) == len(prompt) + 40 - 1  # prompt + answer, less the undecoded last token
        assert all(cells <= small.info.context_tokens_per_sequence for cells in kv)
    assert small.stats.requests_finished == 12


def test_close_ends_every_request_with_an_error(make_core: MakeCore) -> None:
    closing = make_core(parallel_sequences=2, context_tokens=1024)
    prompt = chat_tokens(closing, "Write a long essay about bridges.")
    running = [Collector(), Collector()]
    for index, sink in enumerate(running):
        closing.start(GenerationRequest(f"run{index}", prompt, LONG), sink)
    assert all(sink.delta_seen.wait(60) for sink in running)
    closing.close()
    for sink in running:
        finished = sink.wait()
        assert (finished.finish_reason, finished.error) == ("error", "engine stopping")
    with pytest.raises(EngineClosed):
        closing.start(GenerationRequest("late", prompt, LONG), Collector())
    with pytest.raises(EngineClosed):
        closing.tokenize("hello", add_special=False)
    closing.close()  # twice is fine


def failing_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Simulates GPU decode failures (CUDA out of memory) at the llama.cpp boundary: this
    machine has no GPU, and a CPU decode of valid input does not fail. Returns a list: while
    it holds a number, each decode fails and takes one off (the number counts down)."""
    real_decode = NativeContext.decode
    failures: list[int] = []

    def decode(self: NativeContext, batch: object) -> int:
        if failures and failures[0] > 0:
            failures[0] -= 1
            return -3
        return real_decode(self, batch)

    monkeypatch.setattr(NativeContext, "decode", decode)
    return failures


def two_requests_failing_at_third_token(core: InferenceCore, failures: list[int],
                                        times: int, params: SamplingParams
                                        ) -> list[tuple[str, GenerationFinished]]:
    prompt = chat_tokens(core, "Write a long essay about glass.")

    def fail_at_third(delta: TokenDelta) -> None:
        if delta.completion_tokens == 3 and not failures:
            failures.append(times)

    sinks = [Collector(on_delta=fail_at_third), Collector()]
    for index, sink in enumerate(sinks):
        core.start(GenerationRequest(f"f{index}", prompt, params), sink)
    finished = [sink.wait() for sink in sinks]
    return [(sink.text, end) for sink, end in zip(sinks, finished, strict=True)]


def test_a_failed_decode_decodes_the_caches_again_and_loses_nothing(
        make_core: MakeCore, monkeypatch: pytest.MonkeyPatch) -> None:
    params = SamplingParams(max_tokens=40, temperature=0)
    failures = failing_decodes(monkeypatch)
    core = make_core(parallel_sequences=2, context_tokens=1024)
    expected, _ = generate(core, chat_tokens(core, "Write a long essay about glass."), params)
    results = two_requests_failing_at_third_token(core, failures, 1, params)
    assert failures == [0]  # one decode failed
    assert [(text, finished.finish_reason) for text, finished in results] == [
        (expected, "length")] * 2


def test_a_failed_decode_while_a_prompt_is_read_reads_it_again_from_its_start(
        make_core: MakeCore, monkeypatch: pytest.MonkeyPatch) -> None:
    params = SamplingParams(max_tokens=20, temperature=0)
    failures = failing_decodes(monkeypatch)
    core = make_core(parallel_sequences=1, context_tokens=1024)
    prompt = chat_tokens(core, "Write a long essay about glass.")
    expected, _ = generate(core, prompt, params)
    again, cached = generate(core, prompt, params)
    assert again == expected and cached.cached_tokens == len(prompt) - 1
    failures.append(1)  # the repeat's first decode: the one token of its prompt not cached
    text, finished = generate(core, prompt, params)
    assert failures == [0]
    assert (text, finished.finish_reason) == (expected, "length")
    assert finished.cached_tokens == 0  # its cached prefix was decoded again too


def test_a_decode_that_fails_again_ends_its_requests_and_the_core_keeps_serving(
        make_core: MakeCore, monkeypatch: pytest.MonkeyPatch) -> None:
    failures = failing_decodes(monkeypatch)
    core = make_core(parallel_sequences=2, context_tokens=1024)
    results = two_requests_failing_at_third_token(core, failures, 2, LONG)
    assert failures == [0]  # the step failed, and so did decoding the caches again
    for _, finished in results:
        assert finished.finish_reason == "error"
        assert "failed to decode" in (finished.error or "")
    assert core.stats.kv_tokens_per_sequence == (0, 0)  # the failed sequences were cleared
    text, finished = generate(core, chat_tokens(core, "Say hi."),
                              SamplingParams(max_tokens=5, temperature=0))
    assert finished.finish_reason == "length" and text


def test_a_sink_that_raises_ends_only_its_own_request(core: InferenceCore) -> None:
    def broken(event: object) -> None:
        if isinstance(event, GenerationFinished):
            broken_done.set()
        raise RuntimeError("sink bug")

    broken_done = threading.Event()
    prompt = chat_tokens(core, "Write a long essay about salt.")
    healthy = Collector()
    core.start(GenerationRequest("broken", prompt, LONG), broken)
    core.start(GenerationRequest("healthy", prompt, SamplingParams(max_tokens=20)), healthy)
    assert broken_done.wait(60)
    assert healthy.wait().completion_tokens == 20


def test_info_describes_the_loaded_engine(core: InferenceCore) -> None:
    info = core.info
    assert (info.capacity, info.context_tokens_total) == (4, 4096)
    assert info.context_tokens_per_sequence == 1024
    assert info.n_ctx_train == 8192
    assert info.kv_bytes_per_token * 4096 == 90 * 1024**2  # llama.cpp's own KV buffer size
    assert not info.supports_gpu_offload  # this machine's llama.cpp is a CPU build
    assert info.gpu_layers_offloaded == 0
