"""Metering: usage read from SSE or JSON answers, upstream's adjustment and cost fields."""

from __future__ import annotations

import json

from cocoon_desktop.network.worker.stats import AmortCounterList, WorkerStats
from cocoon_desktop.network.worker.tokens import TokenCounter
from cocoon_desktop.protocol.pricing import PriceMultipliers

USAGE = {"prompt_tokens": 100, "completion_tokens": 40,
         "prompt_tokens_details": {"cached_tokens": 30},
         "completion_tokens_details": {"reasoning_tokens": 10}}


def sse(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def test_sse_lines_pass_through_as_they_complete() -> None:
    counter = TokenCounter(1000, PriceMultipliers(), 2)
    first = sse({"choices": [{"delta": {"content": "hi"}}]})
    assert counter.feed(first[:10]) == b""
    assert counter.feed(first[10:]) == first
    assert counter.feed(b"data: [DO") == b""
    assert counter.feed(b"NE]\n\n") == b"data: [DONE]\n\n"
    assert counter.finish() == b""


def test_usage_is_counted_adjusted_and_priced_in_the_stream() -> None:
    counter = TokenCounter(1500, PriceMultipliers(prompt=10000, cached=5000, completion=20000,
                                                  reasoning=10000), 3)
    out = counter.feed(sse({"choices": [], "usage": USAGE}))
    usage = json.loads(out[6:])["usage"]
    used = counter.usage()
    # upstream: prompt excludes cached, completion excludes reasoning, then x1.5 x multiplier
    assert (used.prompt_tokens_used, used.cached_tokens_used) == (105, 22)
    assert (used.completion_tokens_used, used.reasoning_tokens_used) == (90, 15)
    assert used.total_tokens_used == 232
    assert usage["prompt_total_cost"] == (105 + 22) * 3
    assert usage["completion_total_cost"] == (90 + 15) * 3
    assert usage["total_cost"] == 232 * 3


def test_a_plain_json_answer_is_metered_at_the_end() -> None:
    counter = TokenCounter(1000, PriceMultipliers(), 1)
    body = json.dumps({"choices": [{"text": "x"}], "usage": {"prompt_tokens": 5,
                                                             "completion_tokens": 2}}).encode()
    assert counter.feed(body) == b""
    out = json.loads(counter.finish())
    assert out["usage"]["total_cost"] == 7 and counter.usage().total_tokens_used == 7


def test_null_or_garbage_usage_counts_nothing() -> None:
    counter = TokenCounter(1000, PriceMultipliers(), 1)
    raw = sse({"usage": None}) + sse({"usage": {"prompt_tokens": -4}}) + b"data: {broken\n\n"
    assert counter.feed(raw) == raw
    assert counter.usage().total_tokens_used == 0


def test_amortized_counters_report_total_and_decaying_rates() -> None:
    now = [0.0]
    counters = AmortCounterList(lambda: now[0])
    counters.add(10)
    assert counters.as_list()[0] == 10
    assert abs(counters.as_list()[1] - 10.0) < 1e-9  # 10 over a 1 s window
    now[0] = 5.0
    rates = counters.as_list()
    assert rates[1] < 0.1 and rates[2] > 0.5  # the 1 s window forgot, the 10 s one not yet
    stats = WorkerStats(lambda: now[0])
    stats.add("queries")
    assert stats.as_json()["queries"][0] == 1 and len(stats.as_json()) == 11
