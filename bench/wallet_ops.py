"""Wallet operation costs, each against a baseline measured in the same run.

    .venv/bin/python bench/wallet_ops.py [--rounds 5]

- key from 24 words (`keypair_from_mnemonic`: check + PBKDF2-SHA512 100k) against one bare
  `hashlib.pbkdf2_hmac` of the same size (the floor: TON's scheme needs that much work);
- a signed transfer (`sign_transfer`: message cells, hashing, Ed25519) against a bare
  Ed25519 signature of 32 bytes;
- the three wallet addresses of a key (V4R2, V5R1, node wallet) against hashing three
  prebuilt StateInit cells with pytoniq (the floor of any derivation);
- the fee emulation of a deploying transfer (`emulate_fee`: a fresh emulator, the run, the
  parsing) against one bare `emulate_transaction` call on an emulator built beforehand.
Each figure is the best of `--rounds`; the machine is shared, so read ratios, not times.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey
from pytoniq_core import Cell, CurrencyCollection, InternalMsgInfo, MessageAny, StateInit

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion, wallet_contract
from cocoon_desktop.wallet.fees import emulate_fee
from cocoon_desktop.wallet.mnemonic import KeyPair, create_mnemonic, keypair_from_mnemonic
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transfer import OutgoingMessage, sign_transfer

OWNER = TonAddress(0, b"\x44" * 32)


def best_of(rounds: int, fn: Callable[[], object], repeat: int = 1) -> float:
    """Best time per call, in seconds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def report(name: str, ours: float, base: float | None) -> None:
    ratio = f"{ours / base:8.2f}x baseline ({base * 1e3:.3f} ms)" if base else ""
    print(f"{name:<34} {ours * 1e3:9.3f} ms  {ratio}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    words = create_mnemonic()
    key = keypair_from_mnemonic(words)
    entropy = hashlib.sha512(" ".join(words).encode()).digest()
    report(
        "key from 24 words", best_of(rounds, lambda: keypair_from_mnemonic(words)),
        best_of(rounds, lambda: hashlib.pbkdf2_hmac("sha512", entropy, b"salt", 100_000)),
    )
    wallet = wallet_contract(WalletVersion.V4R2, key.public_key, TonNetwork.MAINNET)
    message = [OutgoingMessage(OWNER, 10**9, False, "bench")]
    signer = SigningKey(key.seed)
    report(
        "signed transfer (V4R2)", best_of(rounds, lambda: sign_transfer(wallet, key, 1, message),
                                          repeat=50),
        best_of(rounds, lambda: signer.sign(b"\x00" * 32), repeat=50),
    )

    def three_addresses() -> None:
        for version in WalletVersion:
            owner = OWNER if version is WalletVersion.NODE else None
            _ = wallet_contract(version, key.public_key, TonNetwork.MAINNET, owner).address

    inits = [
        wallet_contract(v, key.public_key, TonNetwork.MAINNET,
                        OWNER if v is WalletVersion.NODE else None).state_init
        for v in WalletVersion
    ]
    report(
        "V4R2 + V5R1 + node addresses", best_of(rounds, three_addresses, repeat=20),
        best_of(rounds, lambda: [StateInit(code=i.code, data=i.data).serialize().hash
                                 for i in inits], repeat=20),
    )
    bench_emulation(rounds, wallet, key, message)
    return 0


def bench_emulation(rounds: int, wallet: WalletContract, key: KeyPair,
                    message: list[OutgoingMessage]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pytvm.transaction_emulator import TransactionEmulator
        from pytvm.transaction_emulator.trace import EMPTY_STATE

        emulator = TransactionEmulator()
    now = int(time.time())
    emulator.set_unixtime(now)
    funding = MessageAny(
        info=InternalMsgInfo(True, False, False, OWNER.to_pytoniq(), wallet.address.to_pytoniq(),
                             CurrencyCollection(5 * 10**9), 0, 0, 0, now),
        init=None, body=Cell.empty(),
    ).serialize()
    funded = emulator.emulate_transaction(EMPTY_STATE, funding)["shard_account"].serialize()
    external = sign_transfer(wallet, key, 0, message, deploy=True, now=now).external_message
    ours = best_of(rounds, lambda: emulate_fee(wallet.version, funded, external, now, True))
    fee = emulate_fee(wallet.version, funded, external, now, True)
    assert fee.emulated, fee
    base = best_of(rounds, lambda: emulator.emulate_transaction(funded, external))
    report("fee emulation (deploy + transfer)", ours, base)


if __name__ == "__main__":
    raise SystemExit(main())
