"""Request validation before anything reaches the engine (upstream runners/helpers/ValidateRequest).

Only `/v1/chat/completions` and `/v1/completions` are served. The body must be one JSON object
with no duplicate keys and only the options upstream allows, each of the right type. Streaming
requests always get `stream_options.include_usage = true`, because tokens (and so earnings) are
counted from the engine's final usage chunk. The rewritten body is compact JSON with sorted keys,
as upstream's nlohmann::json dump writes it.

Every number a proxy sends is bounded here, at the protocol edge, before it is used or stored:
the coefficient by upstream's limit (the proxy refuses a worker coefficient of 1e9 or more; 0
would serve for free and the ledger refuses it), the timeout, every number in the JSON body
(finite, at most 1e15: a 400-digit `temperature` would otherwise reach the engine), and the
HTTP head (method and header names are RFC 9110 tokens, values have no CR, LF or NUL, at most
`MAX_HEADERS` headers, checked on the TL bytes before decoding them, so 2^20 tiny headers cost
nothing).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cocoon_desktop.network.errors import PROTOVIOLATION, RemoteError
from cocoon_desktop.network.tl.base import HttpRequest
from cocoon_desktop.network.tl.codec import TlError, TlReader

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"
MAX_COEFFICIENT = 999_999_999  # upstream's proxy: a worker coefficient must be below 1e9
MAX_TIMEOUT_S = 86400.0
MAX_HEADERS = 100
MAX_HEAD_BYTES = 64 * 1024  # method, URL, version and headers together
MAX_JSON_NUMBER = 1e15
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")


class RequestRejected(RemoteError):
    """A request the worker refuses; sent back as an error answer with code PROTOVIOLATION."""

    def __init__(self, message: str) -> None:
        super().__init__(PROTOVIOLATION, message)


@dataclass(frozen=True)
class ValidatedRequest:
    path: str
    model: str
    body: bytes
    stream: bool


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) <= MAX_JSON_NUMBER


def _is_number(v: Any) -> bool:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v) and abs(v) <= MAX_JSON_NUMBER
    except OverflowError:  # an integer too large for a float
        return False


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise RequestRejected(message)


def _penalty(name: str) -> Callable[[Any], None]:
    def check(v: Any) -> None:
        _check(_is_number(v), f"{name} must be a number")
        _check(-2 <= v <= 2, f"{name} must be between -2.0 and 2.0")
    return check


def _max_tokens(name: str) -> Callable[[Any], None]:
    def check(v: Any) -> None:
        _check(_is_int(v), f"{name} must be a number")
        _check(v >= 0, f"{name} must be non-negative")
    return check


def _type(name: str, test: Callable[[Any], bool], what: str) -> Callable[[Any], None]:
    return lambda v: _check(test(v), f"{name} must be {what}")


def _stream_options(value: Any) -> None:
    _check(isinstance(value, dict), "stream_options must be an object")
    value["include_usage"] = True
    for key, item in value.items():
        _check(key in ("include_usage", "include_obfuscation"),
               f"unknown option '{key}' in stream_options")
        _check(isinstance(item, bool), f"stream_options.{key} must be a boolean")


def _chat_template_kwargs(value: Any) -> None:
    _check(isinstance(value, dict), "chat_template_kwargs must be an object")
    for key, item in value.items():
        _check(key == "enable_thinking",
               f"unknown suboption '{key}' in chat_template_kwargs in request")
        _check(isinstance(item, bool), "chat_template_kwargs.enable_thinking must be a boolean")


_is_bool = (lambda v: isinstance(v, bool), "a boolean")
_is_str = (lambda v: isinstance(v, str), "a string")
_is_num = (_is_number, "a number")
_is_uint = (lambda v: _is_int(v) and v >= 0, "a number")
_COMMON: dict[str, Callable[[Any], None]] = {
    "model": _type("model", *_is_str),
    "frequency_penalty": _penalty("frequency_penalty"),
    "max_tokens": _max_tokens("max_tokens"),
    "n": lambda v: (_check(_is_int(v), "n must be a number"), _check(v >= 1, "n must be positive")),
    "presence_penalty": _type("presence_penalty", *_is_num),
    "stop": lambda v: None,
    "stream": _type("stream", *_is_bool),
    "stream_options": _stream_options,
    "temperature": _type("temperature", *_is_num),
    "top_p": _type("top_p", *_is_num),
}
_CHAT = _COMMON | {
    "messages": _type("messages", lambda v: isinstance(v, list), "an array"),
    "max_completion_tokens": _max_tokens("max_completion_tokens"),
    "parallel_tool_calls": _type("parallel_tool_calls", *_is_bool),
    "prediction": _type("prediction", *_is_num),
    "reasoning_effort": _type("reasoning_effort", *_is_str),
    "response_format": lambda v: None,
    "top_logprobs": _type("top_logprobs", *_is_uint),
    "verbosity": _type("verbosity", *_is_str),
    "chat_template_kwargs": _chat_template_kwargs,
}
_COMPLETIONS = _COMMON | {
    "prompt": _type("prompt", lambda v: isinstance(v, list | str), "an array or a string"),
    "best_of": _type("best_of", *_is_uint),
    "echo": _type("echo", *_is_bool),
    "seed": _type("seed", _is_int, "an integer"),
    "suffix": _type("suffix", *_is_bool),
    "skip_special_tokens": _type("skip_special_tokens", *_is_bool),
}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        _check(key not in out, f"duplicate '{key}' field")
        out[key] = value
    return out


def check_run_query(coefficient: int, timeout_s: float) -> None:
    """The numbers of a `proxy.runQueryEx` itself, before anything is counted with them."""
    _check(1 <= coefficient <= MAX_COEFFICIENT,
           f"invalid coefficient value {coefficient}: it must be between 1 and "
           f"{MAX_COEFFICIENT} (1000 = 1.0x)")
    _check(math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S,
           f"invalid timeout {timeout_s!r}: it must be between 0 and {MAX_TIMEOUT_S:g} seconds")


def prescan_http_request(query: bytes, max_body_bytes: int) -> None:
    """Bound an `http.request`'s size and header count from its TL bytes, before decoding."""
    _check(len(query) <= max_body_bytes + MAX_HEAD_BYTES,
           f"invalid http request: {len(query)} bytes exceeds the {max_body_bytes}-byte body "
           "limit plus room for its head")
    reader = TlReader(query)
    try:
        if reader.uint32() != HttpRequest.TL_ID:
            return  # not an http.request: decoding says what it is
        for _ in range(3):  # method, url, http_version
            reader.bytes_()
        count = reader.int32()
    except TlError:
        return  # decoding reports the damage
    _check(0 <= count <= MAX_HEADERS,
           f"invalid http request: it has {count} headers; at most {MAX_HEADERS} are accepted")


