"""The TL codec: exact bytes, round trips, and clear errors on bad input (fuzzed too)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoon_desktop.network import tl
from cocoon_desktop.network.tl.base import HttpHeader, HttpRequest, TcpPing, TokensUsed
from cocoon_desktop.network.tl.worker import (
    ProxyQueryAnswerEx,
    ProxyQueryFinalInfo,
    ProxyRunQueryEx,
    SignedPayment,
    SignedPaymentEmpty,
    WorkerParams,
)


def test_tcp_ping_bytes_are_id_then_little_endian_long() -> None:
    assert TcpPing(1).encode() == struct.pack("<IQ", 0xBBE9627C, 1)


def test_bytes_are_padded_to_four_and_long_strings_use_the_254_marker() -> None:
    short = tl.base.TcpPacket(b"abc").encode(boxed=False)
    assert short == b"\x03abc"
    long_payload = b"x" * 300
    encoded = tl.base.TcpPacket(long_payload).encode(boxed=False)
    assert encoded[:4] == b"\xfe" + (300).to_bytes(3, "little")
    assert len(encoded) % 4 == 0
    assert tl.decode(tl.base.TcpPacket(long_payload).encode()).data == long_payload


def test_flags_are_computed_from_present_optional_fields() -> None:
    params = WorkerParams(worker_owner_address="EQx", model="m@c:h", coefficient=1000,
                          is_test=True, proxy_cnt=1, max_active_requests=4)
    decoded = tl.decode(params.encode())
    assert decoded.flags == 1
    assert decoded.min_proto_version is None
    assert decoded.max_active_requests == 4


def test_nested_bare_and_boxed_fields_round_trip() -> None:
    final = ProxyQueryFinalInfo(flags=0, tokens_used=TokensUsed(1, 2, 3, 4, 10),
                                worker_start_time=1.5, worker_end_time=2.5)
    answer = ProxyQueryAnswerEx(request_id=b"\x07" * 32, answer=b"{}", final_info=final)
    assert tl.decode(answer.encode()) == ProxyQueryAnswerEx(b"\x07" * 32, b"{}", 1, final.__class__(
        2, TokensUsed(1, 2, 3, 4, 10), None, 1.5, 2.5))
    run = ProxyRunQueryEx(query=b"q", signed_payment=SignedPaymentEmpty(), coefficient=1000,
                          timeout=10.0, request_id=b"\x01" * 32, flags=0)
    assert tl.decode(run.encode()) == run
    run2 = ProxyRunQueryEx(b"q", SignedPayment(b"boc"), 1000, 10.0, b"\x01" * 32, 0, True)
    assert tl.decode(run2.encode()).enable_debug is True


def test_vectors_of_bare_constructors_round_trip() -> None:
    request = HttpRequest("POST", "/v1/chat/completions", "HTTP/1.1",
                          [HttpHeader("Content-Type", "application/json")], b"{}")
    assert tl.decode(request.encode()) == request


@pytest.mark.parametrize(("data", "message"), [
    (b"\x01\x02", "truncated"),
    (struct.pack("<I", 0xDEADBEEF), "unknown TL constructor 0xdeadbeef"),
    (TcpPing(5).encode()[:-1], "truncated"),
    (TcpPing(5).encode() + b"\x00\x00\x00\x00", "unexpected bytes"),
    (struct.pack("<II", 0x9C17BAF8, 0xFF), "length marker"),
])
def test_bad_input_gives_a_clear_tl_error(data: bytes, message: str) -> None:
    with pytest.raises(tl.TlError, match=message):
        tl.decode(data)


def test_a_wrong_result_type_is_refused() -> None:
    with pytest.raises(tl.TlError, match=r"where tcp\.Packet was expected"):
        tl.decode(TokensUsed().encode(), "tcp.Packet")


def test_an_absurd_vector_length_is_refused_without_allocating() -> None:
    data = struct.pack("<I", 0x47492DE5) + b"\x00" * 12 + struct.pack("<I", 0x7FFFFFFF)
    with pytest.raises(tl.TlError, match="vector of"):
        tl.decode(data)


def test_an_int256_of_the_wrong_size_is_refused_on_encode() -> None:
    with pytest.raises(tl.TlError, match="int256 needs 32 bytes"):
        ProxyRunQueryEx(b"", SignedPaymentEmpty(), 1, 1.0, b"short", 0).encode()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decoding_arbitrary_bytes_either_works_or_raises_tl_error(data: bytes) -> None:
    try:
        obj = tl.decode(data)
    except tl.TlError:
        return
    assert tl.decode(obj.encode()) == obj


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(tl.BY_ID)), st.binary(max_size=200))
def test_fuzzing_behind_every_known_constructor_never_crashes(cid: int, body: bytes) -> None:
    try:
        obj = tl.decode(struct.pack("<I", cid) + body)
    except tl.TlError:
        return
    assert cid == obj.TL_ID


@pytest.mark.parametrize("at", [6, 7, 10, 11])  # the padding bytes after "a" and after "b"
def test_padding_is_skipped_unread_as_upstreams_parser_does(at: int) -> None:
    """Upstream's TlParser::fetch_string steps over the padding without looking at it."""
    raw = bytearray(HttpHeader("a", "b").encode(True))
    assert raw[at] == 0
    raw[at] = 0x55
    assert tl.decode(bytes(raw)) == HttpHeader("a", "b")
