"""Build and sign wallet transfers offline: no liteserver, only the wallet's seqno.

Each contract signs a different body (the signature covers the body's cell hash):

- WalletV3R2: signature, then wallet id, valid_until, seqno, then (mode, ^message) pairs.
- WalletV4R2: the same with an op byte 0 (simple send) after the seqno.
- WalletV5R1: op "sign" (0x7369676e), wallet id, valid_until, seqno, a Maybe ^OutList of
  send-message actions, no extended actions, then the signature at the end.
- Cocoon node wallet (upstream CocoonWallet::send_pending_transactions): signature, then
  subwallet 0, valid_until, seqno, then up to 4 (mode, ^message) pairs.

An undeployed wallet (seqno 0, account not active) gets its StateInit attached to the external
message, which deploys it in the same transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from nacl.signing import SigningKey
from pytoniq_core import (
    Builder,
    Cell,
    CurrencyCollection,
    ExternalMsgInfo,
    InternalMsgInfo,
    MessageAny,
    StateInit,
)

from cocoon_desktop.protocol.money import InvalidAmount, parse_ton
from cocoon_desktop.wallet.address import TonAddress
from cocoon_desktop.wallet.contracts import (
    V4_DEFAULT_WALLET_ID,
    WalletContract,
    WalletVersion,
    v5r1_wallet_id,
)
from cocoon_desktop.wallet.errors import AmountError, TransferError
from cocoon_desktop.wallet.mnemonic import KeyPair

MAX_COMMENT_BYTES = 500
DEFAULT_VALIDITY_S = 600
SEND_MODE_PAY_FEES_SEPARATELY = 1
SEND_MODE_IGNORE_ERRORS = 2
SEND_MODE_CARRY_ALL_BALANCE = 128
_V5_SIGNED_EXTERNAL = 0x7369676E
_V5_ACTION_SEND_MSG = 0x0EC3C86D
_V4_OP_SIMPLE_SEND = 0


@dataclass(frozen=True)
class OutgoingMessage:
    """One internal message a wallet sends."""

    destination: TonAddress
    amount_nano: int
    bounce: bool
    comment: str = ""
    mode: int = SEND_MODE_PAY_FEES_SEPARATELY | SEND_MODE_IGNORE_ERRORS
    body: Cell | None = None  # overrides the comment when given
    state_init: StateInit | None = None  # deploys the destination with this message


@dataclass(frozen=True)
class SignedTransfer:
    """A signed external message, ready to send. Holds no secret (only a signature)."""

    wallet: WalletContract
    seqno: int
    valid_until: int
    messages: tuple[OutgoingMessage, ...]
    external_message: Cell = field(repr=False)

    @property
    def boc(self) -> bytes:
        return self.external_message.to_boc()

    @property
    def message_hash_hex(self) -> str:
        """The external message's hash: what an explorer shows for it."""
        return self.external_message.hash.hex()


def parse_ton_amount(text: str) -> int:
    """A user's amount to send, in nanoTON (`protocol.money.parse_ton`), more than zero;
    AmountError says what to type otherwise."""
    try:
        nano = parse_ton(text)
    except InvalidAmount as exc:
        raise AmountError(str(exc)) from None
    if nano <= 0:
        raise AmountError("The amount must be more than zero.", "Type an amount in TON, e.g. 1.5.")
    return nano


def comment_body(comment: str) -> Cell:
    """A text comment: op 0 and the UTF-8 text as a snake string."""
    data = comment.encode("utf-8")
    if len(data) > MAX_COMMENT_BYTES:
        raise TransferError(
            f"The comment is {len(data)} bytes long; at most {MAX_COMMENT_BYTES} are sent.",
            "Shorten the comment.",
        )
    return Builder().store_uint(0, 32).store_snake_bytes(data).end_cell()


def internal_message(message: OutgoingMessage) -> Cell:
    """The MessageRelaxed the wallet sends (source and fees filled in by the chain)."""
    if message.amount_nano <= 0 and not message.mode & SEND_MODE_CARRY_ALL_BALANCE:
        raise AmountError("The amount must be more than zero.", "Type an amount in TON.")
    if message.body is not None:
        body = message.body
    elif message.comment:
        body = comment_body(message.comment)
    else:
        body = Cell.empty()
    info = InternalMsgInfo(
        ihr_disabled=True, bounce=message.bounce, bounced=False, src=None,
        dest=message.destination.to_pytoniq(), value=CurrencyCollection(message.amount_nano),
        ihr_fee=0, fwd_fee=0, created_lt=0, created_at=0,
    )
    return MessageAny(info=info, init=message.state_init, body=body).serialize()


