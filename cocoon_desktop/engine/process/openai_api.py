"""Reading and checking OpenAI-style bodies for `/v1/chat/completions` and `/v1/completions`.

Everything a client can get wrong is caught here and answered with an `ApiError` (an HTTP status
plus OpenAI's `{"error": {"message", "type", "code", "param"}}` body) whose message says what to
send instead. Fields this engine cannot honour (several choices, log-probabilities, tools, JSON
mode) are refused explicitly rather than ignored; fields that change nothing for a local model
(`user`, `metadata`, `store`, `reasoning_effort`, ...) are accepted and ignored, as upstream
Cocoon's worker forwards them.

The module knows nothing about llama.cpp: it produces an `ApiRequest` whose `sampling_options` are
the keyword arguments of the core's `SamplingParams` (everything but `max_tokens`, which the
service resolves once the prompt's length is known).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cocoon_desktop.engine.api import ApiError
from cocoon_desktop.protocol.model_names import base_model_name

MAX_STOP_STRINGS = 16
MAX_STOP_STRING_CHARS = 512
CHAT_ROLES = {"system", "user", "assistant", "tool", "developer"}
# A JSON escape in U+D800..U+DFFF: one half of a pair is text, a lone one is not
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def invalid(message: str, *, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


class Endpoint(StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"


@dataclass(frozen=True)
class ServedModel:
    """The names under which the loaded model answers.

    Cocoon names a model `name@commit:hash`; upstream's worker sends requests with the base name
    (the part before `@`), OpenAI clients usually send what `/v1/models` lists. Both are accepted.
    """

    cocoon_name: str

    @property
    def base_name(self) -> str:
        return base_model_name(self.cocoon_name)

    def accepts(self, name: str) -> bool:
        return name in (self.cocoon_name, self.base_name)


@dataclass(frozen=True)
class ApiRequest:
    """A checked request. `max_tokens` None means: as many as fit in the context."""

    endpoint: Endpoint
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int | None
    sampling_options: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""  # completions
    messages: tuple[dict[str, str], ...] = ()  # chat: ({"role", "content"}, ...)
    echo: bool = False  # completions: prepend the prompt to the answer


def decode_json_body(raw: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object."""

    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not valid JSON")

    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_constant=refuse_constant)
    except UnicodeDecodeError:
        raise invalid("The request body is not UTF-8 text. Send a UTF-8 JSON object.",
                      code="invalid_json") from None
    except (ValueError, RecursionError) as exc:
        raise invalid(f"The request body is not valid JSON ({exc}). Send a JSON object.",
                      code="invalid_json") from None
    if not isinstance(body, dict):
        raise invalid(f"The request body must be a JSON object, not {_json_type(body)}.",
                      code="invalid_json")
    if SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate(body)
        if where is not None:
            raise invalid(f"{where} holds an escaped lone surrogate (a \\uD800-\\uDFFF escape "
                          "without its other half), which is not text. Send valid Unicode: "
                          "UTF-8 text, or both halves of an escaped pair.",
                          param=None if where.startswith("the key ") else where)
    return body


