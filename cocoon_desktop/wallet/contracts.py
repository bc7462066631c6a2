"""Wallet contracts: their code, their initial data, and the addresses those imply, all offline.

An account's address is the hash of its StateInit (code + initial data), so an address is known
before the contract is deployed and without asking the chain:

- WalletV3R2: data = seqno 0, wallet id 698983191 (+ workchain), public key. Older wallets;
  derived so that an imported phrase finds funds left there.
- WalletV4R2: data = seqno 0, wallet id 698983191 (+ workchain), public key, no plugins.
- WalletV5R1: data = signature allowed, seqno 0, wallet id = network global id XOR the client
  context (workchain 0, version 0, subwallet 0), public key, no extensions. The wallet id depends
  on the network, so mainnet and testnet addresses differ.
- The Cocoon node wallet (upstream `runners/smartcontracts/CocoonWallet.cpp`): data = seqno 0,
  subwallet 0, public key, flags 0, owner address. Its address therefore depends on the owner.

The V3R2/V4R2/V5R1 code comes from pytoniq; the node wallet code is the upstream contract (below).
pytoniq's own wallet classes are not used: they need a live liteserver to build (see
docs/areas/wallet.md for their pitfalls).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from pytoniq_core import Builder, Cell, StateInit

from cocoon_desktop.wallet.address import BASECHAIN, TonAddress
from cocoon_desktop.wallet.networks import TonNetwork

V4_DEFAULT_WALLET_ID = 698983191
_V5_CLIENT_CONTEXT = 1 << 31  # client context, workchain 0, version 0, subwallet 0

# The Cocoon node wallet contract, byte for byte as upstream embeds it (CocoonWallet::code_str).
# Its address is derived from this code, so it must not change; a test pins its hash.
NODE_WALLET_CODE_HEX = (
    "b5ee9c724102110100024b000114ff00f4a413f4bcf2c80b010201200210020148030b0202ca040a02012005"
    "0701f5d3b68bb7edb088831c02456f8007434c0c05c6c2456f83e900c0074c7c86084095964d32e88a084316"
    "69f34eeac48a084268491f02eac6497c0f83b513434c7f4c7f4fff4c7fe903454dc31c17cb90409a084271a7"
    "cddaea78415d7c1f4cfcc74c1f50c007ec03801b0003cb9044134c1f448301dc8701880b01d60600ea5312b1"
    "21b1f2e411018e295f07820898968072fb0280777080185410337003c8cb0558cf1601fa02cb6a12cb1fcb07"
    "c98306fb00e0378e19350271b101c8cb1f12cb1f13cbff12cb1f01cf16c9ed54db31e0058e1d028210ffffff"
    "feb001c8cb1f12cb1f13cbff12cb1f01cf16c9ed54db31e05f05020276080900691cf232c1c044440072c7c7"
    "b2c7c732c01402be8094023e8085b2c7c532c7c4b2c7f2c7f2c7f2c7c07e80807e80bd003d003d0032600055"
    "3434c1c07000fcb8fc34c7f4c7f4c03e803e8034c7f4c7f4c7f4c7f4c7f4c7fe803e803d013d013d010c2000"
    "49a9f21402b3c5940233c585b2fff2413232c05400fe80807e80b2cfc4b2c7c4b2fff33332600201200c0f02"
    "01200d0e0017bb39ced44d0d33f31d70bff80011b8c97ed44d0d70b1f8001bbdfddf6a2684080b06b90fd201"
    "8400e0f28308d71820d31fd31fd31f02f823bbf2d406ed44d0d31fd31fd3ffd31ffa40d12171b0f2d4075154"
    "baf2e4085162baf2e40906f901541076f910f2e40af8276f2230821077359400b9f2d40bf800029320d74a96"
    "d307d402fb00e83001a4c8cb1f14cb1f12cbffcb1f01cf16c9ed545d2b2126"
)
NODE_WALLET_CODE_HASH_HEX = "7a48f05ceef40f06cabbaa39c1c5a67b24e8bb59d8cf8a74e49988a5f44cf66a"


class WalletVersion(StrEnum):
    """The wallet contracts this app can derive, sign for and read."""

    V3R2 = "v3r2"
    V4R2 = "v4r2"
    V5R1 = "v5r1"
    NODE = "node"  # the Cocoon node wallet, owned by the owner address


@functools.cache
def node_wallet_code() -> Cell:
    return Cell.one_from_boc(bytes.fromhex("".join(NODE_WALLET_CODE_HEX)))


def v5r1_wallet_id(network: TonNetwork) -> int:
    """WalletV5R1's wallet id on `network` (workchain 0, subwallet 0)."""
    return (_V5_CLIENT_CONTEXT ^ network.global_id) & 0xFFFFFFFF


