"""Answer shapes: exactly OpenAI's, including the usage chunk of `stream_options.include_usage`."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.engine.process.openai_api import ApiRequest, Endpoint
from cocoon_desktop.engine.process.openai_format import (
    SSE_DONE,
    ResponseFormatter,
    Usage,
    sse_event,
)

USAGE = Usage(prompt_tokens=12, completion_tokens=5, cached_tokens=8)


def request(endpoint: Endpoint, *, include_usage: bool = False, echo: bool = False
            ) -> ApiRequest:
    return ApiRequest(endpoint, "smollm2-135m", stream=True, include_usage=include_usage,
                      max_tokens=None, prompt="Once", echo=echo)


def test_usage_counts_total_and_cached_tokens() -> None:
    assert USAGE.to_json() == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
                               "prompt_tokens_details": {"cached_tokens": 8}}


def test_a_chat_stream_has_role_then_text_then_finish_then_usage() -> None:
    fmt = ResponseFormatter(request(Endpoint.CHAT, include_usage=True))
    opening, text = fmt.opening_chunk(), fmt.text_chunk("Hel")
    finish, usage = fmt.finish_chunk("stop"), fmt.usage_chunk(USAGE)
    assert opening is not None
    assert opening["object"] == "chat.completion.chunk"
    assert opening["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert text["choices"][0]["delta"] == {"content": "Hel"}
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                    "finish_reason": "stop"}
    assert opening["usage"] is None and text["usage"] is None and finish["usage"] is None
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 17
    assert len({c["id"] for c in (opening, text, finish, usage)}) == 1
    assert fmt.response_id.startswith("chatcmpl-")


def test_without_include_usage_chunks_carry_no_usage_key() -> None:
    fmt = ResponseFormatter(request(Endpoint.CHAT))
    assert "usage" not in fmt.text_chunk("x")


def test_a_completion_stream_and_echo() -> None:
    fmt = ResponseFormatter(request(Endpoint.COMPLETION, echo=True))
    opening = fmt.opening_chunk()
    assert opening is not None and opening["choices"][0]["text"] == "Once"
    assert fmt.text_chunk(" upon")["object"] == "text_completion"
    assert fmt.finish_chunk("length")["choices"][0]["finish_reason"] == "length"
    assert ResponseFormatter(request(Endpoint.COMPLETION)).opening_chunk() is None


def test_whole_responses() -> None:
    chat = ResponseFormatter(request(Endpoint.CHAT)).full_response("Hi!", "stop", USAGE)
    assert chat["object"] == "chat.completion"
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": "Hi!"}
    assert chat["usage"]["prompt_tokens_details"]["cached_tokens"] == 8
    text = ResponseFormatter(request(Endpoint.COMPLETION, echo=True)).full_response(
        " upon", "length", USAGE)
    assert text["choices"][0]["text"] == "Once upon"
    assert text["id"].startswith("cmpl-")


def test_server_sent_event_framing() -> None:
    event = sse_event({"a": "é"})
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:]) == {"a": "é"}
    assert SSE_DONE == b"data: [DONE]\n\n"


@given(st.text(max_size=40))
def test_the_fast_text_event_is_the_chunk_byte_for_byte(text: str) -> None:
    for endpoint in Endpoint:
        for include_usage in (False, True):
            fmt = ResponseFormatter(request(endpoint, include_usage=include_usage))
            assert fmt.text_event(text) == sse_event(fmt.text_chunk(text))
