"""Several proxies at once, and reconnection with backoff when a proxy goes away and returns."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider
from cocoon_desktop.network.attestation import AttestationPolicy, fake_tdx_image_hash
from cocoon_desktop.network.devnet.network import DevnetSettings, start_devnet
from cocoon_desktop.network.root_config import parse_address
from cocoon_desktop.network.worker.types import PaymentRejected, ProxyStateChanged
from cocoon_desktop.protocol.cells import raw_address
from cocoon_desktop.protocol.statements import RejectReason, verify_statement
from tests.helpers.devnet_harness import (
    MODEL_NAME,
    chat,
    make_worker,
    scripted_engine,
    wait_until,
)


@pytest.fixture
async def engine():
    async with scripted_engine() as scripted:
        yield scripted


async def test_one_worker_serves_two_proxies_and_splits_its_slots(engine) -> None:
    first = await start_devnet(DevnetSettings(pow_difficulty=4))
    second = await start_devnet(DevnetSettings(pow_difficulty=4))
    worker = make_worker(first, engine.endpoint, max_active_requests=4,
                         proxies=(first.workers_endpoint, second.workers_endpoint))
    await worker.start()
    try:
        await wait_until(lambda: worker.status().connected_proxies == 2)
        assert [line.max_active_requests for line in first.proxy.lines] == [2]
        assert [line.max_active_requests for line in second.proxy.lines] == [2]
        assert (await chat(first, "one"))[0] == 200
        assert (await chat(second, "two"))[0] == 200
        committed = sorted(a.tokens_committed for a in worker.accounts.values())
        assert committed == [14, 14]  # each proxy signed for what it routed
    finally:
        await worker.stop()
        await first.stop()
        await second.stop()


async def test_the_worker_reconnects_when_its_proxy_comes_back(engine) -> None:
    devnet = await start_devnet(DevnetSettings(pow_difficulty=4))
    port = devnet.workers_endpoint.port
    worker = make_worker(devnet, engine.endpoint)
    states: list[str] = []
    worker.add_listener(lambda e: states.append(e.state) if isinstance(e, ProxyStateChanged)
                        else None)
    await worker.start()
    try:
        await wait_until(lambda: worker.status().connected_proxies == 1)
        await devnet.stop()
        await wait_until(lambda: worker.status().proxies[0].state != "ready")
        assert worker.status().proxies[0].detail  # says why
        devnet = await start_devnet(DevnetSettings(workers_port=port, pow_difficulty=4))
        await wait_until(lambda: worker.status().connected_proxies == 1, 30)
        assert states.count("ready") == 2 and "disconnected" in states
        assert (await chat(devnet, "back again"))[0] == 200
    finally:
        await worker.stop()
        await devnet.stop()


async def test_a_proxy_whose_image_hash_is_not_listed_is_refused(engine) -> None:
    devnet = await start_devnet(DevnetSettings(pow_difficulty=4))
    worker = make_worker(devnet, engine.endpoint, check_proxy_hashes=True)
    await worker.start()
    try:
        await wait_until(lambda: "invalid proxy hash" in worker.status().proxies[0].detail)
        assert devnet.proxy.lines == []
    finally:
        await worker.stop()
        await devnet.stop()


async def test_the_proxy_checks_worker_image_and_model_hashes(engine) -> None:
    devnet = await start_devnet(DevnetSettings(
        pow_difficulty=4, worker_policy=AttestationPolicy("fake_tdx"), check_worker_hashes=True,
        worker_hashes=frozenset({fake_tdx_image_hash()}), model_names=(MODEL_NAME,)))
    listed = make_worker(devnet, engine.endpoint, FakeTdxProvider())
    unlisted = make_worker(devnet, engine.endpoint, FakeTdxProvider(), model_name="other@a:b")
    await listed.start()
    await unlisted.start()
    try:
        await wait_until(lambda: listed.status().connected_proxies == 1)
        await wait_until(lambda: "invalid worker model" in unlisted.status().proxies[0].detail)
        assert len(devnet.proxy.lines) == 1
    finally:
        await listed.stop()
        await unlisted.stop()
        await devnet.stop()


async def test_a_proxy_that_forgot_what_it_signed_is_refused(engine) -> None:
    """The worker remembers a statement for 50 tokens (from the ledger); the proxy now claims
    it owes nothing: upstream's rollback check refuses it."""
    devnet = await start_devnet(DevnetSettings(pow_difficulty=4))
    worker = make_worker(devnet, engine.endpoint)
    account = devnet.proxy.account(parse_address(worker.config.owner_address, "owner"))
    account.tokens = 50
    statement = verify_statement(devnet.proxy.sign(account).data, devnet.proxy.public_key,
                                 raw_address(account.sc_address))
    account.tokens = 0  # the proxy "lost" its database
    devnet.proxy.sign(account)
    worker.restore_account(statement, raw_address(devnet.proxy.sc_address))
    rejected: list[PaymentRejected] = []
    worker.add_listener(lambda e: rejected.append(e) if isinstance(e, PaymentRejected) else None)
    await worker.start()
    try:
        await wait_until(lambda: "cannot reconcile payment" in worker.status().proxies[0].detail)
        assert "raise it with the proxy's operator" in worker.status().proxies[0].detail
        assert worker.status().connected_proxies == 0
        assert rejected and rejected[0].reason is RejectReason.ROLLBACK  # for the ledger's log
        assert "it signed 0 tokens, fewer than the 50 it signed before" in rejected[0].detail
    finally:
        await worker.stop()
        await devnet.stop()
