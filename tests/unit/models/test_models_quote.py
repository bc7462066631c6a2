"""Quote providers: fake_tdx's format, TDX quote parsing and image hash, configfs-tsm against a
fake configfs tree (TDX hardware is absent here), detection and selection."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest

from cocoon_desktop.engine.attestation.providers import (
    FakeTdxProvider,
    NoneProvider,
    ProviderAvailability,
    TdxConfigfsProvider,
    detect_quote_providers,
    select_quote_provider,
)
from cocoon_desktop.protocol.tdx_quote import (
    QuoteError,
    fake_tdx_measurements,
    image_hash_of_quote,
    parse_tdx_quote,
    report_data_for_claims,
)
from tests.helpers.fake_tdx import (
    REGISTERS,
    FakeTsmEntry,
    tdx_quote_v4,
    tdx_quote_v5,
    upstream_image_hash,
)

REPORT_DATA = hashlib.sha512(b"an ed25519 public key, 32 bytes").digest()


def test_fake_tdx_quote_is_the_report_data_itself() -> None:
    quote = FakeTdxProvider().quote(REPORT_DATA)
    assert quote == REPORT_DATA
    measured = fake_tdx_measurements(quote)
    assert measured.report_data == REPORT_DATA and measured.is_fake


def test_fake_tdx_image_hash_is_sha256_of_448_zero_bytes() -> None:
    expected = hashlib.sha256(bytes(448)).digest()
    assert FakeTdxProvider().image_hash() == expected
    assert image_hash_of_quote("fake_tdx", REPORT_DATA) == expected


@pytest.mark.parametrize("provider", [FakeTdxProvider(), NoneProvider()])
@pytest.mark.parametrize("bad", [b"", b"x" * 63, b"x" * 65, "x" * 64])
def test_report_data_must_be_64_bytes(provider: object, bad: object) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        provider.quote(bad)  # type: ignore[attr-defined]


def test_none_provider_has_no_quote_and_no_image_hash() -> None:
    assert NoneProvider().quote(REPORT_DATA) == b""
    assert NoneProvider().image_hash() is None


def test_report_data_for_claims_is_sha512() -> None:
    assert report_data_for_claims(b"claims") == hashlib.sha512(b"claims").digest()


def test_tdx_quote_v4_registers_and_image_hash() -> None:
    measured = parse_tdx_quote(tdx_quote_v4(REPORT_DATA))
    assert measured.mr_td == REGISTERS[0] and measured.rtmr[3] == REGISTERS[7]
    assert measured.report_data == REPORT_DATA and not measured.is_fake
    assert measured.image_hash() == upstream_image_hash()


@pytest.mark.parametrize("body_type", [2, 3])
def test_tdx_quote_v5_bodies(body_type: int) -> None:
    measured = parse_tdx_quote(tdx_quote_v5(REPORT_DATA, body_type))
    assert measured.image_hash() == upstream_image_hash()
    assert measured.report_data == REPORT_DATA


def test_image_hash_ignores_report_data_but_not_registers() -> None:
    other_data = hashlib.sha512(b"another key").digest()
    assert image_hash_of_quote("tdx", tdx_quote_v4(REPORT_DATA)) == image_hash_of_quote(
        "tdx", tdx_quote_v4(other_data)
    )
    changed = (*REGISTERS[:7], b"\x99" * 48)  # another RTMR3: another image
    assert parse_tdx_quote(tdx_quote_v4(REPORT_DATA, changed)).image_hash() != (
        upstream_image_hash()
    )


@pytest.mark.parametrize(
    ("quote", "message"),
    [
        (b"short", "too short"),
        (struct.pack("<HHI", 3, 2, 0) + bytes(600), "Not a TDX quote"),
        (struct.pack("<HHI", 4, 2, 0) + bytes(600), "Not a TDX quote"),
        (struct.pack("<HHI", 4, 2, 0x81) + bytes(100), "cut short"),
        (struct.pack("<HHI", 5, 2, 0x81) + bytes(40) + struct.pack("<HI", 1, 384), "body type 1"),
    ],
)
def test_malformed_tdx_quotes(quote: bytes, message: str) -> None:
    with pytest.raises(QuoteError, match=message):
        parse_tdx_quote(quote)


@pytest.mark.timeout(20)
def test_configfs_tsm_provider_round_trip(tmp_path: Path) -> None:
    fake = FakeTsmEntry(tmp_path / "tsm", "cocoon-test")
    provider = TdxConfigfsProvider(tmp_path / "tsm", entry_name="cocoon-test")
    quote = provider.quote(REPORT_DATA)
    fake.join()
    assert fake.received == REPORT_DATA
    measured = parse_tdx_quote(quote)
    assert measured.report_data == REPORT_DATA
    assert measured.image_hash() == upstream_image_hash()


@pytest.mark.timeout(20)
def test_configfs_tsm_provider_detects_a_concurrent_writer(tmp_path: Path) -> None:
    fake = FakeTsmEntry(tmp_path / "tsm", "cocoon-test", generation_step=2)
    with pytest.raises(QuoteError, match="at the same time"):
        TdxConfigfsProvider(tmp_path / "tsm", entry_name="cocoon-test").quote(REPORT_DATA)
    fake.join()


def test_configfs_tsm_provider_refuses_another_tsm_provider(tmp_path: Path) -> None:
    entry = tmp_path / "tsm" / "report" / "e"
    entry.mkdir(parents=True)
    (entry / "provider").write_text("sev_guest\n")
    with pytest.raises(QuoteError, match="'sev_guest', not tdx_guest"):
        TdxConfigfsProvider(tmp_path / "tsm", entry_name="e").quote(REPORT_DATA)


def test_configfs_tsm_provider_outside_a_tdx_guest(tmp_path: Path) -> None:
    with pytest.raises(QuoteError, match="not a TDX guest"):
        TdxConfigfsProvider(tmp_path / "no-tsm").quote(REPORT_DATA)


def test_detection_outside_tdx(tmp_path: Path) -> None:
    tdx, fake, none = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")
    assert (tdx.kind, tdx.available) == ("tdx", False)
    assert "not an Intel TDX confidential VM" in tdx.reason
    assert fake.available and none.available


def test_detection_in_a_tdx_guest_without_configfs_tsm(tmp_path: Path) -> None:
    (tmp_path / "tdx_guest").touch()
    tdx = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")[0]
    assert not tdx.available and "Linux 6.7" in tdx.reason


def test_detection_in_a_tdx_guest_with_configfs_tsm(tmp_path: Path) -> None:
    (tmp_path / "tdx_guest").touch()
    (tmp_path / "tsm" / "report").mkdir(parents=True)
    tdx = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")[0]
    assert tdx.available


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_detection_says_quotes_need_root(tmp_path: Path) -> None:
    (tmp_path / "tdx_guest").touch()
    (tmp_path / "tsm" / "report").mkdir(parents=True, mode=0o555)
    tdx = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")[0]
    assert not tdx.available and "needs root" in tdx.reason


def test_selection_prefers_tdx_then_fake_tdx(tmp_path: Path) -> None:
    without = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")
    assert select_quote_provider(None, without).kind == "fake_tdx"
    assert select_quote_provider("none", without).kind == "none"
    with pytest.raises(QuoteError, match="tdx attestation provider is unavailable: This machine"):
        select_quote_provider("tdx", without)
    with_tdx = (ProviderAvailability("tdx", True, "yes"), *without[1:])
    chosen = select_quote_provider(None, with_tdx, tsm_root=tmp_path / "tsm")
    assert isinstance(chosen, TdxConfigfsProvider)
    with pytest.raises(QuoteError, match="choose one of tdx, fake_tdx, none"):
        select_quote_provider("sgx", without)