def sign_transfer(
    wallet: WalletContract,
    key: KeyPair,
    seqno: int,
    messages: Sequence[OutgoingMessage],
    *,
    deploy: bool = False,
    valid_until: int | None = None,
    now: float | None = None,
) -> SignedTransfer:
    """Sign `messages` from `wallet` with `key`; attach the StateInit when `deploy`."""
    if key.public_key != wallet.public_key:
        raise TransferError(
            "This key does not belong to this wallet.", "Choose the wallet the key was made for."
        )
    limit = 4 if wallet.version is not WalletVersion.V5R1 else 255
    if not 1 <= len(messages) <= limit:
        raise TransferError(f"A transfer carries 1 to {limit} messages.", "Split the transfer.")
    until = valid_until or int(now or time.time()) + DEFAULT_VALIDITY_S
    cells = [internal_message(m) for m in messages]
    if wallet.version in (WalletVersion.V3R2, WalletVersion.V4R2):
        body = _signed_v3_v4(wallet.version, key, seqno, until, messages, cells)
    elif wallet.version is WalletVersion.V5R1:
        body = _signed_v5r1(wallet, key, seqno, until, messages, cells)
    else:
        body = _signed_node(key, seqno, until, messages, cells)
    external = MessageAny(
        info=ExternalMsgInfo(src=None, dest=wallet.address.to_pytoniq(), import_fee=0),
        init=wallet.state_init if deploy else None,
        body=body,
    ).serialize()
    return SignedTransfer(wallet, seqno, until, tuple(messages), external)


def _sign(key: KeyPair, payload: Cell) -> bytes:
    """Ed25519 signature of the payload cell's hash (what every wallet contract checks)."""
    return SigningKey(key.seed).sign(payload.hash).signature


def _signature_first(key: KeyPair, payload: Cell) -> Cell:
    signature = _sign(key, payload)
    return Builder().store_bytes(signature).store_cell(payload).end_cell()


def _signed_v3_v4(
    version: WalletVersion,
    key: KeyPair,
    seqno: int,
    until: int,
    messages: Sequence[OutgoingMessage],
    cells: list[Cell],
) -> Cell:
    payload = (
        Builder().store_uint(V4_DEFAULT_WALLET_ID, 32).store_uint(until, 32).store_uint(seqno, 32)
    )
    if version is WalletVersion.V4R2:
        payload.store_uint(_V4_OP_SIMPLE_SEND, 8)
    for message, cell in zip(messages, cells, strict=True):
        payload.store_uint(message.mode, 8).store_ref(cell)
    return _signature_first(key, payload.end_cell())


def _signed_node(
    key: KeyPair, seqno: int, until: int, messages: Sequence[OutgoingMessage], cells: list[Cell]
) -> Cell:
    payload = Builder().store_uint(0, 32).store_uint(until, 32).store_uint(seqno, 32)
    for message, cell in zip(messages, cells, strict=True):
        payload.store_uint(message.mode, 8).store_ref(cell)
    return _signature_first(key, payload.end_cell())


def _signed_v5r1(
    wallet: WalletContract,
    key: KeyPair,
    seqno: int,
    until: int,
    messages: Sequence[OutgoingMessage],
    cells: list[Cell],
) -> Cell:
    actions = Cell.empty()
    for message, cell in zip(messages, cells, strict=True):
        actions = (
            Builder().store_ref(actions).store_uint(_V5_ACTION_SEND_MSG, 32)
            .store_uint(message.mode, 8).store_ref(cell).end_cell()
        )
    payload = (
        Builder().store_uint(_V5_SIGNED_EXTERNAL, 32)
        .store_uint(v5r1_wallet_id(wallet.network), 32).store_uint(until, 32)
        .store_uint(seqno, 32).store_bit(1).store_ref(actions).store_bit(0).end_cell()
    )
    return Builder().store_cell(payload).store_bytes(_sign(key, payload)).end_cell()