def check_head(method: str, headers: list[tuple[str, str]]) -> None:
    """Method and header names are tokens; header values carry no CR, LF or NUL."""
    _check(bool(_TOKEN.fullmatch(method or "POST")),
           f"invalid http request: method {method[:40]!r} is not a plain token such as POST")
    for name, value in headers:
        _check(bool(_TOKEN.fullmatch(name)),
               f"invalid http request: header name {name[:40]!r} is not a plain token")
        _check(not _BAD_VALUE.search(value), f"invalid http request: the value of header "
                                             f"{name[:40]!r} holds CR, LF or NUL")
    _check(sum(len(n) + len(v) for n, v in headers) <= MAX_HEAD_BYTES,
           f"invalid http request: the headers exceed {MAX_HEAD_BYTES} bytes")


def request_path(url: str) -> str:
    """The path upstream matches on: everything from the first '/' of the URL."""
    slash = url.find("/")
    return url[slash:] if slash >= 0 else url


def validate_request(url: str, body: bytes, max_body_bytes: int) -> ValidatedRequest:
    """Check and rewrite one request; RequestRejected says exactly what is wrong."""
    path = request_path(url)
    rules = {CHAT_PATH: _CHAT, COMPLETIONS_PATH: _COMPLETIONS}.get(path)
    _check(rules is not None, f"unsupported method '{path}': only {CHAT_PATH} and "
                              f"{COMPLETIONS_PATH} are served")
    _check(len(body) <= max_body_bytes, f"request body of {len(body)} bytes exceeds the "
                                        f"{max_body_bytes}-byte limit")
    try:
        doc = json.loads(body, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, RequestRejected):
            raise
        raise RequestRejected("expected json object") from None
    _check(isinstance(doc, dict), "expected json object")
    assert rules is not None
    for name, value in doc.items():
        _check(name in rules, f"unknown option '{name}' in request")
        rules[name](value)
    required = "messages" if path == CHAT_PATH else "prompt"
    for name in (required, "model"):
        _check(name in doc, f"missing required field '{name}'")
    if "stream_options" in doc and "stream" not in doc:
        doc["stream"] = True
    stream = bool(doc.get("stream"))
    if stream and "stream_options" not in doc:
        doc["stream_options"] = {"include_usage": True}
    compact = json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return ValidatedRequest(path, doc["model"], compact.encode(), stream)
