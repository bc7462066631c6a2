"""Fuzzing what a peer sends: TL messages, frames, payment statements. Each may only ever be
refused with its own error type, never crash with another exception."""

from __future__ import annotations

import struct

import nacl.signing
from hypothesis import given
from hypothesis import strategies as st
from pytoniq_core import Address

from cocoon_desktop.network import tl
from cocoon_desktop.network.framing import FrameDecoder, FramingError, encode_frame
from cocoon_desktop.network.tl.base import HttpHeader, HttpRequest
from cocoon_desktop.network.tl.worker import ProxyRunQueryEx, SignedPaymentEmpty
from cocoon_desktop.protocol.statements import StatementRejected, sign_statement, verify_statement
from tests.unit.fuzz.conftest import budget

SEED = b"\x11" * 32
PROXY_KEY = bytes(nacl.signing.SigningKey(SEED).verify_key)
WORKER = Address("0:" + "ab" * 32)
EXCESS = Address("0:" + "cd" * 32)
VALID_STATEMENT = sign_statement(SEED, 1234, WORKER, EXCESS, qid=7)
VALID_QUERY = ProxyRunQueryEx(
    HttpRequest("POST", "/v1/chat/completions", "HTTP/1.1",
                [HttpHeader("Content-Type", "application/json")], b'{"model":"m"}').encode(),
    SignedPaymentEmpty(), 1000, 30.0, b"\x01" * 32, 0).encode()


def mutated(base: bytes) -> st.SearchStrategy[bytes]:
    """`base` with a few bytes changed, cut or extended: close to valid, where bugs hide."""
    def apply(edits: list[tuple[int, int]], cut: int, tail: bytes) -> bytes:
        data = bytearray(base)
        for at, value in edits:
            data[at % len(data)] = value
        return bytes(data[:len(data) - cut % 8]) + tail
    return st.builds(apply, st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)),
                                     max_size=6),
                     st.integers(0, 7), st.binary(max_size=8))


def check_tl(data: bytes) -> None:
    try:
        obj = tl.decode(data)
    except tl.TlError:
        return
    again = tl.decode(obj.encode())  # whatever decodes re-encodes to the same message
    assert again == obj


@budget(300)
@given(st.binary(max_size=400))
def test_tl_random_bytes(data: bytes) -> None:
    check_tl(data)


@budget(300)
@given(mutated(VALID_QUERY))
def test_tl_mutated_run_query(data: bytes) -> None:
    check_tl(data)
    try:
        query = tl.decode(data)
    except tl.TlError:
        return
    if isinstance(query, ProxyRunQueryEx):
        check_tl(query.query)


@budget(200)
@given(st.sampled_from(sorted(tl.BY_ID)), st.binary(max_size=300))
def test_tl_every_constructor_with_garbage(constructor_id: int, body: bytes) -> None:
    check_tl(struct.pack("<I", constructor_id) + body)


@budget(200)
@given(st.lists(st.binary(min_size=4, max_size=64), max_size=4),
       st.lists(st.integers(1, 40), max_size=8), st.binary(max_size=64))
def test_framing_split_anywhere(payloads: list[bytes], cuts: list[int], junk: bytes) -> None:
    stream = b"".join(encode_frame(p, i) for i, p in enumerate(payloads)) + junk
    decoder, got, at = FrameDecoder(), [], 0
    try:
        for cut in [*cuts, len(stream)]:
            got += decoder.feed(stream[at:at + cut])
            at += cut
        got += decoder.feed(stream[at:])
    except FramingError:
        return
    assert got[:len(payloads)] == payloads


@budget(250)
@given(mutated(VALID_STATEMENT))
def test_statements_mutated(boc: bytes) -> None:
    try:
        statement = verify_statement(boc, PROXY_KEY)
    except StatementRejected:
        return
    assert 0 <= statement.tokens_committed < 2**63


@budget(150)
@given(st.binary(max_size=300))
def test_statements_random(boc: bytes) -> None:
    try:
        verify_statement(boc, PROXY_KEY)
    except StatementRejected:
        return
    raise AssertionError("random bytes verified as a statement")
