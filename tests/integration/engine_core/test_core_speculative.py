"""Speculative decoding with real llama.cpp: the same text as without it, drafts that count.

Each comparison runs the same prompts on a core with speculation and one without. The
sequences stay under 256 KV cells: beyond that llama.cpp's CPU attention sums a lone
one-token query in another order than a several-token one (its split-KV path), which can flip
a near-tie in either engine, speculating or not (see docs/areas/inference.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from cocoon_desktop.engine.process import llama_native, scheduler
from cocoon_desktop.engine.process.inference import (
    GenerationRequest,
    InferenceCore,
    ModelLoadError,
    SamplingParams,
)
from cocoon_desktop.engine.process.pass_cost import PassCost
from cocoon_desktop.engine.process.prefix_cache import common_prefix_length
from cocoon_desktop.engine.process.speculative import DraftOffer, step_draft_length
from cocoon_desktop.engine.types import EngineSettings
from tests.helpers.tiny_gguf import write_tiny_llama
from tests.integration.engine_core.conftest import bundled_model_path
from tests.integration.engine_core.core_harness import (
    Collector,
    chat_tokens,
    generate,
    generate_together,
)

pytestmark = pytest.mark.engine
MakeCore = Callable[..., InferenceCore]
REPEATING = [
    "Repeat this list exactly, twice: apple, river, stone, cloud, lamp, orange, bridge.",
    "Copy this sentence word for word: The harbor council met on Tuesday to discuss the new "
    "breakwater on the north pier.",
    "Write the numbers from 1 to 30, separated by commas.",
    "Quote the line 'To be, or not to be, that is the question' three times.",
]
GREEDY = SamplingParams(max_tokens=60, temperature=0)
Texts = list[tuple[str, int, str]]


@pytest.fixture(autouse=True)
def fixed_pass_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """How much to draft depends on acceptance and on the measured cost of a token in a pass,
    which follows this machine's load; keeping the cost at its prior makes what is drafted
    (and so what these tests check) the same on a quiet or a busy machine."""
    monkeypatch.setattr(PassCost, "add", lambda self, tokens, seconds, sequences=1: None)


def _texts(core: InferenceCore, params: SamplingParams, prompts: list[str] = REPEATING
           ) -> Texts:
    out = []
    for text in prompts:
        answer, finished = generate(core, chat_tokens(core, text), params)
        out.append((answer, finished.completion_tokens, finished.finish_reason))
    return out


@pytest.fixture(scope="module")
def plain_greedy(base_settings: EngineSettings) -> tuple[Texts, int]:
    """The greedy answers of a fresh core without speculation, and its decode steps."""
    with InferenceCore(replace(base_settings, speculative=False)) as plain:
        assert plain.info.speculation == "off"
        texts = _texts(plain, GREEDY)
        assert plain.stats.draft_tokens_total == 0
        return texts, plain.stats.steps


def test_greedy_text_is_the_same_with_and_without_speculation(
        make_core: MakeCore, plain_greedy: tuple[Texts, int]) -> None:
    fast = make_core(speculative=True)
    assert fast.info.speculation == "prompt lookup"
    expected, plain_steps = plain_greedy
    assert _texts(fast, GREEDY) == expected
    stats = fast.stats
    assert stats.draft_tokens_accepted_total > 20  # the drafts did the work, and were checked
    assert stats.draft_tokens_accepted_total <= stats.draft_tokens_total
    assert stats.steps < plain_steps  # fewer decode steps for the same tokens


def test_several_sequences_at_once_give_the_same_text(
        make_core: MakeCore, plain_greedy: tuple[Texts, int]) -> None:
    fast = make_core(speculative=True)
    alone = [answer for answer, _, _ in plain_greedy[0]]
    together = generate_together(fast, [(chat_tokens(fast, t), GREEDY) for t in REPEATING])
    assert [answer for answer, _ in together] == alone
    assert all(done.completion_tokens == 60 or done.finish_reason == "stop"
               for _, done in together)
    assert fast.stats.draft_tokens_accepted_total > 0


def test_a_full_batch_learns_its_acceptance_without_drafting_and_starts_to(
        make_core: MakeCore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four sequences copying a list: with every sequence at the starting acceptance
    estimate a draft does not pay for four padded rows on a CPU, so a batch that only learnt
    from verified drafts never drafted while full. The drafts it did not carry are checked
    against what was sampled, and once they prove right the full batch drafts."""
    choices: list[tuple[int, int]] = []

    def recording(offers: list[DraftOffer], pass_time: Callable[[int], float],
                  most: int) -> int:
        length = step_draft_length(offers, pass_time, most)
        choices.append((len(offers), length))
        return length

    monkeypatch.setattr(scheduler, "step_draft_length", recording)
    core = make_core(speculative=True)
    prompt = chat_tokens(core, REPEATING[0])  # a list, twice
    params = SamplingParams(max_tokens=120, temperature=0)
    together = generate_together(core, [(prompt, params)] * 4)
    assert len({answer for answer, _ in together}) == 1
    full = [length for sequences, length in choices if sequences == 4]
    assert len(full) >= 6 and full[0] == 0  # it starts without drafts ...
    assert sum(length > 0 for length in full) >= 3  # ... and learns to draft


