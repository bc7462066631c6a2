"""Token metering from the engine's `usage` (upstream runners/helpers/CountTokens.cpp).

The counter reads the answer as it streams: server-sent events (`data: {...}` lines) or one JSON
document. Whenever a `usage` object raises a count, the running totals move and upstream's cost
fields (`prompt_total_cost`, `completion_total_cost`, `total_cost`, in nanoTON at the root
config's price) are added to that usage object. Complete SSE lines pass through at once, so
streaming stays streaming; a partial line waits for its end. Bytes without a usage object are
returned as they came (the same object when a chunk holds whole lines), never re-encoded.

Upstream's own counter parses the body as a stream of bare JSON values, so it sees no usage in
SSE answers until the end; here SSE is parsed line by line, which counts the same numbers.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cocoon_desktop.network.tl.base import TokensUsed
from cocoon_desktop.protocol.pricing import (
    AdjustedTokens,
    PriceMultipliers,
    TokenCounts,
    adjusted_tokens,
)

_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')


def _count(doc: Any, *path: str) -> int:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return 0
        doc = doc[key]
    return doc if isinstance(doc, int) and not isinstance(doc, bool) and doc >= 0 else 0


class TokenCounter:
    """Running usage of one request and the bytes to forward."""

    def __init__(self, coefficient: int, multipliers: PriceMultipliers,
                 price_per_token: int) -> None:
        self._coefficient = coefficient
        self._multipliers = multipliers
        self._price = price_per_token
        self._buffer = b""
        self._sse: bool | None = None
        self.counts = TokenCounts()

    @property
    def adjusted(self) -> AdjustedTokens:
        return adjusted_tokens(self.counts, self._coefficient, self._multipliers)

    def usage(self) -> TokensUsed:
        a = self.adjusted
        return TokensUsed(a.prompt, a.cached, a.completion, a.reasoning, a.total)

    def _observe(self, doc: Any) -> bool:
        c = self.counts
        new = TokenCounts(
            max(c.prompt_tokens, _count(doc, "usage", "prompt_tokens")),
            max(c.cached_tokens, _count(doc, "usage", "prompt_tokens_details", "cached_tokens")),
            max(c.completion_tokens, _count(doc, "usage", "completion_tokens")),
            max(c.reasoning_tokens, _count(doc, "usage", "completion_tokens_details",
                                           "reasoning_tokens"), _count(doc, "usage",
                                                                       "reasoning_tokens")))
        if new == c:
            return False
        self.counts = new
        a = self.adjusted
        doc["usage"]["prompt_total_cost"] = (a.prompt + a.cached) * self._price
        doc["usage"]["completion_total_cost"] = (a.completion + a.reasoning) * self._price
        doc["usage"]["total_cost"] = a.total * self._price
        return True

    def _rewrite_sse_line(self, line: bytes) -> bytes:
        if not line.startswith(b"data:") or not _USAGE_OBJECT.search(line):
            return line  # the fast path: most chunks carry no usage (or `"usage": null`)
        payload = line[5:].strip()
        try:
            doc = json.loads(payload)
        except ValueError:
            return line  # "[DONE]" and anything else that is not JSON passes through
        if not self._observe(doc):
            return line
        return b"data: " + json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    def feed(self, chunk: bytes) -> bytes:
        """Take engine bytes; return the bytes that can be forwarded now."""
        if self._sse and not self._buffer and chunk.endswith(b"\n") \
                and not _USAGE_OBJECT.search(chunk):
            return chunk  # the usual chunk: whole events, no usage object: passed as it is
        self._buffer += chunk
        if self._sse is None:
            start = self._buffer.lstrip()
            if len(start) < 5:
                return b""
            self._sse = start.startswith((b"data:", b"event:", b":", b"id:"))
        if not self._sse:
            return b""
        head, sep, rest = self._buffer.rpartition(b"\n")
        if not sep:
            return b""
        self._buffer = rest
        lines = (head + sep).split(b"\n")
        return b"\n".join(self._rewrite_sse_line(line) for line in lines)

    def finish(self) -> bytes:
        """The rest of the answer once the engine is done."""
        rest, self._buffer = self._buffer, b""
        if self._sse:
            return self._rewrite_sse_line(rest)
        try:
            doc = json.loads(rest)
        except ValueError:
            return rest
        if isinstance(doc, dict) and self._observe(doc):
            return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        return rest
