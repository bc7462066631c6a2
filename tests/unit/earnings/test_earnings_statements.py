"""Signed payment statements: upstream's byte layout, signature checks, tampering, garbage."""

from __future__ import annotations

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytoniq_core import Cell, begin_cell

from cocoon_desktop.protocol.cells import (
    OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED,
    CellLayoutError,
    build_pay_payload,
    parse_worker_contract_data,
    store_std_address,
    wrap_signed_payload,
)
from cocoon_desktop.protocol.statements import (
    RejectReason,
    StatementRejected,
    sign_statement,
    verify_statement,
)
from tests.unit.earnings.earnings_helpers import address_bits, bits


def test_payload_layout_is_upstream_create_pay_message(proxy) -> None:
    payload = build_pay_payload(0x0123456789ABCDEF, 987_654_321, proxy.worker_sc)
    expected = (bits(0xA040AD28, 32) + bits(0x0123456789ABCDEF, 64) + bits(987_654_321, 64)
                + address_bits(proxy.worker_sc))
    assert payload.bits.to01() == expected and payload.refs == []


def test_wrapped_layout_is_upstream_sign_and_wrap_message(proxy) -> None:
    payload = build_pay_payload(77, 1000, proxy.worker_sc)
    signature = bytes(range(64))
    wrapped = wrap_signed_payload(payload, signature, proxy.proxy_wallet)
    expected = (bits(OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED, 32) + bits(77, 64)
                + address_bits(proxy.proxy_wallet) + bits(int.from_bytes(signature), 512))
    assert wrapped.bits.to01() == expected
    assert [ref.hash for ref in wrapped.refs] == [payload.hash]


def test_a_statement_signed_by_the_proxy_verifies(proxy) -> None:
    boc = sign_statement(proxy.seed, 123_456, proxy.worker_sc, proxy.proxy_wallet, qid=2**64 - 1)
    statement = verify_statement(boc, bytes.fromhex(proxy.key_hex), proxy.worker_sc.to_str(False))
    assert statement.tokens_committed == 123_456
    assert statement.qid == 2**64 - 1
    assert statement.worker_sc_address == proxy.worker_sc.to_str(False)
    assert statement.return_excesses_to == proxy.proxy_wallet.to_str(False)
    # The signature covers the payload cell's hash, as WorkerContract::check_signed_pay_message.
    payload = Cell.one_from_boc(boc).refs[0]
    nacl.signing.VerifyKey(bytes.fromhex(proxy.key_hex)).verify(payload.hash, statement.signature)


def _resigned_with_other_tokens(proxy, boc: bytes, tokens: int) -> bytes:
    """Keep the proxy's signature but change the amount: what a tampering worker would try."""
    original = Cell.one_from_boc(boc)
    cs = original.begin_parse()
    cs.skip_bits(32 + 64 + 267)
    signature = cs.load_bytes(64)
    forged = build_pay_payload(5, tokens, proxy.worker_sc)
    return wrap_signed_payload(forged, signature, proxy.proxy_wallet).to_boc()


def test_a_tampered_amount_is_rejected(proxy) -> None:
    boc = sign_statement(proxy.seed, 1000, proxy.worker_sc, proxy.proxy_wallet, qid=5)
    forged = _resigned_with_other_tokens(proxy, boc, 1_000_000)
    with pytest.raises(StatementRejected) as caught:
        verify_statement(forged, bytes.fromhex(proxy.key_hex))
    assert caught.value.reason is RejectReason.BAD_SIGNATURE
    assert "does not match the proxy's key" in str(caught.value)


def test_every_flipped_bit_of_a_statement_is_caught(proxy) -> None:
    boc = sign_statement(proxy.seed, 4242, proxy.worker_sc, proxy.proxy_wallet, qid=9)
    key = bytes.fromhex(proxy.key_hex)
    caught = 0
    for i in range(len(boc)):
        for bit in (0, 3, 7):
            mutated = bytearray(boc)
            mutated[i] ^= 1 << bit
            try:
                statement = verify_statement(bytes(mutated), key)
            except StatementRejected:
                caught += 1
                continue
            # A flip in the BOC's framing that leaves the cells intact is harmless.
            assert statement.tokens_committed == 4242
            assert statement.payload_hash == Cell.one_from_boc(boc).refs[0].hash
    assert caught > len(boc)  # most flips must be rejected


def test_a_statement_from_another_proxy_key_is_rejected(proxy) -> None:
    boc = sign_statement(proxy.seed, 1000, proxy.worker_sc, proxy.proxy_wallet)
    other_key = bytes(nacl.signing.SigningKey(b"\x09" * 32).verify_key)
    with pytest.raises(StatementRejected) as caught:
        verify_statement(boc, other_key)
    assert caught.value.reason is RejectReason.BAD_SIGNATURE


def test_a_statement_for_another_worker_contract_is_rejected(proxy) -> None:
    boc = sign_statement(proxy.seed, 1000, proxy.proxy_sc, proxy.proxy_wallet)
    with pytest.raises(StatementRejected) as caught:
        verify_statement(boc, bytes.fromhex(proxy.key_hex), proxy.worker_sc.to_str(False))
    assert caught.value.reason is RejectReason.WRONG_WORKER


@pytest.mark.parametrize("size", [0, 5000])
def test_empty_or_huge_input_is_rejected_as_malformed(proxy, size: int) -> None:
    with pytest.raises(StatementRejected) as caught:
        verify_statement(b"\xb5" * size, bytes.fromhex(proxy.key_hex))
    assert caught.value.reason is RejectReason.MALFORMED


def test_a_payload_with_a_mismatched_query_id_is_malformed(proxy) -> None:
    payload = build_pay_payload(1, 1000, proxy.worker_sc)
    signature = nacl.signing.SigningKey(proxy.seed).sign(payload.hash).signature
    wrapped = wrap_signed_payload(payload, signature, proxy.proxy_wallet)
    cs = wrapped.begin_parse()
    rebuilt = begin_cell().store_uint(cs.load_uint(32), 32).store_uint(2, 64)
    cs.skip_bits(64)
    rebuilt.store_slice(cs)
    with pytest.raises(StatementRejected, match="query id differs"):
        verify_statement(rebuilt.end_cell().to_boc(), bytes.fromhex(proxy.key_hex))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_never_raises_anything_but_a_rejection(data: bytes) -> None:
    key = bytes(nacl.signing.SigningKey(b"\x01" * 32).verify_key)
    with pytest.raises(StatementRejected):
        verify_statement(data, key)


def test_worker_contract_data_reads_upstream_layout(proxy) -> None:
    builder = begin_cell()
    store_std_address(builder, proxy.worker_sc)  # owner
    store_std_address(builder, proxy.proxy_sc)
    builder.store_bytes(bytes.fromhex(proxy.key_hex)).store_uint(1, 2).store_uint(31337, 64)
    state = parse_worker_contract_data(builder.store_ref(begin_cell().end_cell()).end_cell())
    assert (state.owner_address, state.proxy_sc_address) == (proxy.worker_sc, proxy.proxy_sc)
    assert (state.state, state.tokens_processed) == (1, 31337)
    with pytest.raises(CellLayoutError, match="too short"):
        parse_worker_contract_data(begin_cell().store_uint(1, 64).end_cell())
