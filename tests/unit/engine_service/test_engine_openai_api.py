"""Request checking: every kind of bad body gets a 4xx with a message that says what to send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cocoon_desktop.engine.api import ApiError
from cocoon_desktop.engine.process.openai_api import (
    ApiRequest,
    Endpoint,
    ServedModel,
    decode_json_body,
    parse_request,
)

SERVED = ServedModel("smollm2-135m@abc123:0f0f")
LIMIT = 512


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "smollm2-135m", "messages": [{"role": "user", "content": "Hi"}], **fields}


def parse_chat(body: dict[str, Any]) -> ApiRequest:
    return parse_request(Endpoint.CHAT, body, SERVED, LIMIT)


def rejected(endpoint: Endpoint, body: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_request(endpoint, body, SERVED, LIMIT)
    return caught.value


def test_a_plain_chat_request_gets_openai_defaults_and_llama_servers_top_k() -> None:
    request = parse_chat(chat())
    assert request.endpoint is Endpoint.CHAT
    assert request.messages == ({"role": "user", "content": "Hi"},)
    assert request.stream is False and request.include_usage is False
    assert request.max_tokens is None
    assert request.sampling_options == {
        "temperature": 1.0, "top_p": 1.0, "min_p": 0.0, "presence_penalty": 0.0,
        "frequency_penalty": 0.0, "repeat_penalty": 1.0, "stop": (), "top_k": 40,
    }
    assert parse_chat(chat(top_k=0)).sampling_options["top_k"] == 0  # off, when asked


def test_the_cocoon_name_and_its_base_name_are_both_served() -> None:
    assert parse_chat(chat(model="smollm2-135m@abc123:0f0f")).model == "smollm2-135m@abc123:0f0f"
    assert SERVED.base_name == "smollm2-135m"
    assert rejected(Endpoint.CHAT, chat(model="gpt-4o")).status == 404


def test_sampling_fields_are_passed_on() -> None:
    request = parse_chat(chat(temperature=0, top_p=0.5, top_k=40, min_p=0.1, seed=7,
                              presence_penalty=-1, frequency_penalty=2, repeat_penalty=1.1,
                              stop=["\n\n", ""], stream=True,
                              stream_options={"include_usage": True},
                              max_completion_tokens=64, max_tokens=3))
    assert request.sampling_options["temperature"] == 0.0
    assert request.sampling_options["top_k"] == 40
    assert request.sampling_options["seed"] == 7
    assert request.sampling_options["stop"] == ("\n\n",)  # empty stop strings mean nothing
    assert request.stream and request.include_usage
    assert request.max_tokens == 64  # max_completion_tokens wins over the legacy max_tokens


def test_fields_upstream_cocoon_forwards_are_accepted() -> None:
    request = parse_chat(chat(user="u1", metadata={}, store=False, reasoning_effort="low",
                              verbosity="low", chat_template_kwargs={"enable_thinking": False},
                              parallel_tool_calls=False, n=1, response_format={"type": "text"},
                              stream_options={"include_usage": True,
                                              "include_obfuscation": False}))
    assert request.include_usage is True


def test_content_parts_and_roles_are_normalised() -> None:
    body = chat(messages=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Hel"},
                                     {"type": "text", "text": "lo"}]},
        {"role": "assistant", "content": None},
    ])
    assert parse_chat(body).messages == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": ""},
    )


def test_a_completion_request() -> None:
    body = {"model": "smollm2-135m", "prompt": ["Once upon"], "echo": True, "max_tokens": 5}
    request = parse_request(Endpoint.COMPLETION, body, SERVED, LIMIT)
    assert (request.prompt, request.echo, request.max_tokens) == ("Once upon", True, 5)


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"messages": [{"role": "user", "content": "x"}]}, "model", "no 'model'"),
    (chat(model=5), "model", "must be a string"),
    ({"model": "smollm2-135m"}, "messages", "no 'messages'"),
    (chat(messages=[]), "messages", "non-empty list"),
    (chat(messages="hello"), "messages", "non-empty list"),
    (chat(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", "must be one of"),
    (chat(messages=[{"role": "user", "content": 3}]), "messages[0].content", "string"),
    (chat(messages=[{"role": "user", "content": [{"type": "image_url"}]}]),
     "messages[0].content", "no images"),
    (chat(max_tokens=-1), "max_tokens", "at least 1"),
    (chat(max_tokens=0), "max_tokens", "at least 1"),
    (chat(max_tokens=LIMIT + 1), "max_tokens", f"at most {LIMIT}"),
    (chat(max_tokens=2.5), "max_tokens", "integer"),
    (chat(max_tokens=True), "max_tokens", "integer"),
    (chat(max_completion_tokens=10**9), "max_completion_tokens", "more than this engine"),
    (chat(temperature=-0.1), "temperature", "at least 0"),
    (chat(temperature=2.5), "temperature", "at most 2"),
    (chat(temperature="hot"), "temperature", "must be a number"),
    (chat(top_p=0), "top_p", "more than 0"),
    (chat(top_p=1.5), "top_p", "at most 1"),
    (chat(top_k=-1), "top_k", "0 (off) to "),
    (chat(min_p=2), "min_p", "at most 1"),
    (chat(presence_penalty=3), "presence_penalty", "at most 2"),
    (chat(frequency_penalty=-3), "frequency_penalty", "at least -2"),
    (chat(repeat_penalty=0), "repeat_penalty", "more than 0"),
    (chat(seed="x"), "seed", "integer"),
    (chat(seed=2**64), "seed", "64 bits"),
    (chat(stop=5), "stop", "string or a list"),
    (chat(stop=["a"] * 17), "stop", "at most 16"),
    (chat(stream="yes"), "stream", "true or false"),
    (chat(stream_options=[]), "stream_options", "must be an object"),
    (chat(stream_options={"include_usage": 1}), "stream_options.include_usage", "true or false"),
    (chat(n=2), "n", "Only n=1"),
    (chat(logprobs=True), "logprobs", "not supported"),
    (chat(top_logprobs=3), "top_logprobs", "not supported"),
    (chat(logit_bias={"1": 5}), "logit_bias", "not supported"),
    (chat(tools=[{"type": "function"}]), "tools", "not supported"),
    (chat(response_format={"type": "json_object"}), "response_format", "JSON modes"),
])
def test_bad_chat_bodies_are_refused_clearly(body: dict[str, Any], param: str, words: str
                                             ) -> None:
    error = rejected(Endpoint.CHAT, body)
    assert error.status in (400, 404)
    assert error.param == param
    assert words in error.message
    assert error.body()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("body", "words"), [
    ({"model": "smollm2-135m"}, "no 'prompt'"),
    ({"model": "smollm2-135m", "prompt": ""}, "empty"),
    ({"model": "smollm2-135m", "prompt": [1, 2, 3]}, "token arrays"),
    ({"model": "smollm2-135m", "prompt": ["a", "b"]}, "one request per prompt"),
    ({"model": "smollm2-135m", "prompt": {"text": "a"}}, "must be a string"),
    ({"model": "smollm2-135m", "prompt": "a", "best_of": 3}, "best_of=1"),
    ({"model": "smollm2-135m", "prompt": "a", "suffix": "b"}, "suffix"),
    ({"model": "smollm2-135m", "prompt": "a", "echo": "yes"}, "true or false"),
])
def test_bad_completion_bodies_are_refused_clearly(body: dict[str, Any], words: str) -> None:
    error = rejected(Endpoint.COMPLETION, body)
    assert error.status == 400
    assert words in error.message


def test_an_unknown_model_is_404_and_names_the_served_one() -> None:
    error = rejected(Endpoint.CHAT, chat(model="llama-70b"))
    assert error.status == 404
    assert error.code == "model_not_found"
    assert "'smollm2-135m'" in error.message


@pytest.mark.parametrize(("raw", "words"), [
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object, not a list"),
    (b'"text"', "not a string"),
    (b'{"temperature": NaN}', "not valid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"[" * 100_000, "not valid JSON"),
])
def test_malformed_json_is_refused(raw: bytes, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_json_body(raw)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_json"
    assert words in caught.value.message


@pytest.mark.parametrize(("raw", "where"), [
    (rb'{"messages": [{"role": "user", "content": "a \ud800 b"}]}', "messages[0].content"),
    (rb'{"stop": ["ok", "\uDFFF"]}', "stop[1]"),
    (rb'{"x\udc00": 1}', "the key x"),
])
def test_an_escaped_lone_surrogate_is_a_clear_400_naming_the_field(raw: bytes,
                                                                    where: str) -> None:
    """Valid JSON, but no text: tokenizing it raised UnicodeEncodeError, a plain 500."""
    with pytest.raises(ApiError) as caught:
        decode_json_body(raw)
    assert caught.value.status == 400
    assert caught.value.message.startswith(where)
    assert "lone surrogate" in caught.value.message and "Send valid Unicode" in caught.value.message


def test_an_escaped_surrogate_pair_is_text() -> None:
    body = decode_json_body(rb'{"messages": [{"role": "user", "content": "\ud83d\ude00 \\ud800"}]}')
    assert body["messages"][0]["content"] == "\U0001f600 \\ud800"


def test_error_bodies_have_openais_shape() -> None:
    error = rejected(Endpoint.CHAT, chat(n=3))
    body = json.loads(json.dumps(error.body()))
    assert set(body["error"]) == {"message", "type", "code", "param"}


@pytest.mark.parametrize("field", ["temperature", "top_p", "min_p", "presence_penalty",
                                   "frequency_penalty", "repeat_penalty", "top_k", "max_tokens"])
@pytest.mark.parametrize("value", [10**400, -(10**400)])
def test_a_400_digit_number_is_a_clear_400(field: str, value: int) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat(chat(**{field: value}))
    assert caught.value.status == 400 and len(caught.value.message) < 300
