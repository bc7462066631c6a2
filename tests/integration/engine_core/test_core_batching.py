"""Continuous batching with real llama.cpp: the same text alone or beside other requests."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from cocoon_desktop.engine.process import llama_native
from cocoon_desktop.engine.process.inference import GenerationRequest, InferenceCore, SamplingParams
from tests.integration.engine_core.conftest import bundled_model_path
from tests.integration.engine_core.core_harness import (
    Collector,
    chat_tokens,
    generate,
    generate_together,
)

pytestmark = pytest.mark.engine
GREEDY = SamplingParams(max_tokens=40, temperature=0)
TOPICS = ["the sea", "a mountain village", "robots", "autumn leaves"]


def test_greedy_text_alone_equals_text_beside_three_others(core: InferenceCore) -> None:
    prompts = [chat_tokens(core, f"Write a short poem about {topic}.") for topic in TOPICS]
    alone = [generate(core, prompt, GREEDY)[0] for prompt in prompts]
    together = generate_together(core, [(prompt, GREEDY) for prompt in prompts])
    assert [text for text, _ in together] == alone
    assert all(finished.finish_reason == "length" for _, finished in together)
    assert all(finished.completion_tokens == 40 for _, finished in together)
    assert len(set(alone)) == len(alone)  # four different texts, not one repeated


def test_requests_join_and_leave_between_steps(core: InferenceCore) -> None:
    long_prompt = chat_tokens(core, "Describe how bread is baked, step by step.")
    long_params = SamplingParams(max_tokens=60, temperature=0)
    expected, _ = generate(core, long_prompt, long_params)

    joined = threading.Event()
    short_sinks: list[Collector] = []

    def join_after_some_tokens(delta: object) -> None:
        if len(long_sink.events) == 10 and not joined.is_set():
            joined.set()  # join mid-generation, from the decode thread, between two steps
            for index in range(2):
                sink = Collector()
                short_sinks.append(sink)
                core.start(GenerationRequest(f"short-{index}", chat_tokens(core, f"Count {index}"),
                                             SamplingParams(max_tokens=5, temperature=0)), sink)

    long_sink = Collector(on_delta=join_after_some_tokens)
    steps_before = core.stats.steps
    core.start(GenerationRequest("long", long_prompt, long_params), long_sink)
    finished = long_sink.wait()
    short_finished = [sink.wait() for sink in short_sinks]
    assert joined.is_set() and len(short_finished) == 2
    assert all(f.finish_reason == "length" and f.completion_tokens == 5 for f in short_finished)
    assert long_sink.text == expected
    assert finished.completion_tokens == 60
    # the short ones rode along in the long one's steps: no extra steps of their own
    assert core.stats.steps - steps_before <= 60 + 1


def test_the_decode_threads_time_and_llama_decodes_part_of_it_are_counted(
        core: InferenceCore) -> None:
    """What /metrics' step and decode seconds come from: the engine's own work per step is
    their difference (how the speculative bench shows what drafting costs where it fails)."""
    before = core.stats
    generate(core, chat_tokens(core, "Name three rivers."), GREEDY)
    after = core.stats
    stepped = after.step_seconds_total - before.step_seconds_total
    decoded = after.decode_seconds_total - before.decode_seconds_total
    assert 0 < decoded < stepped  # the prompt and the answer decoded; sampling and text too


def test_a_request_started_from_a_finished_event_runs_at_once(
        make_core: object) -> None:
    small = make_core(parallel_sequences=1, context_tokens=512)  # type: ignore[operator]
    prompt = chat_tokens(small, "Say something.")
    follow_up = Collector()

    def on_event(event: object) -> None:
        first(event)
        if first.done.is_set() and not follow_up.events:
            small.start(GenerationRequest("next", prompt, SamplingParams(max_tokens=3)),
                        follow_up)

    first = Collector()
    small.start(GenerationRequest("first", prompt, SamplingParams(max_tokens=3)), on_event)
    assert follow_up.wait().completion_tokens == 3


LENGTHS = [40, 6, 40, 40]  # the request in slot 1 ends first: slot 3's moves into the gap


def gap_jobs(plain: InferenceCore) -> tuple[list[tuple[int, ...]],
                                            list[tuple[tuple[int, ...], SamplingParams]],
                                            list[str]]:
    """Four greedy requests that leave a gap at slot 1, and each one's text decoded alone."""
    prompts = [chat_tokens(plain, f"Write a short poem about {topic}.") for topic in TOPICS]
    jobs = [(prompt, SamplingParams(max_tokens=length, temperature=0))
            for prompt, length in zip(prompts, LENGTHS, strict=True)]
    return prompts, jobs, [generate(plain, prompt, params)[0] for prompt, params in jobs]