def _lone_surrogate(body: dict[str, Any]) -> str | None:
    """Where the first string that cannot be UTF-8 is ("messages[0].content", "the key x"),
    or None. Iterative: JSON as deep as the parser allows must not exhaust the stack."""
    pending: list[tuple[str, Any]] = [("", body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and not _is_text(value):
            return path
        children: list[tuple[str, Any]] = []
        if isinstance(value, dict):
            for key, item in value.items():
                if not _is_text(key):
                    return f"the key {key.encode('utf-8', 'replace').decode()}"
                children.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
        pending.extend(reversed(children))  # depth first, in document order
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_request(
    endpoint: Endpoint, body: dict[str, Any], served: ServedModel, max_completion_tokens: int
) -> ApiRequest:
    """Check `body` for `endpoint`; raise `ApiError` on the first problem found."""
    model = _model(body, served)
    _refuse_unsupported(endpoint, body)
    stream = _boolean(body, "stream", False)
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise invalid("stream_options must be an object such as {\"include_usage\": true}.",
                          param="stream_options")
        include_usage = _boolean(options, "include_usage", False, prefix="stream_options.")
    max_tokens = _max_tokens(endpoint, body, max_completion_tokens)
    sampling = _sampling_options(body)
    if endpoint is Endpoint.CHAT:
        return ApiRequest(endpoint, model, stream, include_usage, max_tokens, sampling,
                          messages=_messages(body))
    return ApiRequest(endpoint, model, stream, include_usage, max_tokens, sampling,
                      prompt=_prompt(body), echo=_boolean(body, "echo", False))


def _model(body: dict[str, Any], served: ServedModel) -> str:
    model = body.get("model")
    if model is None:
        raise invalid(f"The request has no 'model'. This engine serves '{served.base_name}'.",
                      param="model", code="missing_required_parameter")
    if not isinstance(model, str):
        raise invalid("'model' must be a string.", param="model")
    if not served.accepts(model):
        raise ApiError(
            404,
            f"The model '{model}' is not served here. This engine serves '{served.base_name}' "
            "(GET /v1/models lists it); load another model in the app to serve that one.",
            param="model", code="model_not_found",
        )
    return model


def _refuse_unsupported(endpoint: Endpoint, body: dict[str, Any]) -> None:
    """Refuse options whose meaning we cannot deliver, instead of silently ignoring them."""
    n = body.get("n")
    if n is not None and (not _is_int(n) or n != 1):
        raise invalid("Only n=1 is supported: send one request per answer you need.", param="n")
    best_of = body.get("best_of")
    if best_of is not None and (not _is_int(best_of) or best_of != 1):
        raise invalid("Only best_of=1 is supported.", param="best_of")
    logprobs = body.get("logprobs")
    if logprobs not in (None, False) and not (endpoint is Endpoint.COMPLETION and logprobs == 0):
        raise invalid("Log-probabilities are not supported by this engine; leave 'logprobs' out.",
                      param="logprobs")
    if body.get("top_logprobs") not in (None, 0):
        raise invalid("Log-probabilities are not supported; leave 'top_logprobs' out.",
                      param="top_logprobs")
    if body.get("logit_bias") not in (None, {}):
        raise invalid("'logit_bias' is not supported by this engine; leave it out.",
                      param="logit_bias")
    if body.get("tools") not in (None, []) or body.get("functions") not in (None, []):
        raise invalid("Tool and function calling are not supported by this engine.",
                      param="tools")
    if body.get("suffix") not in (None, ""):
        raise invalid("'suffix' (fill-in-the-middle) is not supported.", param="suffix")
    response_format = body.get("response_format")
    if response_format is not None and (
            not isinstance(response_format, dict) or response_format.get("type") != "text"):
        raise invalid("Only response_format {\"type\": \"text\"} is supported; JSON modes "
                      "are not.", param="response_format")


def _max_tokens(endpoint: Endpoint, body: dict[str, Any], limit: int) -> int | None:
    name = "max_tokens"
    if endpoint is Endpoint.CHAT and body.get("max_completion_tokens") is not None:
        name = "max_completion_tokens"
    value = body.get(name)
    if value is None:
        return None
    if not _is_int(value):
        raise invalid(f"'{name}' must be an integer, not {_json_type(value)}.", param=name)
    if value < 1:
        raise invalid(f"'{name}' must be at least 1 (it was {_shown(value)}).", param=name)
    if value > limit:
        raise invalid(f"'{name}' is {_shown(value)}, more than this engine allows ({limit}). "
                      f"Ask for at most {limit} tokens.", param=name)
    return int(value)


DEFAULT_TOP_K = 40
MAX_TOP_K = 2**31 - 1  # llama.cpp's int32


def _sampling_options(body: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "temperature": _number(body, "temperature", 1.0, 0.0, 2.0),
        "top_p": _number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        "min_p": _number(body, "min_p", 0.0, 0.0, 1.0),
        "presence_penalty": _number(body, "presence_penalty", 0.0, -2.0, 2.0),
        "frequency_penalty": _number(body, "frequency_penalty", 0.0, -2.0, 2.0),
        "repeat_penalty": _number(body, "repeat_penalty", 1.0, 0.0, 10.0, low_open=True),
        "stop": _stop(body),
    }
    # Without top_k, llama-server's default of 40: the same text quality for every sampler that
    # follows, and 8x less sampling work per token than sorting the whole vocabulary.
    top_k = body.get("top_k", DEFAULT_TOP_K)
    if top_k is not None:
        if not _is_int(top_k) or not 0 <= top_k <= MAX_TOP_K:
            raise invalid(f"'top_k' must be a whole number from 0 (off) to {MAX_TOP_K}.",
                          param="top_k")
        options["top_k"] = int(top_k)
    seed = body.get("seed")
    if seed is not None:
        if not _is_int(seed) or not -(2**63) <= seed < 2**64:
            raise invalid("'seed' must be an integer that fits in 64 bits.", param="seed")
        options["seed"] = int(seed)
    return options


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise invalid("'stop' must be a string or a list of strings.", param="stop")
    if len(items) > MAX_STOP_STRINGS:
        raise invalid(f"'stop' may hold at most {MAX_STOP_STRINGS} strings.", param="stop")
    if any(len(s) > MAX_STOP_STRING_CHARS for s in items):
        raise invalid(f"Each stop string may be at most {MAX_STOP_STRING_CHARS} characters.",
                      param="stop")
    return tuple(s for s in items if s)


def _messages(body: dict[str, Any]) -> tuple[dict[str, str], ...]:
    messages = body.get("messages")
    if messages is None:
        raise invalid("The request has no 'messages'. Send a list such as "
                      "[{\"role\": \"user\", \"content\": \"Hello\"}].",
                      param="messages", code="missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty list of {\"role\", \"content\"} objects.",
                      param="messages")
    return tuple(_message(i, m) for i, m in enumerate(messages))


def _message(index: int, message: object) -> dict[str, str]:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid(f"{param} must be an object with 'role' and 'content'.", param=param)
    role = message.get("role")
    if role not in CHAT_ROLES:
        raise invalid(f"{param}.role must be one of {sorted(CHAT_ROLES)}, not {role!r}.",
                      param=f"{param}.role")
    content = message.get("content")
    if content is None and role == "assistant":
        content = ""
    if isinstance(content, list):
        content = _text_parts(param, content)
    if not isinstance(content, str):
        raise invalid(f"{param}.content must be a string or a list of text parts.",
                      param=f"{param}.content")
    return {"role": "system" if role == "developer" else str(role), "content": content}


def _text_parts(param: str, parts: list[Any]) -> str:
    texts = []
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "text" or \
                not isinstance(part.get("text"), str):
            raise invalid(f"{param}.content holds a part this engine cannot read: only "
                          "{\"type\": \"text\", \"text\": ...} parts are supported (no images "
                          "or audio).", param=f"{param}.content")
        texts.append(part["text"])
    return "".join(texts)


def _prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if prompt is None:
        raise invalid("The request has no 'prompt'. Send the text to continue as a string.",
                      param="prompt", code="missing_required_parameter")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list):
        raise invalid("'prompt' must be one string: token arrays and several prompts per "
                      "request are not supported (send one request per prompt).", param="prompt")
    if not isinstance(prompt, str):
        raise invalid(f"'prompt' must be a string, not {_json_type(prompt)}.", param="prompt")
    if not prompt:
        raise invalid("'prompt' is empty. Send the text to continue.", param="prompt")
    return prompt


def _number(
    body: dict[str, Any], name: str, default: float, low: float, high: float,
    *, low_open: bool = False,
) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise invalid(f"'{name}' must be a number, not {_json_type(value)}.", param=name)
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = f"more than {low}" if low_open else f"at least {low}"
        raise invalid(f"'{name}' is {_shown(value)}; it must be {bound} and at most {high}.",
                      param=name)
    return float(value)


def _finite(value: float) -> bool:
    """A number a float can hold (a 400-digit integer cannot: OverflowError, not a 500)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text)} digits)"


def _boolean(body: dict[str, Any], name: str, default: bool, *, prefix: str = "") -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"'{prefix}{name}' must be true or false, not {_json_type(value)}.",
                      param=prefix + name)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
