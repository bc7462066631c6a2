"""SamplingParams validation and seed resolution."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.process.inference_types import InvalidRequest, SamplingParams
from cocoon_desktop.engine.process.sampling import resolve_seed


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("max_tokens", 0, "max_tokens"),
        ("temperature", -0.1, "temperature"),
        ("temperature", float("nan"), "temperature"),
        ("top_p", 0.0, "top_p"),
        ("top_k", -1, "top_k"),
        ("min_p", 1.5, "min_p"),
        ("presence_penalty", 3.0, "presence_penalty"),
        ("frequency_penalty", float("inf"), "frequency_penalty"),
        ("repeat_penalty", 0.0, "repeat_penalty"),
        ("seed", 1.5, "seed"),
        ("stop", ("",), "stop"),
        ("stop", tuple("abcdefghijklmnopq"), "stop"),
    ],
)
def test_out_of_range_values_get_a_clear_error(field: str, value: object, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        SamplingParams(**{"max_tokens": 8, field: value})


def test_valid_params_and_a_stop_list_become_a_tuple() -> None:
    params = SamplingParams(max_tokens=4, stop=["END"])  # type: ignore[arg-type]
    assert params.stop == ("END",)
    assert not params.uses_penalties
    assert SamplingParams(max_tokens=4, repeat_penalty=1.1).uses_penalties


def test_seed_resolution() -> None:
    assert resolve_seed(42, -1) == 42
    assert resolve_seed(-1, -1) == 0  # 0xFFFFFFFF would mean "random" to llama.cpp
    assert resolve_seed(None, 7) == 7
    assert resolve_seed(2**40 + 5, -1) == 5
    randoms = {resolve_seed(None, -1) for _ in range(8)}
    assert len(randoms) > 1
