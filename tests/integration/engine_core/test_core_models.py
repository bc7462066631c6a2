"""Model files and chat templates on real llama.cpp: the bundled model and tiny GGUFs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cocoon_desktop.engine.process.inference import (
    InferenceCore,
    InvalidRequest,
    ModelLoadError,
    SamplingParams,
)
from cocoon_desktop.engine.types import EngineSettings
from tests.helpers.tiny_gguf import TinyLlamaSpec, write_tiny_llama
from tests.integration.engine_core.core_harness import generate

pytestmark = pytest.mark.engine


def test_chat_uses_the_models_own_template(core: InferenceCore) -> None:
    assert core.info.chat_template_present
    prompt = core.render_chat([{"role": "user", "content": "Hi"}])
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    tokens = core.tokenize(prompt, add_special=False)
    assert tokens[0] == 1  # <|im_start|> parsed as its special token, not as text
    with pytest.raises(InvalidRequest, match="role must be one of"):
        core.render_chat([{"role": "wizard", "content": "Hi"}])
    with pytest.raises(InvalidRequest, match="non-empty list"):
        core.render_chat([])


def test_load_errors_say_what_to_do(base_settings: EngineSettings, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        InferenceCore(replace(base_settings, model_path=tmp_path / "missing.gguf"))
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ModelLoadError, match="choose another model file"):
        InferenceCore(replace(base_settings, model_path=junk))
    with pytest.raises(ModelLoadError, match="raise the context size"):
        InferenceCore(replace(base_settings, context_tokens=256, parallel_sequences=8))


@pytest.mark.parametrize("template", [None, "{% for message in messages %}{{ oops"])
def test_a_model_without_a_usable_template_gets_chatml(
        base_settings: EngineSettings, tmp_path: Path, template: str | None) -> None:
    model = write_tiny_llama(tmp_path / "tiny.gguf", spec=TinyLlamaSpec(chat_template=template))
    settings = replace(base_settings, model_path=model, context_tokens=512, parallel_sequences=2)
    with InferenceCore(settings) as tiny:
        assert not tiny.info.chat_template_present
        prompt = tiny.render_chat([{"role": "user", "content": "hello"}])
        assert prompt == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"
        tokens = tuple(tiny.tokenize(prompt, add_special=True))
        _, finished = generate(tiny, tokens, SamplingParams(max_tokens=6, seed=3))
        assert finished.completion_tokens >= 1 and finished.finish_reason in ("stop", "length")
