"""Real TDX quotes checked with Intel DCAP (dcap-qvl) against their real collateral, offline.

The quotes and collateral are in ../shared/tdx/ (see its README): one verifies inside its
window (2025-06-19 10:32:27Z .. 2025-07-19 10:16:03Z), the other has no matching TCB level.
The collateral service is a loopback stand-in serving those same signed files; nothing here
reaches the network.
"""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote as urlquote

import aiohttp
import pytest
from aiohttp import web

from cocoon_desktop.network.attestation import (
    AttestationError,
    AttestationPolicy,
    DcapVerifier,
    user_claims_hash,
)
from cocoon_desktop.network.collateral import (
    Collateral,
    CollateralCache,
    CollateralRefresher,
    fetch_collateral,
)
from cocoon_desktop.protocol.tdx_quote import INTEL_ROOT_KEY_ID, collateral_key, parse_tdx_quote

TDX = Path(__file__).resolve().parents[4] / "shared" / "tdx"
INSIDE_WINDOW = 1750329207
AFTER_WINDOW = datetime(2025, 7, 20, tzinfo=UTC).timestamp()
# The earliest nextUpdate of the four parts (a CRL's), a little before the TCB info's.
PCK_CRL_NEXT_UPDATE = datetime(2025, 7, 19, 10, 0, 35, tzinfo=UTC)
BEFORE_WINDOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()

pytestmark = pytest.mark.skipif(not (TDX / "tdx_quote").exists(),
                                reason="needs ../shared/tdx (the real quotes)")


def quote(name: str = "tdx_quote") -> bytes:
    return (TDX / name).read_bytes()


def cache_with(tmp_path: Path, name: str, clock: float) -> CollateralCache:
    cache = CollateralCache(tmp_path / "collateral", clock=lambda: clock)
    text = (TDX / f"{name}_collateral.json").read_text()
    cache.store(Collateral.from_json(collateral_key(quote(name)), text))
    return cache


def test_a_real_quote_verifies_inside_its_window_and_reports_its_tcb_status(tmp_path) -> None:
    verdict = DcapVerifier(cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW),
                           clock=lambda: INSIDE_WINDOW).verify(quote())
    assert verdict.tcb_status == "UpToDate"


def test_a_tampered_copy_fails(tmp_path) -> None:
    tampered = bytearray(quote())
    tampered[200] ^= 1  # one byte of the TD report body
    verifier = DcapVerifier(cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW),
                            clock=lambda: INSIDE_WINDOW)
    with pytest.raises(AttestationError, match="signature is invalid"):
        verifier.verify(bytes(tampered))


@pytest.mark.parametrize(("when", "message"), [
    (BEFORE_WINDOW, "issue date is in the future"), (AFTER_WINDOW, "expired|Expired")])
def test_a_time_outside_the_collateral_window_fails(tmp_path, when, message) -> None:
    # The collateral is handed over as it is: the verifier itself must refuse the time.
    cache = cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW)
    with pytest.raises(AttestationError, match=message):
        DcapVerifier(cache, clock=lambda: when).verify(quote())


def test_a_quote_with_no_matching_tcb_level_fails(tmp_path) -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    verifier = DcapVerifier(cache_with(tmp_path, "tdx_quote_outdated", when), clock=lambda: when)
    with pytest.raises(AttestationError, match="No matching TCB level found"):
        verifier.verify(quote("tdx_quote_outdated"))


def test_expired_collateral_is_not_used_and_the_reason_says_so(tmp_path) -> None:
    cache = cache_with(tmp_path, "tdx_quote", AFTER_WINDOW)
    with pytest.raises(AttestationError, match="can't check proxies' hardware: no collateral "
                                               "for platform B0C06F000000, last tried"):
        DcapVerifier(cache, clock=lambda: AFTER_WINDOW).verify(quote())
    assert cache.due() == {collateral_key(quote())}


def forged_quote(public_key: bytes) -> bytes:
    """The issue's forgery: 632 bytes, a listed proxy's registers, the attacker's report data,
    no signature section."""
    real = quote()
    header = struct.pack("<HHI", 4, 2, 0x81) + bytes(40)
    body = real[48:48 + 520] + user_claims_hash(public_key)
    return header + body


def test_the_forged_632_byte_quote_is_refused(tmp_path) -> None:
    attacker_key = b"\x42" * 32
    forged = forged_quote(attacker_key)
    listed = parse_tdx_quote(quote()).image_hash()
    assert len(forged) == 632 and parse_tdx_quote(forged).image_hash() == listed
    policy = AttestationPolicy("tdx", frozenset({listed}),
                               DcapVerifier(cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW),
                                            clock=lambda: INSIDE_WINDOW))
    with pytest.raises(AttestationError, match="The TDX quote cannot be read"):
        policy.validate(forged, attacker_key)


def test_the_quote_chains_up_to_intels_root_key_the_id_upstream_allows_by_default(
        tmp_path) -> None:
    verdict = DcapVerifier(cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW),
                           clock=lambda: INSIDE_WINDOW).verify(quote())
    assert verdict.root_key_id == INTEL_ROOT_KEY_ID  # router.cpp's default collateral hash


