"""Client -> devnet proxy -> worker -> real engine (bundled SmolLM2-135M) -> streamed answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.network.attestation import AttestationPolicy, fake_tdx_image_hash
from cocoon_desktop.network.worker.types import PaymentReceived, RequestFinished
from cocoon_desktop.protocol.pricing import adjusted_tokens
from tests.helpers.devnet_harness import (
    ServedDevnet,
    attested_devnet,
    chat,
    make_worker,
    running_engine,
    wait_until,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.engine, pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[EngineSupervisor]:
    async with running_engine() as supervisor:
        yield supervisor


@pytest_asyncio.fixture(loop_scope="module")
async def network(engine: EngineSupervisor) -> AsyncIterator[ServedDevnet]:
    async with attested_devnet(lambda: engine.endpoint, max_active_requests=4) as served:
        yield served


async def test_a_streamed_answer_and_tokens_agree_on_all_three_sides(network) -> None:
    devnet, worker, events = network
    status, chunks, _ = await chat(devnet, "Name three colors.", max_tokens=24)
    assert status == 200
    content = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
    assert len([c for c in content if c]) > 3  # it streamed, chunk by chunk
    usage = next(c["usage"] for c in chunks if c.get("usage"))
    await wait_until(lambda: any(isinstance(e, PaymentReceived) for e in events))
    finished = next(e for e in events if isinstance(e, RequestFinished))
    assert finished.succeeded and finished.tokens.prompt_tokens == usage["prompt_tokens"]
    assert finished.tokens.completion_tokens == usage["completion_tokens"]
    adjusted = adjusted_tokens(finished.tokens, 1000, devnet.root_config.multipliers).total
    assert adjusted == finished.adjusted.total > 0
    assert devnet.proxy.metered[-1][1] == adjusted  # the proxy metered the same
    assert list(devnet.client.charged.values())[-1] == adjusted  # and billed the client that
    root = devnet.root_config
    assert usage["total_cost"] == adjusted * root.price_per_token
    assert finished.earned_nanoton == adjusted * root.worker_fee_per_token
    payment = next(e for e in events if isinstance(e, PaymentReceived))
    assert payment.statement.tokens_committed == adjusted
    assert payment.statement.worker_sc_address == finished_account(worker).worker_sc_address


def finished_account(worker):
    return next(iter(worker.accounts.values()))


async def test_eight_concurrent_requests_with_four_slots_complete_or_are_refused(network):
    devnet, worker, _ = network
    results = await asyncio.gather(*(chat(devnet, f"Count to {i + 3}.", max_tokens=12)
                                     for i in range(8)))
    completed = [r for r in results if r[0] == 200 and "[DONE]" in r[2]]
    refused = [r for r in results if r[0] == 502 and "busy" in r[2]]
    assert len(completed) + len(refused) == 8, [(r[0], r[2][:120]) for r in results]
    assert len(completed) >= 4
    assert worker.status().active_requests == 0


async def test_a_disabled_worker_is_skipped_and_enable_brings_it_back(network) -> None:
    devnet, worker, _ = network
    worker.disable()
    await wait_until(lambda: all(line.is_disabled for line in devnet.proxy.lines))
    status, _, text = await chat(devnet, "Hi")
    assert status == 502 and "no ready workers" in text
    worker.enable()
    await wait_until(lambda: not any(line.is_disabled for line in devnet.proxy.lines))
    status, _, text = await chat(devnet, "Hi")
    assert status == 200 and "[DONE]" in text


async def test_bad_requests_are_refused_and_the_worker_keeps_serving(network) -> None:
    devnet, worker, events = network
    failed_before = worker.stats.total("failed")
    status, _, text = await chat(devnet, "Hi", logit_bias={"1": 2})
    assert status == 500 and "unknown option 'logit_bias'" in text
    assert worker.stats.total("failed") == failed_before + 1
    assert any(isinstance(e, RequestFinished) and "logit_bias" in (e.error or "") for e in events)
    headers = {"Authorization": f"Bearer {devnet.settings.http_token}"}
    async with aiohttp.ClientSession() as session, session.post(
            f"{devnet.http_url}/v1/embeddings", json={"model": "x"}, headers=headers) as resp:
        assert resp.status == 405 or resp.status == 404
    status, _, text = await chat(devnet, "Hi")
    assert status == 200 and "[DONE]" in text


async def test_a_worker_without_attestation_is_refused(network, engine) -> None:
    devnet, _, _ = network
    intruder = make_worker(devnet, lambda: engine.endpoint, None)  # no quote in its certificate
    await intruder.start()
    try:
        await wait_until(lambda: "TLS" in intruder.status().proxies[0].detail)
        assert intruder.status().connected_proxies == 0
        assert len(devnet.proxy.lines) == 1  # only the attested worker is served
    finally:
        await intruder.stop()


async def test_a_worker_refuses_a_proxy_outside_its_policy(network, engine) -> None:
    devnet, _, _ = network
    strict = make_worker(devnet, lambda: engine.endpoint, FakeTdxProvider(),
                         AttestationPolicy("fake_tdx", frozenset({b"\x01" * 32})))
    await strict.start()
    try:
        await wait_until(lambda: "refused" in strict.status().proxies[0].detail)
        assert "not in the allow-list" in strict.status().proxies[0].detail
        assert fake_tdx_image_hash().hex() in strict.status().proxies[0].detail
    finally:
        await strict.stop()
