"""Wallet operation costs, each against a baseline measured in the same run.

    .venv/bin/python bench/wallet_ops.py [--rounds 3]

- key from 24 words (`keypair_from_mnemonic`: check + PBKDF2-SHA512 100k) against one bare
  `hashlib.pbkdf2_hmac` of the same size (the floor: TON's scheme needs that much work);
- a signed transfer (`sign_transfer`: message cells, hashing, Ed25519) against a bare
  Ed25519 signature of 32 bytes;
- the three wallet addresses of a key (V4R2, V5R1, node wallet) against hashing three
  prebuilt StateInit cells with pytoniq (the floor of any derivation);
- the fee emulation of a deploying transfer (`emulate_fee`: a fresh emulator, the run, the
  parsing) against one bare `emulate_transaction` call on an emulator built outside the timed
  region (and freed before our side runs).
Each side runs alone, in `--rounds` ABBA rounds (bench/abba.py): the times are medians per call,
the ratio is our time over the baseline's, median and range over the rounds. Times are process
CPU time per call. The machine is shared, so read ratios, not times.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abba import Paired, abba, setting, spread
from nacl.signing import SigningKey
from pytoniq_core import Cell, CurrencyCollection, InternalMsgInfo, MessageAny, StateInit

from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import WalletContract, WalletVersion, wallet_contract
from cocoon_desktop.wallet.fees import emulate_fee
from cocoon_desktop.wallet.mnemonic import KeyPair, create_mnemonic, keypair_from_mnemonic
from cocoon_desktop.wallet.networks import TonNetwork
from cocoon_desktop.wallet.transfer import OutgoingMessage, sign_transfer

if TYPE_CHECKING:
    from pytvm.transaction_emulator import TransactionEmulator

OWNER = TonAddress(0, b"\x44" * 32)


def per_call(fn: Callable[[], object], repeat: int = 1) -> Callable[[], float]:
    """A side that times `repeat` calls of `fn` and returns CPU seconds per call: the operations
    are CPU-bound in this thread, and CPU time leaves out the time other programs on a shared
    machine hold the core."""
    def side() -> float:
        start = time.process_time()
        for _ in range(repeat):
            fn()
        return (time.process_time() - start) / repeat
    return side


def report(name: str, times: Paired) -> None:
    """Side A is the baseline, side B ours."""
    print(f"{name:<34} {times.median_b() * 1e3:8.3f} ms, baseline {times.median_a() * 1e3:7.3f} "
          f"ms; ratio {spread(times.ratios())}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    with setting():
        run_all(rounds, create_mnemonic())
    return 0


def run_all(rounds: int, words: list[str]) -> None:
    key = keypair_from_mnemonic(words)
    entropy = hashlib.sha512(" ".join(words).encode()).digest()
    report("key from 24 words", abba(
        rounds, per_call(lambda: hashlib.pbkdf2_hmac("sha512", entropy, b"salt", 100_000)),
        per_call(lambda: keypair_from_mnemonic(words))))
    wallet = wallet_contract(WalletVersion.V4R2, key.public_key, TonNetwork.MAINNET)
    message = [OutgoingMessage(OWNER, 10**9, False, "bench")]
    signer = SigningKey(key.seed)
    report("signed transfer (V4R2)", abba(
        rounds, per_call(lambda: signer.sign(b"\x00" * 32), repeat=200),
        per_call(lambda: sign_transfer(wallet, key, 1, message), repeat=200)))

    def three_addresses() -> None:
        for version in WalletVersion:
            owner = OWNER if version is WalletVersion.NODE else None
            _ = wallet_contract(version, key.public_key, TonNetwork.MAINNET, owner).address

    inits = [
        wallet_contract(v, key.public_key, TonNetwork.MAINNET,
                        OWNER if v is WalletVersion.NODE else None).state_init
        for v in WalletVersion
    ]
    report("V4R2 + V5R1 + node addresses", abba(
        rounds, per_call(lambda: [StateInit(code=i.code, data=i.data).serialize().hash
                                  for i in inits], repeat=100),
        per_call(three_addresses, repeat=100)))
    bench_emulation(rounds, wallet, key, message)


def new_emulator(now: int) -> TransactionEmulator:
    with warnings.catch_warnings():  # pytvm warns on import
        warnings.simplefilter("ignore")
        from pytvm.transaction_emulator import TransactionEmulator

        emulator = TransactionEmulator()
    emulator.set_unixtime(now)
    return emulator


def bench_emulation(rounds: int, wallet: WalletContract, key: KeyPair,
                    message: list[OutgoingMessage]) -> None:
    now = int(time.time())
    emulator = new_emulator(now)
    from pytvm.transaction_emulator.trace import EMPTY_STATE

    funding = MessageAny(
        info=InternalMsgInfo(True, False, False, OWNER.to_pytoniq(), wallet.address.to_pytoniq(),
                             CurrencyCollection(5 * 10**9), 0, 0, 0, now),
        init=None, body=Cell.empty(),
    ).serialize()
    funded = emulator.emulate_transaction(EMPTY_STATE, funding)["shard_account"].serialize()
    del emulator  # our side must not run beside it
    external = sign_transfer(wallet, key, 0, message, deploy=True, now=now).external_message
    fee = emulate_fee(wallet.version, funded, external, now, True)
    assert fee.emulated, fee

    def bare_run() -> float:
        emulator = new_emulator(now)  # built outside the timed region, freed after
        return per_call(lambda: emulator.emulate_transaction(funded, external), repeat=20)()

    report("fee emulation (deploy + transfer)", abba(
        rounds, bare_run, per_call(lambda: emulate_fee(wallet.version, funded, external, now,
                                                       True), repeat=20)))


if __name__ == "__main__":
    raise SystemExit(main())
