"""The per-part fast paths write exactly the codec's bytes and read exactly what it reads;
anything else is left to the codec (None), so its errors stay the same."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.network import tl
from cocoon_desktop.network.tl import parts
from cocoon_desktop.network.tl.base import TcpPacket, TokensUsed
from cocoon_desktop.network.tl.client import ClientQueryAnswerPartEx, ClientQueryFinalInfo
from cocoon_desktop.network.tl.worker import ProxyQueryAnswerPartEx, ProxyQueryFinalInfo

RID = bytes(range(32))
# around the one-byte/four-byte length forms and every padding
SIZES = [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255, 256, 257, 1000, 70_000]


@pytest.mark.parametrize("size", SIZES)
def test_parts_are_written_as_the_codec_writes_them(size: int) -> None:
    answer = bytes(i % 251 for i in range(size))
    assert parts.encode_packet(answer) == TcpPacket(answer).encode()
    assert parts.encode_part(parts.PROXY_PART, RID, answer) == \
        ProxyQueryAnswerPartEx(RID, answer).encode()
    assert parts.encode_part(parts.CLIENT_PART, RID, answer) == \
        ClientQueryAnswerPartEx(RID, answer).encode()


@pytest.mark.parametrize("size", SIZES)
def test_parts_are_read_as_the_codec_reads_them(size: int) -> None:
    answer = bytes(i % 251 for i in range(size))
    for cls, constructor in ((ProxyQueryAnswerPartEx, parts.PROXY_PART),
                             (ClientQueryAnswerPartEx, parts.CLIENT_PART)):
        message = cls(RID, answer).encode()
        decoded = tl.decode(message)
        assert parts.read_part(constructor, message) == (decoded.request_id, decoded.answer)
        assert parts.packet_data(TcpPacket(message).encode()) == message


def test_final_parts_other_messages_and_stray_bytes_are_left_to_the_codec() -> None:
    usage = TokensUsed(1, 0, 2, 0, 3)
    final = ProxyQueryAnswerPartEx(RID, b"x", 0, ProxyQueryFinalInfo(0, usage)).encode()
    client_final = ClientQueryAnswerPartEx(
        RID, b"x", 0, ClientQueryFinalInfo(0, usage, None, None)).encode()
    plain = ProxyQueryAnswerPartEx(RID, b"abc").encode()
    assert parts.read_part(parts.PROXY_PART, final) is None
    assert parts.read_part(parts.CLIENT_PART, client_final) is None
    assert parts.read_part(parts.CLIENT_PART, plain) is None  # the other constructor
    assert parts.read_part(parts.PROXY_PART, plain + b"\0\0\0\0") is None  # trailing bytes
    assert parts.read_part(parts.PROXY_PART, plain[:-1]) is None  # truncated
    assert parts.read_part(parts.PROXY_PART, plain[:36] + b"\xff" + plain[37:]) is None
    assert parts.read_part(parts.PROXY_PART, plain[:36]) is None  # no answer field
    packet = TcpPacket(plain).encode()
    assert parts.packet_data(packet + b"\0\0\0\0") is None
    assert parts.packet_data(packet[:-4]) is None
    assert parts.packet_data(plain) is None
    with pytest.raises(tl.TlError):
        tl.decode(packet + b"\0\0\0\0")  # what the general way then says


@given(st.binary(max_size=600))
def test_any_bytes_read_as_a_part_are_what_the_codec_decodes(data: bytes) -> None:
    for constructor in (parts.PROXY_PART, parts.CLIENT_PART):
        message = constructor + RID + data
        fast = parts.read_part(constructor, message)
        if fast is not None:
            decoded = tl.decode(message)
            assert decoded.final_info is None
            assert fast == (decoded.request_id, decoded.answer)
    packet = parts.TCP_PACKET + data
    fast_data = parts.packet_data(packet)
    if fast_data is not None:
        assert tl.decode(packet) == TcpPacket(fast_data)


def test_a_wrong_request_id_or_an_oversized_answer_is_refused() -> None:
    with pytest.raises(tl.TlError):
        parts.encode_part(parts.PROXY_PART, RID[:31], b"x")
    with pytest.raises(tl.TlError):
        parts.encode_packet(bytes(1 << 24))
