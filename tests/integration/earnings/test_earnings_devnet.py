"""Earnings on the devnet: client -> devnet proxy -> worker -> real engine (bundled model).

Served requests land in the ledger with amounts that match the proxy's signed statements; a
statement signed with a wrong key is refused on the wire, one the ledger cannot place (a key
it never registered, another contract) by the ledger, and each gap is explained; a payout
seen on chain is matched to the requests it paid.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from nacl.signing import SigningKey
from pytoniq_core import Address

from cocoon_desktop.earnings.chain_sync import apply_contract_state
from cocoon_desktop.earnings.figures import summarize
from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.reconcile import GapKind, reconcile
from cocoon_desktop.earnings.recorder import EarningsRecorder
from cocoon_desktop.engine.host.supervisor import EngineSupervisor
from cocoon_desktop.hardware.energy import EnergyMeter, EnergyReading, Tariff
from cocoon_desktop.protocol.statements import (
    RejectReason,
    StatementRejected,
    sign_statement,
    verify_statement,
)
from tests.helpers.devnet_harness import (
    attested_devnet,
    attested_settings,
    chat,
    running_engine,
    wait_until,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.engine, pytest.mark.slow]
TARIFF = Tariff(Decimal("0.30"), "EUR")


class SteadyGpu:
    """Stands in for NVML (no GPU here): a GPU drawing a steady 150 W, with no counter."""

    def read(self) -> EnergyReading:
        return EnergyReading(time.monotonic(), None, 150.0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[EngineSupervisor]:
    async with running_engine() as supervisor:
        yield supervisor


@contextlib.asynccontextmanager
async def devnet_with_ledger(engine: EngineSupervisor, folder: Path):
    """A devnet, a worker on the real engine, and a ledger fed by the recorder."""
    settings = attested_settings()
    ledger = Ledger.open(folder / "ledger.sqlite3")
    recorder = EarningsRecorder(ledger, energy_meter=EnergyMeter(SteadyGpu()),
                                tariff=lambda: TARIFF)
    try:
        async with attested_devnet(lambda: engine.endpoint, settings, max_active_requests=4,
                                   listeners=(recorder.on_worker_event,)) as (devnet, worker, _):
            yield devnet, worker, ledger, recorder
    finally:
        recorder.close()
        ledger.close()


@pytest_asyncio.fixture(loop_scope="module")
async def served(engine: EngineSupervisor, tmp_path: Path):
    async with devnet_with_ledger(engine, tmp_path) as parts:
        yield parts


async def serve(devnet, recorder: EarningsRecorder, ledger: Ledger, prompts: list[str]) -> None:
    before = len(ledger.requests())
    for prompt in prompts:
        status, _, text = await chat(devnet, prompt, max_tokens=12)
        assert status == 200 and "[DONE]" in text
    await wait_until(lambda: recorder.flush() or len(ledger.requests()) == before + len(prompts))


def committed(ledger: Ledger, proxy_key: str) -> int:
    latest = ledger.latest_statement(proxy_key)
    return latest[1].tokens_committed if latest else 0


async def test_served_requests_match_the_proxys_signed_statements(served) -> None:
    devnet, _, ledger, recorder = served
    await serve(devnet, recorder, ledger, ["Name a fruit.", "Say hi.", "Count to three."])
    proxy_key = devnet.proxy.public_key.hex()
    requests = ledger.requests()
    total = sum(r.adjusted_tokens for r in requests)
    await wait_until(lambda: recorder.flush() or committed(ledger, proxy_key) == total)
    fee = devnet.root_config.worker_fee_per_token
    assert [r.adjusted_tokens for r in requests] == [t for _, t in devnet.proxy.metered]
    assert all(r.earned_nanoton == r.adjusted_tokens * fee > 0 for r in requests)
    assert all(r.proxy_key == proxy_key and r.succeeded for r in requests)
    # Energy from the (stand-in) GPU, priced at the tariff, kept with each request.
    for r in requests:
        seconds = (r.finished_at - r.started_at).total_seconds()
        assert r.energy_j == pytest.approx(150.0 * seconds, rel=0.5)
        assert r.energy_cost_nano == int(TARIFF.cost(r.energy_j) * 10**9)
    summary = summarize(ledger)
    assert summary.all_time.earned_nanoton == total * fee == committed(ledger, proxy_key) * fee
    [view] = reconcile(ledger).proxies
    assert view.earned_tokens == view.committed_tokens == view.counted_tokens == total
    assert {g.kind for g in view.gaps} == {GapKind.NOT_PAID, GapKind.NOT_SYNCED}


async def test_a_statement_the_ledger_cannot_place_is_refused_and_explained(served) -> None:
    """Statements reach the ledger verified (their signatures held); what the ledger checks
    is its own: a key it never registered, a contract other than the proxy's for us."""
    devnet, _, ledger, recorder = served
    await serve(devnet, recorder, ledger, ["Name a color."])
    proxy_key = devnet.proxy.public_key.hex()
    await wait_until(lambda: recorder.flush() or ledger.latest_statement(proxy_key) is not None)
    _, good = ledger.latest_statement(proxy_key)
    ours, refund = Address(good.worker_sc_address), Address(good.return_excesses_to)
    stranger_seed = b"\x66" * 32
    stranger = verify_statement(sign_statement(stranger_seed, 10**6, ours, refund),
                                bytes(SigningKey(stranger_seed).verify_key))
    with pytest.raises(StatementRejected) as caught:
        ledger.record_statement(stranger)
    assert caught.value.reason is RejectReason.UNKNOWN_PROXY
    elsewhere = verify_statement(
        sign_statement(devnet.proxy._seed, 10**6, Address("0:" + "ab" * 32), refund),
        devnet.proxy.public_key)
    with pytest.raises(StatementRejected) as caught:
        ledger.record_statement(elsewhere)
    assert caught.value.reason is RejectReason.WRONG_WORKER
    assert committed(ledger, proxy_key) == good.tokens_committed
    reasons = " | ".join(g.message for g in reconcile(ledger).rejections)
    assert "statement from an unknown proxy key rejected" in reasons
    assert "statement for another worker's contract rejected" in reasons


