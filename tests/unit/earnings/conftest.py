"""Shared keys and addresses for the earnings unit tests (deterministic, test-only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest
from pytoniq_core import Address

from cocoon_desktop.earnings.ledger import Ledger
from cocoon_desktop.earnings.records import ProxySession
from cocoon_desktop.protocol.statements import VerifiedStatement, sign_statement, verify_statement


@dataclass(frozen=True)
class ProxyFixture:
    seed: bytes
    key_hex: str
    proxy_sc: Address
    proxy_wallet: Address
    worker_sc: Address
    fee_per_token: int

    @property
    def session(self) -> ProxySession:
        return ProxySession(self.key_hex, self.proxy_sc.to_str(False),
                            self.worker_sc.to_str(False), self.fee_per_token)

    def statement(self, tokens: int, worker_sc: Address | None = None) -> VerifiedStatement:
        """A statement this proxy signed, verified as the worker verifies what comes in."""
        boc = sign_statement(self.seed, tokens, worker_sc or self.worker_sc, self.proxy_wallet)
        return verify_statement(boc, bytes.fromhex(self.key_hex))


def make_proxy(n: int, fee_per_token: int = 1000) -> ProxyFixture:
    seed = bytes([n]) * 32
    key = bytes(nacl.signing.SigningKey(seed).verify_key).hex()
    return ProxyFixture(seed, key, Address(f"0:{n:02x}" + "22" * 31),
                        Address(f"0:{n:02x}" + "44" * 31), Address(f"0:{n:02x}" + "ab" * 31),
                        fee_per_token)


@pytest.fixture
def proxy() -> ProxyFixture:
    return make_proxy(1)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger.open(tmp_path / "data" / "ledger.sqlite3") as opened:
        yield opened
