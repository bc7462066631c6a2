"""What a worker does with a proxy's payment information: a good statement is taken and
announced; one that fails a check, or that goes backwards, is refused and announced as
`PaymentRejected` (the earnings ledger logs it), and nothing of it counts."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey
from pytoniq_core import Address

from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    DevnetSettings,
    devnet_root_config,
)
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.network.tl.worker import SignedPayment, SignedPaymentEmpty
from cocoon_desktop.network.worker.accounts import ProxyAccount
from cocoon_desktop.network.worker.types import PaymentReceived, PaymentRejected, WorkerConfig
from cocoon_desktop.network.worker.worker import Worker
from cocoon_desktop.protocol.cells import raw_address
from cocoon_desktop.protocol.statements import RejectReason, sign_statement

PROXY_SEED = b"\x31" * 32
PROXY_KEY = bytes(SigningKey(PROXY_SEED).verify_key)
PROXY_SC = Address("0:" + "5c" * 32)
WORKER_SC = Address("0:" + "3c" * 32)


@pytest.fixture
def account_and_events() -> tuple[ProxyAccount, list[object]]:
    config = WorkerConfig(owner_address=friendly(DEVNET_WORKER_OWNER), model_name="m@c:h",
                          engine=EngineEndpoint("http://127.0.0.1:9", "token"),
                          root_config=devnet_root_config(DevnetSettings()),
                          root_contract_address=friendly(DEVNET_WORKER_OWNER))
    worker = Worker(config, make_identity(None))
    events: list[object] = []
    worker.add_listener(events.append)
    return worker.account_for(PROXY_KEY, raw_address(PROXY_SC), raw_address(WORKER_SC)), events


def signed(tokens: int, seed: bytes = PROXY_SEED, worker_sc: Address = WORKER_SC) -> bytes:
    return sign_statement(seed, tokens, worker_sc, PROXY_SC)


def test_a_good_statement_is_taken_and_announced(account_and_events) -> None:
    account, events = account_and_events
    boc = signed(40)
    assert account.update_payment(SignedPayment(boc), 40, 40)
    [received] = events
    assert isinstance(received, PaymentReceived) and received.statement.tokens_committed == 40
    assert received.statement.boc == boc  # verified here, carried on as it is
    # the fee travels on the event (from the root config), as on RequestFinished
    assert received.worker_fee_per_token == DevnetSettings().worker_fee_per_token
    assert account.tokens_committed == 40


@pytest.mark.parametrize(("boc", "reason"), [
    (signed(40, seed=b"\x66" * 32), RejectReason.BAD_SIGNATURE),  # a key it never announced
    (signed(40, worker_sc=Address("0:" + "77" * 32)), RejectReason.WRONG_WORKER),
    (b"\x01\x02\x03", RejectReason.MALFORMED),
])
def test_a_statement_that_fails_a_check_is_refused_and_announced(
        account_and_events, boc: bytes, reason: RejectReason) -> None:
    account, events = account_and_events
    assert not account.update_payment(SignedPayment(boc), 40, 40)
    [rejected] = events
    assert isinstance(rejected, PaymentRejected)
    assert (rejected.proxy_key, rejected.boc, rejected.reason) == (PROXY_KEY.hex(), boc, reason)
    assert rejected.detail and account.tokens_committed == 0 and account.statement_boc is None


def test_a_statement_signing_less_than_before_is_a_rollback(account_and_events) -> None:
    account, events = account_and_events
    assert account.update_payment(SignedPayment(signed(40)))
    older = signed(25)
    assert not account.update_payment(SignedPayment(older))
    rejected = events[-1]
    assert isinstance(rejected, PaymentRejected) and rejected.reason is RejectReason.ROLLBACK
    assert rejected.boc == older
    assert "it signed 25 tokens, fewer than the 40 it signed before" in rejected.detail
    assert account.tokens_committed == 40  # the newer statement stands


def test_counters_that_go_backwards_are_a_rollback_too(account_and_events) -> None:
    account, events = account_and_events
    assert account.update_payment(SignedPaymentEmpty(), 30, 50)
    assert events == []  # counters alone announce nothing
    assert not account.update_payment(SignedPaymentEmpty(), 20, 50)
    [rejected] = events
    assert isinstance(rejected, PaymentRejected) and rejected.reason is RejectReason.ROLLBACK
    assert rejected.boc == b"" and "20 tokens in its database, fewer than the 30" in rejected.detail
    assert (account.db_tokens, account.max_known) == (30, 50)
