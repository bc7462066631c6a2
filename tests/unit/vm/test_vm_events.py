"""Worker events across the channel: what goes is what comes back; a statement becomes the
host's `VerifiedStatement` only through its one verification where it comes off the channel;
nothing of a request's content is in a message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from nacl.signing import SigningKey
from pytoniq_core import Address

from cocoon_desktop.network.worker.types import (
    PaymentReceived,
    PaymentRejected,
    ProxyStateChanged,
    RequestFinished,
    RequestStarted,
)
from cocoon_desktop.protocol.cells import raw_address
from cocoon_desktop.protocol.pricing import AdjustedTokens, TokenCounts
from cocoon_desktop.protocol.statements import RejectReason, sign_statement, verify_statement
from cocoon_desktop.vm.events import EventError, decode_event, encode_event

SEED = b"\x42" * 32
PROXY_KEY = bytes(SigningKey(SEED).verify_key).hex()
WORKER_SC = Address("0:" + "3c" * 32)
PROXY_SC = Address("0:" + "5c" * 32)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def finished() -> RequestFinished:
    return RequestFinished("ab" * 32, PROXY_KEY, "smollm2-135m", True, None,
                           TokenCounts(35, 0, 8, 0), AdjustedTokens(35, 0, 8, 0), 1000, 10,
                           NOW, NOW)


@pytest.mark.parametrize("event", [
    RequestStarted("ab" * 32, PROXY_KEY, "smollm2-135m", NOW),
    finished(),
    PaymentRejected(PROXY_KEY, b"\x01\x02", RejectReason.ROLLBACK, "went backwards"),
    ProxyStateChanged("10.0.2.2:5000", "ready", "", PROXY_KEY, "0:5c", "0:3c", 10),
    ProxyStateChanged("10.0.2.2:5000", "connecting"),
])
def test_events_survive_the_round_trip(event: object) -> None:
    message = json.loads(json.dumps(encode_event(event)))  # type: ignore[arg-type]
    assert decode_event(message) == event


def test_a_statement_is_verified_where_it_comes_off_the_channel() -> None:
    boc = sign_statement(SEED, 43, WORKER_SC, PROXY_SC)
    statement = verify_statement(boc, bytes.fromhex(PROXY_KEY), raw_address(WORKER_SC))
    sent = PaymentReceived(PROXY_KEY, raw_address(PROXY_SC), raw_address(WORKER_SC), 10,
                           statement, 43, 43)
    message = encode_event(sent)
    assert decode_event(message) == sent
    tampered = {**message, "boc": boc[:-1].hex() + f"{boc[-1] ^ 1:02x}"}
    rejected = decode_event(tampered)
    assert isinstance(rejected, PaymentRejected)
    assert "refused on the host" in rejected.detail
    other_key = bytes(SigningKey(b"\x07" * 32).verify_key).hex()
    assert isinstance(decode_event({**message, "proxy_key": other_key}), PaymentRejected)


def test_a_finished_request_carries_counts_not_content() -> None:
    message = encode_event(finished())
    assert set(message) == {"event", "request_id", "proxy_key", "model", "succeeded", "error",
                            "tokens", "adjusted", "coefficient", "worker_fee_per_token",
                            "started_at", "finished_at"}


def test_malformed_and_unknown_messages() -> None:
    with pytest.raises(EventError, match="request_finished message from the guest is malformed"):
        decode_event({"event": "request_finished", "request_id": "x"})
    assert decode_event({"event": "status", "engine_state": "ready"}) is None