async def test_a_statement_signed_with_a_wrong_key_on_the_wire_is_not_trusted(
        engine: EngineSupervisor, tmp_path: Path) -> None:
    async with devnet_with_ledger(engine, tmp_path) as (devnet, _, ledger, recorder):
        await serve(devnet, recorder, ledger, ["Name a color."])
        proxy_key = devnet.proxy.public_key.hex()
        await wait_until(lambda: recorder.flush() or committed(ledger, proxy_key) > 0)
        before = committed(ledger, proxy_key)
        devnet.proxy._seed = b"\x66" * 32  # the proxy now signs with a key it never announced
        await serve(devnet, recorder, ledger, ["Say bye."])
        recorder.flush()
        assert committed(ledger, proxy_key) == before  # nothing new was trusted
        [view] = reconcile(ledger).proxies
        last = ledger.requests()[-1].adjusted_tokens
        gaps = {g.kind: g.message for g in view.gaps}
        assert f"proxy has not yet committed {last:,} tokens" in gaps[GapKind.NOT_COMMITTED]
        # The worker refused it on the wire, and the ledger's rejection log says so. Ed25519
        # cannot tell which key signed, only that the proxy's own key did not.
        await wait_until(lambda: recorder.flush() or ledger.rejected_statements() != [])
        [rejection] = ledger.rejected_statements()
        assert (rejection.proxy_key, rejection.reason) == (proxy_key, "bad_signature")
        said = " | ".join(g.message for g in reconcile(ledger).rejections)
        assert "tampered or wrongly signed statement rejected" in said
        assert "does not match the proxy's key" in said


async def test_a_recorded_payout_is_matched_to_the_requests_it_paid(served) -> None:
    devnet, _, ledger, recorder = served
    await serve(devnet, recorder, ledger, ["One.", "Two.", "Three.", "Four."])
    proxy_key = devnet.proxy.public_key.hex()
    requests = ledger.requests()
    first_three = sum(r.adjusted_tokens for r in requests[:3])
    await wait_until(lambda: recorder.flush() or committed(ledger, proxy_key)
                     == sum(r.adjusted_tokens for r in requests))
    # The worker contract is seen on chain having paid the first three requests' tokens.
    report = apply_contract_state(ledger, proxy_key, first_three, datetime.now(UTC))
    [payout_id] = report.found_on_chain
    [view] = reconcile(ledger).proxies
    [match] = view.matches
    assert match.payout_id == payout_id
    assert match.request_ids == tuple(r.request_id for r in requests[:3])
    assert not match.first_partial and not match.last_partial
    assert match.tokens_beyond_ledger == 0
    gaps = {g.kind: g for g in view.gaps}
    fee = devnet.root_config.worker_fee_per_token
    assert gaps[GapKind.NOT_PAID].tokens == requests[3].adjusted_tokens
    assert gaps[GapKind.NOT_RECEIVED].nanoton == first_three * fee
