"""Fuzzing what a user or a client hands the app: GGUF headers and the engine's and the
worker's request parsers. Each refuses with its own error type, in bounded time."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.engine.api import ApiError
from cocoon_desktop.engine.models.gguf_meta import ModelFileError, read_gguf_metadata
from cocoon_desktop.engine.process.openai_api import Endpoint, ServedModel, parse_request
from cocoon_desktop.network.worker.validation import RequestRejected, validate_request
from tests.helpers.tiny_gguf import write_tiny_llama
from tests.unit.fuzz.conftest import budget

SERVED = ServedModel("smollm2-135m@abc123:0f0f")


@pytest.fixture(scope="module")
def tiny_header(tmp_path_factory) -> bytes:
    path = write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
    return path.read_bytes()


@budget(120)
@given(edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1,
                      max_size=8))
def test_gguf_mutated_headers(tiny_header: bytes, tmp_path_factory, edits) -> None:
    data = bytearray(tiny_header)
    for at, value in edits:
        data[at % min(len(data), 4096)] = value
    path = tmp_path_factory.getbasetemp() / "fuzzed.gguf"
    path.write_bytes(bytes(data))
    started = time.monotonic()
    with contextlib.suppress(ModelFileError):
        read_gguf_metadata(path)
    assert time.monotonic() - started < 5.0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12)
FIELDS = st.sampled_from(["model", "messages", "prompt", "max_tokens", "temperature", "top_p",
                          "top_k", "seed", "stream", "stream_options", "stop", "n", "min_p",
                          "presence_penalty", "frequency_penalty", "logprobs", "user"])


def body_strategy() -> st.SearchStrategy[dict]:
    base = {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}]}
    return st.builds(lambda extra: {**base, **extra}, st.dictionaries(FIELDS, JSON, max_size=4))


@budget(400)
@given(body_strategy(), st.sampled_from([Endpoint.CHAT, Endpoint.COMPLETION]))
def test_engine_request_parser(body: dict, endpoint: Endpoint) -> None:
    try:
        parse_request(endpoint, body, SERVED, 512)
    except ApiError as exc:
        assert 400 <= exc.status < 500


@budget(400)
@given(body_strategy())
def test_worker_request_validation(body: dict) -> None:
    try:
        raw = json.dumps(body).encode()
    except ValueError:
        return
    try:
        valid = validate_request("/v1/chat/completions", raw, 1 << 20)
    except RequestRejected:
        return
    json.loads(valid.body)  # what reaches the engine is always valid JSON


@budget(200)
@given(st.binary(max_size=200))
def test_worker_request_validation_raw_bytes(raw: bytes) -> None:
    with contextlib.suppress(RequestRejected):
        validate_request("/v1/chat/completions", raw, 1 << 20)