def test_seeded_sampling_gives_the_same_text(make_core: MakeCore) -> None:
    """Above temperature 0 each kept token is the target's own draw (one per token, in
    order), so a seed gives the same text with and without drafts."""
    params = SamplingParams(max_tokens=50, temperature=0.8, top_p=0.95, seed=1234)
    penalised = SamplingParams(max_tokens=50, temperature=0, repeat_penalty=1.05)
    plain = make_core(speculative=False)
    fast = make_core(speculative=True)
    prompts = REPEATING[:2]
    assert _texts(fast, params, prompts) == _texts(plain, params, prompts)
    assert _texts(fast, penalised, prompts) == _texts(plain, penalised, prompts)
    assert fast.stats.draft_tokens_accepted_total > 0


def test_stops_and_max_tokens_cut_drafts_exactly(make_core: MakeCore) -> None:
    plain = make_core(speculative=False)
    fast = make_core(speculative=True)
    prompt_text = "Write the numbers from 1 to 30, separated by commas."
    for params in (SamplingParams(max_tokens=7, temperature=0),
                   SamplingParams(max_tokens=60, temperature=0, stop=("15",)),
                   SamplingParams(max_tokens=60, temperature=0, stop=(", 2",))):
        want = generate(plain, chat_tokens(plain, prompt_text), params)
        got = generate(fast, chat_tokens(fast, prompt_text), params)
        assert got[0] == want[0]
        assert (got[1].completion_tokens, got[1].finish_reason) == \
            (want[1].completion_tokens, want[1].finish_reason)
    assert fast.stats.draft_tokens_total > 0


def test_the_kv_cache_stays_right_after_rejected_drafts(make_core: MakeCore) -> None:
    """A follow-up reuses the first answer's KV (rejected drafts dropped from it): its text
    equals a core's without speculation, and the KV holds no more than was generated."""
    plain = make_core(speculative=False, parallel_sequences=1, context_tokens=1024)
    fast = make_core(speculative=True, parallel_sequences=1, context_tokens=1024)
    results = []
    for core in (plain, fast):
        first = chat_tokens(core, REPEATING[0])
        answer, done = generate(core, first, GREEDY)
        assert core.stats.kv_tokens_per_sequence[0] <= len(first) + done.completion_tokens
        follow = core.render_chat([{"role": "user", "content": REPEATING[0]},
                                   {"role": "assistant", "content": answer},
                                   {"role": "user", "content": "Now once more."}])
        again, done_again = generate(core, tuple(core.tokenize(follow, add_special=False)),
                                     SamplingParams(max_tokens=30, temperature=0))
        assert done_again.cached_tokens > len(first)
        results.append(again)
    assert results[0] == results[1]


def test_a_draft_model_of_the_same_family_gives_the_same_text(
        make_core: MakeCore, plain_greedy: tuple[Texts, int]) -> None:
    drafted = make_core(draft_model_path=bundled_model_path())  # SmolLM2 drafts for itself
    assert drafted.info.speculation == f"draft model {bundled_model_path().name}"
    assert _texts(drafted, GREEDY, REPEATING[:2]) == plain_greedy[0][:2]
    stats = drafted.stats
    assert stats.draft_tokens_total > 15
    # itself, greedy: every draft is kept but those past the end of an answer
    assert stats.draft_tokens_accepted_total / stats.draft_tokens_total > 0.75


def test_a_draft_model_with_another_vocabulary_is_refused(make_core: MakeCore,
                                                          tmp_path: Path) -> None:
    other = write_tiny_llama(tmp_path / "tiny.gguf")
    with pytest.raises(ModelLoadError, match="different vocabulary") as caught:
        make_core(draft_model_path=other)
    assert "tiny.gguf" in str(caught.value) and "same" in str(caught.value)


