"""Every kind of bad request gets a clear 4xx, and the engine keeps serving after each."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from cocoon_desktop.engine.host.client import EngineClient, EngineRequestError
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from tests.integration.engine_service.conftest import SERVED

pytestmark = [pytest.mark.engine, pytest.mark.asyncio(loop_scope="module")]
CHAT: dict[str, Any] = {"model": SERVED, "messages": [{"role": "user", "content": "Hi"}],
                        "max_tokens": 2, "temperature": 0}
LONG_PROMPT = "apple river stone " * 600  # about 1,800 tokens; a sequence holds 1,024


def chat(**changes: Any) -> dict[str, Any]:
    return {**CHAT, **changes}


# (method, path, raw body or JSON, extra headers, status, error code)
CASES: list[tuple[str, str, Any, dict[str, str], int, str]] = [
    ("POST", "/v1/chat/completions", b"{\"model\": ", {}, 400, "invalid_json"),
    ("POST", "/v1/chat/completions", b"[]", {}, 400, "invalid_json"),
    ("POST", "/v1/chat/completions", b"{}", {"Content-Type": "text/plain"}, 415,
     "unsupported_media_type"),
    ("POST", "/v1/chat/completions", chat(model="gpt-4o"), {}, 404, "model_not_found"),
    ("POST", "/v1/chat/completions", {"model": SERVED}, {}, 400, "missing_required_parameter"),
    ("POST", "/v1/chat/completions", chat(messages=[]), {}, 400, "invalid_value"),
    ("POST", "/v1/completions", {"model": SERVED, "prompt": LONG_PROMPT}, {}, 400,
     "context_length_exceeded"),
    ("POST", "/v1/chat/completions",
     chat(messages=[{"role": "user", "content": LONG_PROMPT}]), {}, 400,
     "context_length_exceeded"),
    ("POST", "/v1/completions", {"model": SERVED, "prompt": "lorem ipsum " * 20_000}, {}, 400,
     "context_length_exceeded"),  # tokenized off the event loop
    ("POST", "/v1/chat/completions", chat(max_tokens=-5), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(max_tokens=0), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(max_tokens=1_000_000), {}, 400, "invalid_value"),
    ("POST", "/v1/completions", {"model": SERVED, "prompt": "x", "max_tokens": 1025}, {}, 400,
     "invalid_value"),
    ("POST", "/v1/chat/completions", chat(temperature=7), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(top_p=0), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(n=4), {}, 400, "invalid_value"),
    # 400-digit numbers: a JSON 400, never a plain-text 500
    ("POST", "/v1/chat/completions", chat(temperature=10**400), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(top_p=-(10**400)), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(top_k=10**400), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(max_tokens=10**400), {}, 400, "invalid_value"),
    ("POST", "/v1/chat/completions", chat(), {"X-Cocoon-Lane": "vip"}, 400, "invalid_lane"),
    # valid JSON, but a lone surrogate is no text: was a plain-text 500 from the tokenizer
    ("POST", "/v1/chat/completions", b'{"model": "' + SERVED.encode() + b'", "messages": '
     b'[{"role": "user", "content": "\\ud800"}]}', {}, 400, "invalid_value"),
    ("GET", "/v1/chat/completions", None, {}, 405, "method_not_allowed"),
    ("GET", "/v1/embeddings", None, {}, 404, "not_found"),
    ("POST", "/v1/chat/completions", b"{\"pad\": \"" + b"x" * (9 * 2**20) + b"\"}", {}, 413,
     "request_too_large"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "code"), CASES,
                         ids=[f"{c[4]}-{c[5]}-{i}" for i, c in enumerate(CASES)])
async def test_a_bad_request_gets_a_clear_error_and_the_engine_keeps_serving(
        shared_engine: EngineSupervisor, http: aiohttp.ClientSession, client: EngineClient,
        method: str, path: str, body: Any, headers: dict[str, str], status: int,
        code: str) -> None:
    pid_before = shared_engine.status.pid
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(body, bytes):
        kwargs["data"] = body
        kwargs["headers"] = {"Content-Type": "application/json", **headers}
    elif body is not None:
        kwargs["json"] = body
    async with http.request(method, path, **kwargs) as response:
        answer = await response.json()
    assert response.status == status
    error = answer["error"]
    assert error["code"] == code
    assert len(error["message"]) > 20 and error["type"]
    # Still serving, and the same process (no crash, no restart).
    assert (await client.chat(CHAT))["choices"][0]["finish_reason"] in ("stop", "length")
    assert shared_engine.status.pid == pid_before


async def test_the_client_raises_the_engines_message(client: EngineClient) -> None:
    with pytest.raises(EngineRequestError) as caught:
        await client.chat(chat(model="gpt-4o"))
    assert caught.value.status == 404 and caught.value.code == "model_not_found"
    assert SERVED in str(caught.value)
    with pytest.raises(EngineRequestError, match="max_tokens"):
        async for _ in client.stream_chat(chat(max_tokens=0)):
            pass
