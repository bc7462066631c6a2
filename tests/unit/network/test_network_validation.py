"""Request validation as upstream's ValidateRequest.cpp, and the include_usage forcing."""

from __future__ import annotations

import json

import pytest

from cocoon_desktop.network.errors import PROTOVIOLATION
from cocoon_desktop.network.worker.validation import RequestRejected, validate_request

CHAT = "/v1/chat/completions"


def body(**fields: object) -> bytes:
    return json.dumps({"model": "m", "messages": [], **fields}).encode()


def test_streaming_requests_always_ask_for_usage() -> None:
    out = json.loads(validate_request(CHAT, body(stream=True), 10_000).body)
    assert out["stream_options"] == {"include_usage": True}
    out = json.loads(validate_request(CHAT, body(stream=True, stream_options={
        "include_usage": False}), 10_000).body)
    assert out["stream_options"]["include_usage"] is True


def test_stream_options_alone_turn_streaming_on() -> None:
    valid = validate_request(CHAT, body(stream_options={}), 10_000)
    assert valid.stream and json.loads(valid.body)["stream"] is True


def test_non_streaming_requests_are_left_without_stream_options() -> None:
    out = json.loads(validate_request(CHAT, body(temperature=0.5), 10_000).body)
    assert "stream_options" not in out and out["temperature"] == 0.5


def test_the_body_is_rewritten_compact_with_sorted_keys() -> None:
    valid = validate_request(CHAT, b'{"model": "m", "messages": [], "n": 1}', 10_000)
    assert valid.body == b'{"messages":[],"model":"m","n":1}' and valid.model == "m"


def test_completions_need_a_prompt() -> None:
    valid = validate_request("/v1/completions", b'{"model":"m","prompt":"x","seed":3}', 100)
    assert valid.path == "/v1/completions"
    with pytest.raises(RequestRejected, match="missing required field 'prompt'"):
        validate_request("/v1/completions", b'{"model":"m"}', 100)


@pytest.mark.parametrize(("url", "raw", "message"), [
    ("/v1/embeddings", body(), "unsupported method '/v1/embeddings'"),
    ("/v1/chat/completions?x=1", body(), "unsupported method"),
    (CHAT, b"[1, 2]", "expected json object"),
    (CHAT, b"{not json", "expected json object"),
    (CHAT, b'{"model":"m","model":"n","messages":[]}', "duplicate 'model' field"),
    (CHAT, body(logit_bias={}), "unknown option 'logit_bias' in request"),
    (CHAT, body(stream="yes"), "stream must be a boolean"),
    (CHAT, body(max_tokens=-1), "max_tokens must be non-negative"),
    (CHAT, body(max_tokens=1.5), "max_tokens must be a number"),
    (CHAT, body(frequency_penalty=3), "between -2.0 and 2.0"),
    (CHAT, body(n=0), "n must be positive"),
    (CHAT, body(stream_options={"foo": True}), "unknown option 'foo' in stream_options"),
    (CHAT, body(chat_template_kwargs={"x": 1}), "unknown suboption 'x'"),
    (CHAT, b'{"messages":[]}', "missing required field 'model'"),
    (CHAT, json.dumps({"model": 1, "messages": []}).encode(), "model must be a string"),
])
def test_bad_requests_are_refused_with_the_reason(url: str, raw: bytes, message: str) -> None:
    with pytest.raises(RequestRejected, match=message) as info:
        validate_request(url, raw, 10_000)
    assert info.value.code == PROTOVIOLATION


def test_an_oversized_body_is_refused_before_parsing() -> None:
    with pytest.raises(RequestRejected, match="exceeds the 100-byte limit"):
        validate_request(CHAT, body(messages=[{"content": "x" * 200}]), 100)


def test_deeply_nested_json_is_refused_cleanly() -> None:
    with pytest.raises(RequestRejected):
        validate_request(CHAT, b"[" * 100_000 + b"]" * 100_000, 1 << 20)
