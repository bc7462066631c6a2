"""Framing and proof of work: sizes, sequence numbers, upstream's zero-bit count."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoon_desktop.network import pow as pow_
from cocoon_desktop.network.framing import FrameDecoder, FramingError, encode_frame


def test_frames_decode_across_arbitrary_chunk_boundaries() -> None:
    stream = encode_frame(b"aaaa", 0) + encode_frame(b"bbbbbbbb", 1) + encode_frame(b"cccc", 2)
    decoder = FrameDecoder()
    got = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == [b"aaaa", b"bbbbbbbb", b"cccc"]
    assert decoder.buffered_bytes == 0


@pytest.mark.parametrize(("raw", "message"), [
    (struct.pack("<Ii", 3, 0) + b"abc", "outside"),
    (struct.pack("<Ii", (1 << 24) + 1, 0), "outside"),
    (struct.pack("<Ii", 4, 1) + b"abcd", "expected 0, got 1"),
])
def test_bad_frames_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        FrameDecoder().feed(raw)


def test_a_replayed_frame_is_refused() -> None:
    decoder = FrameDecoder()
    frame = encode_frame(b"data", 0)
    assert decoder.feed(frame) == [b"data"]
    with pytest.raises(FramingError, match="expected 1, got 0"):
        decoder.feed(frame)


def test_frames_too_short_or_long_cannot_be_sent() -> None:
    with pytest.raises(FramingError):
        encode_frame(b"abc", 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=64), max_size=8))
def test_fuzzed_streams_decode_or_raise_framing_error(chunks: list[bytes]) -> None:
    decoder = FrameDecoder()
    try:
        for chunk in chunks:
            for payload in decoder.feed(chunk):
                assert 4 <= len(payload) <= 1 << 24
    except FramingError:
        pass


def test_leading_zero_bits_count_the_first_eight_bytes_as_little_endian() -> None:
    assert pow_.leading_zero_bits(b"\x00" * 7 + b"\x01" + b"\xff" * 24) == 7
    assert pow_.leading_zero_bits(b"\xff" + b"\x00" * 31) == 56


def test_a_solved_challenge_verifies_and_matches_sha256() -> None:
    challenge = pow_.PowChallenge.make(12)
    nonce = pow_.solve(challenge)
    assert nonce is not None and challenge.verify(nonce)
    digest = hashlib.sha256(challenge.salt + struct.pack("<q", nonce)).digest()
    assert pow_.leading_zero_bits(digest) >= 12
    decoded = pow_.PowChallenge.decode(challenge.encode())
    assert decoded == challenge
    assert pow_.decode_response(pow_.encode_response(nonce)) == nonce


async def test_the_client_refuses_a_challenge_above_its_maximum() -> None:
    with pytest.raises(pow_.PowError, match="difficulty 30"):
        await pow_.solve_async(pow_.PowChallenge.make(30))


def test_wrong_magics_are_refused() -> None:
    with pytest.raises(pow_.PowError):
        pow_.PowChallenge.decode(b"\x00" * 24)
    with pytest.raises(pow_.PowError):
        pow_.decode_response(b"\x00" * 12)


@pytest.mark.parametrize("difficulty", [-1, -(2**31), 65, 2**31 - 1])
def test_a_difficulty_no_proxy_sends_is_refused_not_solved_at_once(difficulty: int) -> None:
    challenge = struct.pack("<Ii", pow_.POW_CHALLENGE_MAGIC, difficulty) + b"\x07" * 16
    with pytest.raises(pow_.PowError, match=f"difficulty {difficulty}, which no Cocoon proxy"):
        pow_.PowChallenge.decode(challenge)
