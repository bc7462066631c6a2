"""The engine's answers in OpenAI's shapes: whole responses, stream chunks and the usage block.

Streams follow OpenAI exactly: a chat stream opens with a chunk carrying the assistant role, each
later chunk carries new text, the last one with choices carries `finish_reason`, and when the
client asked for `stream_options.include_usage` every chunk has `"usage": null` and one more chunk
with empty `choices` and the real `usage` follows before `data: [DONE]`.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cocoon_desktop.engine.process.openai_api import ApiRequest, Endpoint

SSE_DONE = b"data: [DONE]\n\n"
_MARK = "\u2063text\u2063"  # stands for the text while a chunk's template is made


def sse_event(payload: dict[str, Any]) -> bytes:
    """One server-sent event carrying `payload` as compact JSON."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }


class ResponseFormatter:
    """Builds every JSON object of one answer, sharing its id, creation time and model name."""

    def __init__(self, request: ApiRequest) -> None:
        self._request = request
        self._chat = request.endpoint is Endpoint.CHAT
        prefix = "chatcmpl-" if self._chat else "cmpl-"
        self.response_id = prefix + secrets.token_hex(12)
        self._created = int(time.time())
        # A text chunk is the same bytes around the text every time: made once, the text is
        # the only JSON encoded per token (the stream's hot path).
        head, _, tail = sse_event(self.text_chunk(_MARK)).partition(json.dumps(_MARK).encode())
        self._text_head, self._text_tail = head, tail

    def _envelope(self, object_name: str) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": object_name,
            "created": self._created,
            "model": self._request.model,
            "system_fingerprint": None,
        }

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        chunk = self._envelope("chat.completion.chunk" if self._chat else "text_completion")
        chunk["choices"] = choices
        if self._request.include_usage:
            chunk["usage"] = None
        return chunk

    def _choice(self, text: str | None, finish_reason: str | None, *, role: bool = False
                ) -> dict[str, Any]:
        if not self._chat:
            return {"index": 0, "text": text or "", "logprobs": None,
                    "finish_reason": finish_reason}
        delta: dict[str, Any] = {"role": "assistant"} if role else {}
        if text is not None:
            delta["content"] = text
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    def opening_chunk(self) -> dict[str, Any] | None:
        """The first chunk of a stream: the assistant role (chat) or the echoed prompt."""
        if self._chat:
            return self._chunk([self._choice("", None, role=True)])
        if self._request.echo:
            return self._chunk([self._choice(self._request.prompt, None)])
        return None

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self._chunk([self._choice(text, None)])

    def text_event(self, text: str) -> bytes:
        """`sse_event(text_chunk(text))`, byte for byte, without building the chunk."""
        return self._text_head + json.dumps(text).encode() + self._text_tail

    def finish_chunk(self, finish_reason: str) -> dict[str, Any]:
        return self._chunk([self._choice(None if self._chat else "", finish_reason)])

    def usage_chunk(self, usage: Usage) -> dict[str, Any]:
        chunk = self._chunk([])
        chunk["usage"] = usage.to_json()
        return chunk

    def full_response(self, text: str, finish_reason: str, usage: Usage) -> dict[str, Any]:
        """A whole non-streamed answer."""
        if self._chat:
            body = self._envelope("chat.completion")
            body["choices"] = [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": finish_reason,
            }]
        else:
            body = self._envelope("text_completion")
            if self._request.echo:
                text = self._request.prompt + text
            body["choices"] = [{"index": 0, "text": text, "logprobs": None,
                                "finish_reason": finish_reason}]
        body["usage"] = usage.to_json()
        return body