@pytest.mark.parametrize("drafting", ["none", "prompt lookup", "draft model"])
def test_a_sequence_moved_into_a_gap_keeps_its_text(
        make_core: Callable[..., InferenceCore], drafting: str) -> None:
    """Four requests in slots 0-3; the one in slot 1 ends first, so slot 3's moves to slot 1
    (llama.cpp decodes only consecutive sequence ids in one pass): its KV, its drafts' state
    and its text must come along unchanged."""
    prompts, jobs, alone = gap_jobs(make_core(speculative=False))
    settings: dict[str, object] = {
        "none": {"speculative": False},
        "prompt lookup": {"speculative": True},
        "draft model": {"draft_model_path": bundled_model_path()},
    }[drafting]
    fresh = make_core(**settings)
    together = generate_together(fresh, jobs)
    assert [text for text, _ in together] == alone
    assert [finished.completion_tokens for _, finished in together] == LENGTHS
    assert fresh.stats.sequences_moved_total >= 1  # more where drafts end others early
    assert fresh.stats.active_sequences == 0
    # the slot the moved sequence took held the short request's cache: it was kept
    again = generate(fresh, prompts[1], SamplingParams(max_tokens=2, temperature=0))[1]
    assert again.cached_tokens == len(prompts[1]) - 1


@pytest.mark.parametrize("speculative", [False, True])
def test_a_move_that_loses_the_cache_decodes_it_again_and_loses_nothing(
        make_core: Callable[..., InferenceCore], monkeypatch: pytest.MonkeyPatch,
        speculative: bool) -> None:
    """llama.cpp failing to load a saved cache (out of memory on a GPU), injected at the
    library boundary: the real swap saves both sequences, clears them, and cannot load them
    back. The moved request's cache is decoded again and its text goes on unchanged."""
    prompts, jobs, alone = gap_jobs(make_core(speculative=False))
    loads: list[object] = []
    monkeypatch.setattr(llama_native.llama, "llama_state_seq_set_data",
                        lambda *args: loads.append(args) or 0)  # 0: nothing loaded
    core = make_core(speculative=speculative)
    together = generate_together(core, jobs)
    assert len(loads) == 1  # one move was tried, and failed
    assert [finished.finish_reason for _, finished in together] == ["length"] * 4
    assert [text for text, _ in together] == alone  # slot 3's request included
    assert [finished.completion_tokens for _, finished in together] == LENGTHS
    assert core.stats.sequences_moved_total == 0  # and no more tries: 2 stayed beside a gap
    assert core.stats.active_sequences == 0
    assert core.stats.kv_tokens_per_sequence[1] == 0  # the free slot's lost cache is forgotten
    # slot 3 holds its request again, decoded anew: a repeat of it reuses that cache
    again = generate(core, prompts[3], SamplingParams(max_tokens=2, temperature=0))[1]
    assert again.cached_tokens == len(prompts[3]) - 1


def test_a_move_that_cannot_save_a_cache_changes_nothing(
        make_core: Callable[..., InferenceCore], monkeypatch: pytest.MonkeyPatch) -> None:
    """Saving fails before anything is cleared: every request goes on where it is, and
    sequences stop moving (a gap then costs a pass, not a request)."""
    prompts, jobs, alone = gap_jobs(make_core(speculative=False))
    saves: list[object] = []
    monkeypatch.setattr(llama_native.llama, "llama_state_seq_get_data",
                        lambda *args: saves.append(args) or 0)  # 0 bytes saved
    core = make_core(speculative=False)
    together = generate_together(core, jobs)
    assert len(saves) == 1  # one move was tried, and failed
    assert [finished.finish_reason for _, finished in together] == ["length"] * 4
    assert [text for text, _ in together] == alone
    assert core.stats.sequences_moved_total == 0
    # the short request's cache stayed in slot 1
    again = generate(core, prompts[1], SamplingParams(max_tokens=2, temperature=0))[1]
    assert again.cached_tokens == len(prompts[1]) - 1