def v3r2_data(public_key: bytes) -> Cell:
    return (
        Builder().store_uint(0, 32).store_uint(V4_DEFAULT_WALLET_ID + BASECHAIN, 32)
        .store_bytes(public_key).end_cell()
    )


def v4r2_data(public_key: bytes) -> Cell:
    return (
        Builder().store_uint(0, 32).store_uint(V4_DEFAULT_WALLET_ID + BASECHAIN, 32)
        .store_bytes(public_key).store_bit(0).end_cell()
    )


def v5r1_data(public_key: bytes, network: TonNetwork) -> Cell:
    return (
        Builder().store_bit(1).store_uint(0, 32).store_uint(v5r1_wallet_id(network), 32)
        .store_bytes(public_key).store_bit(0).end_cell()
    )


def node_wallet_data(public_key: bytes, owner: TonAddress) -> Cell:
    """Upstream `CocoonWallet::init_data_cell`: seqno, subwallet, key, flags, owner."""
    return (
        Builder().store_uint(0, 32).store_uint(0, 32).store_bytes(public_key)
        .store_uint(0, 32).store_address(owner.to_pytoniq()).end_cell()
    )


@dataclass(frozen=True)
class WalletContract:
    """One wallet contract instance: which code, which key, where it lives."""

    version: WalletVersion
    network: TonNetwork
    public_key: bytes
    owner: TonAddress | None = None  # only for the node wallet

    @property
    def code(self) -> Cell:
        # pytoniq (its lite client with it) loads on the first wallet built, not with the app.
        from pytoniq.contract.wallets.wallet import WALLET_V3_R2_CODE, WALLET_V4_R2_CODE
        from pytoniq.contract.wallets.wallet_v5 import WALLET_V5_R1_CODE

        if self.version is WalletVersion.V3R2:
            return WALLET_V3_R2_CODE
        if self.version is WalletVersion.V4R2:
            return WALLET_V4_R2_CODE
        if self.version is WalletVersion.V5R1:
            return WALLET_V5_R1_CODE
        return node_wallet_code()

    @property
    def data(self) -> Cell:
        if self.version is WalletVersion.V3R2:
            return v3r2_data(self.public_key)
        if self.version is WalletVersion.V4R2:
            return v4r2_data(self.public_key)
        if self.version is WalletVersion.V5R1:
            return v5r1_data(self.public_key, self.network)
        assert self.owner is not None
        return node_wallet_data(self.public_key, self.owner)

    @property
    def state_init(self) -> StateInit:
        return StateInit(code=self.code, data=self.data)

    @property
    def address(self) -> TonAddress:
        return TonAddress(BASECHAIN, self.state_init.serialize().hash)

    @property
    def display_address(self) -> str:
        """User wallets non-bounceable (UQ…), the node wallet bounceable (EQ…) like upstream."""
        if self.version is WalletVersion.NODE:
            return self.address.contract_form(self.network)
        return self.address.wallet_form(self.network)


def wallet_contract(
    version: WalletVersion, public_key: bytes, network: TonNetwork, owner: TonAddress | None = None
) -> WalletContract:
    """Describe a wallet contract; the node wallet needs its owner address."""
    if len(public_key) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    if (version is WalletVersion.NODE) != (owner is not None):
        raise ValueError("exactly the node wallet has an owner address")
    return WalletContract(version, network, bytes(public_key), owner)


def seqno_from_data(version: WalletVersion, data: Cell) -> int:
    """The sequence number stored in a deployed wallet's data (the next one to sign)."""
    cs = data.begin_parse()
    if version is WalletVersion.V5R1:
        cs.skip_bits(1)  # is_signature_allowed
    return cs.load_uint(32)
