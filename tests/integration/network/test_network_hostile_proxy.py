"""A proxy sending what no real one sends: every value is refused at the edge with an error
answer and a failed RequestFinished, nothing odd reaches the engine or the ledger, and the
worker goes on serving."""

from __future__ import annotations

import secrets
import time

import pytest

from cocoon_desktop.network.errors import PROTOVIOLATION
from cocoon_desktop.network.tl.base import HttpHeader, HttpRequest
from cocoon_desktop.network.tl.worker import (
    ProxyQueryAnswerErrorEx,
    ProxyRunQueryEx,
    SignedPaymentEmpty,
)
from cocoon_desktop.network.worker.types import RequestFinished
from tests.helpers.devnet_harness import chat, scripted_engine, served_devnet, wait_until
from tests.integration.network.test_network_bad_input import Capture

BODY = b'{"model":"smollm2-135m","messages":[{"role":"user","content":"hi"}]}'


@pytest.fixture
async def net():
    async with scripted_engine(parts=2) as engine, \
            served_devnet(engine.endpoint) as (devnet, worker, _):
        finished: list[RequestFinished] = []
        worker.add_listener(lambda e: finished.append(e) if isinstance(e, RequestFinished)
                            else None)
        yield devnet, worker, engine, finished


async def send(devnet, query: bytes, coefficient: int = 1000, timeout: float = 10.0):
    line = devnet.proxy.lines[0]
    rid, capture = secrets.token_bytes(32), Capture()
    line.relays[rid] = capture
    await line.send(ProxyRunQueryEx(query, SignedPaymentEmpty(), coefficient, timeout, rid, 0
                                    ).encode())
    await wait_until(lambda: capture.answers, timeout_s=30)
    return capture.answers[0]


def request(headers: list[HttpHeader], method: str = "POST", body: bytes = BODY) -> bytes:
    return HttpRequest(method, "/v1/chat/completions", "HTTP/1.1", headers, body).encode()


JSON = [HttpHeader("Content-Type", "application/json")]


@pytest.mark.parametrize(("coefficient", "timeout"), [
    (2**63 - 1, 10.0), (2**62, 10.0), (-1000, 10.0), (0, 10.0), (1_000_000_000, 10.0),
    (1000, float("nan")), (1000, float("inf")), (1000, -1.0)])
async def test_numbers_outside_upstreams_limits_are_refused(net, coefficient, timeout) -> None:
    devnet, worker, engine, finished = net
    answer = await send(devnet, request(JSON), coefficient, timeout)
    assert isinstance(answer, ProxyQueryAnswerErrorEx) and answer.error_code == PROTOVIOLATION
    assert "invalid coefficient" in answer.error or "invalid timeout" in answer.error
    await wait_until(lambda: finished)
    assert not finished[0].succeeded and finished[0].coefficient == worker.coefficient
    assert finished[0].adjusted.total == 0 and engine.seen == []
    assert (await chat(devnet, "still there?"))[0] == 200


@pytest.mark.parametrize(("method", "headers"), [
    ("POST\r\nX-Evil: 1", JSON),
    ("POST", [*JSON, HttpHeader("X-Evil\r\nInjected", "1")]),
    ("POST", [*JSON, HttpHeader("X-Evil", "a\r\nInjected: 1")]),
    ("POST", [*JSON, HttpHeader("X-Evil", "a\nb")]),
    ("POST", [*JSON, HttpHeader("X-Nul", "a\x00b")]),
])
async def test_cr_lf_in_the_head_is_an_error_answer_and_a_finished_request(
        net, method, headers) -> None:
    devnet, _, engine, finished = net
    answer = await send(devnet, request(headers, method))
    assert isinstance(answer, ProxyQueryAnswerErrorEx) and answer.error_code == PROTOVIOLATION
    assert "invalid http" in answer.error
    await wait_until(lambda: finished)
    assert not finished[0].succeeded and engine.seen == []
    assert (await chat(devnet, "still there?"))[0] == 200


async def test_a_proxys_lane_header_never_reaches_the_engine(net) -> None:
    devnet, _, engine, finished = net
    answer = await send(devnet, request([*JSON, HttpHeader("X-Cocoon-Lane", "chat"),
                                         HttpHeader("x-cocoon-lane", "chat")]))
    assert not isinstance(answer, ProxyQueryAnswerErrorEx)
    await wait_until(lambda: finished)
    lanes = [v for k, v in engine.seen_headers[0].items() if k.lower() == "x-cocoon-lane"]
    assert lanes == ["network"]


async def test_a_huge_head_is_refused_before_decoding_in_bounded_time(net) -> None:
    devnet, _, engine, finished = net
    many = [HttpHeader("a", "") for _ in range(2**20)]  # 8 MiB of tiny headers
    query = request(many, body=b"{}")
    assert len(query) > 8 * 2**20
    started = time.monotonic()
    answer = await send(devnet, query)
    assert time.monotonic() - started < 5.0
    assert isinstance(answer, ProxyQueryAnswerErrorEx) and answer.error_code == PROTOVIOLATION
    assert "exceeds" in answer.error or "headers" in answer.error
    fewer = request([HttpHeader("a", "") for _ in range(5000)])  # small, but too many
    answer = await send(devnet, fewer)
    assert "it has 5000 headers; at most 100" in answer.error
    await wait_until(lambda: len(finished) == 2)
    assert not any(f.succeeded for f in finished)
    assert engine.seen == [] and (await chat(devnet, "still there?"))[0] == 200
