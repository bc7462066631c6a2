"""Per-sequence sampling with real llama.cpp: seeds, penalties, stop strings, limits, EOG."""

from __future__ import annotations

import llama_cpp.llama_cpp as llama
import pytest

from cocoon_desktop.engine.process.batch import TokenBatch
from cocoon_desktop.engine.process.inference import InferenceCore, SamplingParams
from cocoon_desktop.engine.process.llama_native import NativeContext, NativeModel
from cocoon_desktop.engine.process.sampling import SequenceSampler
from cocoon_desktop.engine.types import EngineSettings
from tests.integration.engine_core.core_harness import chat_tokens, generate, generate_together

pytestmark = pytest.mark.engine


def test_same_seed_gives_the_same_text_alone_or_batched(core: InferenceCore) -> None:
    prompt = chat_tokens(core, "Invent a name for a new color.")
    seeded = SamplingParams(max_tokens=32, temperature=1.0, top_p=0.95, seed=1234)
    alone, _ = generate(core, prompt, seeded)
    other = chat_tokens(core, "List three fruits.")
    together = generate_together(core, [
        (other, SamplingParams(max_tokens=32, temperature=1.0, seed=99)),
        (prompt, seeded),
    ])
    assert together[1][0] == alone
    different_seed, _ = generate(core, prompt, SamplingParams(
        max_tokens=32, temperature=1.0, top_p=0.95, seed=4321))
    assert different_seed != alone


def test_penalties_apply_to_their_own_sequence_only(core: InferenceCore) -> None:
    prompt = chat_tokens(core, "Write a short poem about the sea.")  # it repeats its lines
    plain = SamplingParams(max_tokens=60, temperature=0)
    penalized = SamplingParams(max_tokens=60, temperature=0, repeat_penalty=1.5,
                               presence_penalty=1.5, frequency_penalty=1.0)
    plain_alone, _ = generate(core, prompt, plain)
    penalized_alone, _ = generate(core, prompt, penalized)
    assert penalized_alone != plain_alone
    assert plain_alone.count("endless blue") > penalized_alone.count("endless blue")
    together = generate_together(core, [(prompt, plain), (prompt, penalized)])
    assert [text for text, _ in together] == [plain_alone, penalized_alone]


def test_stop_string_across_tokens_ends_the_text_before_it(core: InferenceCore) -> None:
    prompt = chat_tokens(core, "Tell me about the history of Rome.")
    full, _ = generate(core, prompt, SamplingParams(max_tokens=48, temperature=0))
    words = full.split()
    stop = " ".join(words[5:7])  # two words: spans several tokens
    cut = full.index(stop)
    text, finished = generate(core, prompt, SamplingParams(max_tokens=48, temperature=0,
                                                           stop=(stop,)))
    assert finished.finish_reason == "stop"
    assert text == full[:cut]
    assert stop not in text


def test_max_tokens_ends_with_length(core: InferenceCore) -> None:
    prompt = chat_tokens(core, "Write an essay about trains.")
    text, finished = generate(core, prompt, SamplingParams(max_tokens=7, temperature=0))
    assert finished.finish_reason == "length"
    assert finished.completion_tokens == 7
    assert text


def test_end_of_generation_token_stops_and_is_never_shown(core: InferenceCore) -> None:
    prompt = chat_tokens(core, "Reply with just the word: yes")
    text, finished = generate(core, prompt, SamplingParams(max_tokens=200, temperature=0))
    assert finished.finish_reason == "stop"
    assert finished.completion_tokens < 200
    assert "<|im_end|>" not in text and "<|endoftext|>" not in text


def test_multibyte_text_streams_as_whole_characters(core: InferenceCore) -> None:
    prompt = chat_tokens(core, "Write the word 'café' and the emoji 🌍 ten times.")
    text, _ = generate(core, prompt, SamplingParams(max_tokens=60, temperature=0))
    assert any(ord(ch) > 127 for ch in text)
    assert "\ufffd" not in text


def test_plain_greedy_picks_what_llama_cpps_greedy_sampler_picks(
        base_settings: EngineSettings) -> None:
    """Greedy without penalties is numpy's argmax over the row (no sampler chain): the same
    token as llama.cpp's greedy sampler, row after row of a real decode."""
    model = NativeModel(base_settings.model_path, gpu_layers=0)
    context = NativeContext(model, n_ctx=512, n_seq_max=1, n_batch=512, threads=2)
    batch = TokenBatch(512)
    reference = llama.llama_sampler_init_greedy()
    fast = SequenceSampler(SamplingParams(max_tokens=1, temperature=0), seed=0,
                           n_vocab=model.shape.n_vocab)
    try:
        tokens = model.tokenize("The quick brown fox jumps over the lazy dog. " * 4,
                                add_special=True)
        first = batch.add_run(tokens, 0, 0, logits_on_all=True)
        assert context.decode(batch.native) == 0
        picks = [fast.sample(context, first + row) for row in range(len(tokens))]
        expected = [llama.llama_sampler_sample(reference, context.pointer, first + row)
                    for row in range(len(tokens))]
        assert picks == expected
        assert len(set(picks)) > 5  # real, varied predictions
    finally:
        fast.close()
        llama.llama_sampler_free(reference)
        batch.close()
        context.close()
        model.close()