def test_a_root_key_outside_the_allow_list_is_refused(tmp_path) -> None:
    policy = AttestationPolicy("tdx", verifier=DcapVerifier(
        cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW), clock=lambda: INSIDE_WINDOW),
        allowed_root_key_ids=frozenset({b"\x07" * 48}))
    with pytest.raises(AttestationError, match="not an allowed collateral root"):
        policy.validate(quote(), b"\x01" * 32)


def test_the_real_quote_passes_dcap_then_must_be_bound_to_the_certificate(tmp_path) -> None:
    policy = AttestationPolicy("tdx", verifier=DcapVerifier(
        cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW), clock=lambda: INSIDE_WINDOW))
    with pytest.raises(AttestationError, match="report data mismatch"):
        policy.validate(quote(), b"\x01" * 32)  # genuine quote, someone else's key


def test_the_cache_keeps_collateral_on_disk_until_its_next_update(tmp_path) -> None:
    cache_with(tmp_path, "tdx_quote", INSIDE_WINDOW)
    reopened = CollateralCache(tmp_path / "collateral", clock=lambda: INSIDE_WINDOW)
    found = reopened.lookup(collateral_key(quote()))
    assert found is not None
    assert found.next_update == PCK_CRL_NEXT_UPDATE
    assert reopened.state().platforms_cached == 1


def pcs_stand_in(collateral: dict[str, str]) -> web.Application:
    """Serves one platform's signed collateral the way Intel's PCS v4 API does."""
    def signed(field: str, name: str) -> bytes:
        return (f'{{"{field}":{collateral[name]},"signature":'
                f'"{collateral[name + "_signature"]}"}}').encode()

    async def tcb(request: web.Request) -> web.Response:
        assert request.query["fmspc"] == "B0C06F000000"
        return web.Response(body=signed("tcbInfo", "tcb_info"), headers={
            "TCB-Info-Issuer-Chain": urlquote(collateral["tcb_info_issuer_chain"])})

    async def qe(_: web.Request) -> web.Response:
        return web.Response(body=signed("enclaveIdentity", "qe_identity"), headers={
            "SGX-Enclave-Identity-Issuer-Chain": urlquote(collateral["qe_identity_issuer_chain"])})

    async def pck_crl(request: web.Request) -> web.Response:
        assert request.query["ca"] in ("platform", "processor")
        return web.Response(body=bytes.fromhex(collateral["pck_crl"]), headers={
            "SGX-PCK-CRL-Issuer-Chain": urlquote(collateral["pck_crl_issuer_chain"])})

    async def root_crl(_: web.Request) -> web.Response:
        return web.Response(text=collateral["root_ca_crl"])  # a PCCS answers in hex

    app = web.Application()
    app.router.add_get("/tdx/certification/v4/tcb", tcb)
    app.router.add_get("/tdx/certification/v4/qe/identity", qe)
    app.router.add_get("/sgx/certification/v4/pckcrl", pck_crl)
    app.router.add_get("/sgx/certification/v4/rootcacrl", root_crl)
    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_collateral_fetched_from_a_pccs_verifies_the_quote() -> None:
    runner, url = await serve(pcs_stand_in(json.loads(
        (TDX / "tdx_quote_collateral.json").read_text())))
    try:
        async with aiohttp.ClientSession() as session:
            fetched = await fetch_collateral(session, url, collateral_key(quote()))
    finally:
        await runner.cleanup()
    assert fetched.next_update == PCK_CRL_NEXT_UPDATE
    from cocoon_desktop.protocol.tdx_quote import dcap_verify
    assert dcap_verify(quote(), fetched.json_text, INSIDE_WINDOW).tcb_status == "UpToDate"


async def test_a_miss_fetches_in_the_background_and_a_dead_service_is_explained(
        tmp_path) -> None:
    runner, url = await serve(pcs_stand_in(json.loads(
        (TDX / "tdx_quote_collateral.json").read_text())))
    cache = CollateralCache(tmp_path / "c", clock=lambda: INSIDE_WINDOW)
    verifier = DcapVerifier(cache, clock=lambda: INSIDE_WINDOW)
    task = asyncio.create_task(CollateralRefresher(cache, url).run())
    try:
        with pytest.raises(AttestationError, match="not fetched yet"):
            verifier.verify(quote())  # the handshake never waits for the network
        async with asyncio.timeout(30):
            while cache.state().platforms_cached == 0:
                await asyncio.sleep(0.05)
        assert verifier.verify(quote()).tcb_status == "UpToDate"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
    dead = CollateralCache(tmp_path / "d", clock=lambda: INSIDE_WINDOW)
    task = asyncio.create_task(CollateralRefresher(dead, url).run())  # the server is gone now
    try:
        with pytest.raises(AttestationError):
            DcapVerifier(dead, clock=lambda: INSIDE_WINDOW).verify(quote())
        async with asyncio.timeout(30):
            while dead.state().last_error is None:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(AttestationError, match=r"no collateral for platform B0C06F000000, "
                                               r"last tried .* UTC \(.*could not be reached"):
        DcapVerifier(dead, clock=lambda: INSIDE_WINDOW).verify(quote())
