"""Bad input on the wire and in requests: each refused clearly; everyone else keeps being served."""

from __future__ import annotations

import asyncio
import secrets
import struct

import aiohttp
import pytest

from cocoon_desktop.network import tl
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.connection import TlConnection
from cocoon_desktop.network.errors import PROTOVIOLATION, RemoteError
from cocoon_desktop.network.framing import encode_frame
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.tl.base import HttpHeader, HttpRequest, TcpConnect
from cocoon_desktop.network.tl.worker import (
    ProxyQueryAnswerErrorEx,
    ProxyRunQueryEx,
    SignedPaymentEmpty,
    WorkerCompareBalance,
    WorkerConnectToProxy,
    WorkerParams,
)
from cocoon_desktop.network.transport import open_ratls
from tests.helpers.devnet_harness import (
    SERVED,
    chat,
    scripted_engine,
    served_devnet,
    wait_until,
)


@pytest.fixture
async def net():
    async with scripted_engine(parts=5, delay_s=0.05) as engine, \
            served_devnet(engine.endpoint, max_request_bytes=2000) as (devnet, worker, _):
        yield devnet, worker, engine


async def raw_stream(devnet):
    stream, _ = await open_ratls(devnet.workers_endpoint, make_identity(None),
                                 AttestationPolicy("any"))
    return stream


@pytest.mark.parametrize("frame", [
    struct.pack("<Ii", 3, 0) + b"abc",  # too short
    struct.pack("<Ii", (1 << 24) + 1, 0),  # too long
    encode_frame(TcpConnect(1).encode(), 7),  # wrong sequence number
    encode_frame(struct.pack("<I", 0x12345678) + b"\x00" * 8, 0),  # unknown constructor
    encode_frame(TcpConnect(1).encode()[:6], 0),  # truncated TL
])
async def test_broken_frames_close_that_connection_only(net, frame: bytes, caplog) -> None:
    devnet, _, _ = net
    stream = await raw_stream(devnet)
    await stream.write(frame)
    assert await asyncio.wait_for(stream.read(), 10) == b""  # the proxy hung up
    await stream.close()
    assert (await chat(devnet, "still there?"))[0] == 200


async def test_out_of_order_and_replayed_handshakes_are_refused(net) -> None:
    devnet, _, _ = net
    stream = await raw_stream(devnet)
    conn = TlConnection(stream, is_client=True, name="intruder")
    await conn.start()
    with pytest.raises(RemoteError, match=r"unexpected worker\.compareBalanceWithProxy"):
        await conn.query(WorkerCompareBalance(0, 0, 0).encode(), 5)
    params = WorkerParams(0, devnet.root_contract_address, "x@y:z", 1000, True, 1, 1, 1, 2)
    await conn.query(WorkerConnectToProxy(params).encode(), 5)
    with pytest.raises(RemoteError, match=r"unexpected worker\.connectToProxy") as info:
        await conn.query(WorkerConnectToProxy(params).encode(), 5)
    assert info.value.code == PROTOVIOLATION
    await conn.close()


class Capture:
    """Stands in for the proxy's relay to see what the worker answers to a forged request."""

    def __init__(self) -> None:
        self.answers: list[tl.TlObject] = []

    async def from_worker(self, message: tl.TlObject) -> None:
        self.answers.append(message)

    async def fail(self, code: int, error: str) -> None:
        pass


async def forge(devnet, query: bytes) -> ProxyQueryAnswerErrorEx:
    line = devnet.proxy.lines[0]
    rid, capture = secrets.token_bytes(32), Capture()
    line.relays[rid] = capture
    await line.send(ProxyRunQueryEx(query, SignedPaymentEmpty(), 1000, 10.0, rid, 0).encode())
    await wait_until(lambda: capture.answers)
    answer = capture.answers[0]
    assert isinstance(answer, ProxyQueryAnswerErrorEx)
    return answer


def http(url: str, payload: bytes) -> bytes:
    return HttpRequest("POST", url, "HTTP/1.1", [HttpHeader("Content-Type", "application/json")],
                       payload).encode()


@pytest.mark.parametrize(("query", "message"), [
    (http("/v1/embeddings", b'{"model":"smollm2-135m","input":"x"}'), "unsupported method"),
    (http("/v1/chat/completions", b'{"model":"smollm2-135m","messages":["' + b"x" * 3000
          + b'"]}'), "exceeds the 2000-byte limit"),
    (http("/v1/chat/completions", b'{"model":"other","messages":[]}'), "model name mismatch"),
    (http("/v1/chat/completions", b"")[:-3], "invalid http request"),
])
async def test_bad_requests_get_an_error_answer_and_serving_goes_on(net, query, message) -> None:
    devnet, worker, engine = net
    answer = await forge(devnet, query)
    assert message in answer.error and answer.error_code == PROTOVIOLATION
    assert engine.seen == []  # nothing reached the engine
    assert worker.stats.total("failed") == 1
    assert (await chat(devnet, "hi"))[0] == 200


async def test_an_unknown_message_from_the_proxy_is_dropped_not_fatal(net, caplog) -> None:
    devnet, worker, _ = net
    await devnet.proxy.lines[0].send(struct.pack("<I", 0xDEADBEEF) + b"\x00" * 8)
    await asyncio.sleep(0.2)
    assert "unknown TL constructor 0xdeadbeef" in caplog.text
    assert worker.status().connected_proxies == 1
    assert (await chat(devnet, "hi"))[0] == 200


async def test_a_client_that_disappears_mid_stream_does_not_hurt_the_others(net) -> None:
    devnet, worker, _ = net
    body = {"model": SERVED, "messages": [{"role": "user", "content": "x"}], "stream": True}
    headers = {"Authorization": f"Bearer {devnet.settings.http_token}"}
    async with aiohttp.ClientSession() as session:
        resp = await session.post(f"{devnet.http_url}/v1/chat/completions", json=body,
                                  headers=headers)
        await resp.content.readline()
        resp.close()  # gone, mid-answer
    status, _, text = await chat(devnet, "and me?")
    assert status == 200 and "[DONE]" in text
    await wait_until(lambda: worker.status().active_requests == 0)
    assert worker.stats.total("success") == 2