def test_a_missing_draft_model_is_refused_before_loading(make_core: MakeCore,
                                                         tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        make_core(draft_model_path=tmp_path / "absent.gguf")


def test_a_new_prompt_copies_a_running_jobs_shared_prefix(make_core: MakeCore) -> None:
    """Two jobs with the same long system prompt: the second gets the first's KV copied
    (llama.cpp's sequence copy) while the first still runs, and answers exactly as it does
    when it reuses that prefix in its own slot."""
    system = ("You are the assistant of the Port Alder harbor council. Answer briefly, quote "
              "names exactly, and never invent numbers. ") * 3
    first = [{"role": "system", "content": system}, {"role": "user", "content": "Count to 40."}]
    second = [{"role": "system", "content": system},
              {"role": "user", "content": "Who leads the council?"}]
    reused = make_core(speculative=False, parallel_sequences=1, context_tokens=1024)
    first_tokens = tuple(reused.tokenize(reused.render_chat(first), add_special=False))
    tokens = tuple(reused.tokenize(reused.render_chat(second), add_special=False))
    shared = common_prefix_length(first_tokens, tokens)
    generate(reused, first_tokens, SamplingParams(max_tokens=1, temperature=0))
    expected, own = generate(reused, tokens, GREEDY)
    assert own.cached_tokens == shared > 60

    core = make_core(speculative=False)
    runner = Collector()
    core.start(GenerationRequest("first", first_tokens,
                                 SamplingParams(max_tokens=120, temperature=0)), runner)
    assert runner.delta_seen.wait(120)  # its prompt is in its KV now, and it keeps going
    text, finished = generate(core, tokens, GREEDY)
    runner.wait()
    assert finished.cached_tokens == shared
    assert core.stats.shared_prefix_tokens_total == shared
    assert text == expected


def test_a_cancel_stops_a_drafting_sequence_within_one_step(make_core: MakeCore) -> None:
    core = make_core(speculative=True)
    handle_box: list[object] = []
    seen: list[int] = []

    def cancel_once_drafting(delta: object) -> None:
        seen.append(delta.completion_tokens)  # type: ignore[attr-defined]
        if core.stats.draft_tokens_accepted_total > 0 and seen[-1] > 40:
            handle_box[0].cancel()  # type: ignore[attr-defined]

    sink = Collector(on_delta=cancel_once_drafting)
    prompt = chat_tokens(core, "Write the numbers from 1 to 300, separated by commas.")
    handle_box.append(core.start(GenerationRequest("count", prompt, SamplingParams(
        max_tokens=500, temperature=0)), sink))
    finished = sink.wait()
    assert finished.finish_reason == "cancelled"
    assert finished.completion_tokens == seen[-1]  # nothing after the step that saw the cancel
    assert core.stats.draft_tokens_accepted_total > 0


def test_a_sequence_whose_drafts_cannot_be_dropped_decodes_its_cache_again(
        make_core: MakeCore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulates llama.cpp refusing to trim a sequence's KV after a rejected draft (it does
    not on a CPU with a plain model; `remove_tokens` then clears the sequence): the request
    decodes what its cache held again and goes on, its text unchanged."""
    prompt_text = "Write the numbers from 1 to 30, separated by commas."
    params = SamplingParams(max_tokens=120, temperature=0)
    plain = make_core(speculative=False)
    expected, _ = generate(plain, chat_tokens(plain, prompt_text), params)
    core = make_core(speculative=True)
    prompt = chat_tokens(core, prompt_text)
    real_rm = llama_native.llama.llama_memory_seq_rm
    refused: list[int] = []

    def seq_rm(memory: object, seq_id: int, start: int, end: int) -> bool:
        if start > len(prompt) and len(refused) < 3:  # past the prompt: rejected drafts
            refused.append(start)
            return False
        return bool(real_rm(memory, seq_id, start, end))

    monkeypatch.setattr(llama_native.llama, "llama_memory_seq_rm", seq_rm)
    text, finished = generate(core, prompt, params)
    assert len(refused) == 3  # three rejected drafts were not dropped
    assert finished.finish_reason == "length" and finished.completion_tokens == 120
    assert text == expected
    # the cache now matches the request's tokens: a repeat reuses its prompt
    _, again = generate(core, prompt, SamplingParams(max_tokens=2, temperature=0))
    assert again.cached_tokens == len(prompt) - 1
