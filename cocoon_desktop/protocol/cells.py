"""Upstream Cocoon's contract opcodes and cell layouts that earnings reads and writes.

Sources: `runners/smartcontracts/Opcodes.hpp`, `WorkerContract.cpp` (`create_pay_message`,
`check_signed_pay_message`, `repack_signed_pay_message`, `on_state_update`), `BaseRunner.cpp`
(`sign_and_wrap_message`) and `cocoon-tl-utils/parsers.cpp` (`store_address`, `fetch_address`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytoniq_core import Address, Builder, Cell, Slice, begin_cell

# Opcodes (Opcodes.hpp).
OP_EXCESSES = 0x2565934C
OP_PAYOUT = 0xC59A7CD3
OP_WORKER_PROXY_REQUEST = 0x4D725D2C
OP_WORKER_PROXY_PAYOUT_REQUEST = 0x08E7D036
OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED = 0xA040AD28
OP_EXT_WORKER_LAST_PAYOUT_REQUEST_SIGNED = 0xF5F26A36

SIGNATURE_BYTES = 64
ADDRESS_BITS = 267  # addr_std$10, anycast 0, workchain int8, 256-bit hash


class CellLayoutError(ValueError):
    """A cell does not have the layout upstream writes."""


def store_std_address(builder: Builder, address: Address) -> Builder:
    """`store_address`: `10`, no anycast, 8-bit workchain, 256-bit account id."""
    builder.store_uint(2, 2).store_uint(0, 1).store_int(address.wc, 8)
    return builder.store_bytes(address.hash_part)


def load_std_address(cs: Slice) -> Address:
    """`fetch_address`: exactly `100` then workchain and account id, or CellLayoutError."""
    if cs.remaining_bits < ADDRESS_BITS or cs.load_uint(3) != 4:
        raise CellLayoutError("expected a standard address (addr_std without anycast)")
    workchain = cs.load_int(8)
    return Address((workchain, cs.load_bytes(32)))


def raw_address(address: Address) -> str:
    """The canonical `wc:hex` form used as a key in the ledger."""
    return address.to_str(is_user_friendly=False)


def build_pay_payload(qid: int, tokens_processed: int, worker_sc_address: Address) -> Cell:
    """`create_pay_message`: the cell the proxy signs (its hash is what the signature covers)."""
    builder = begin_cell().store_uint(OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED, 32)
    builder.store_uint(qid, 64).store_uint(tokens_processed, 64)
    return store_std_address(builder, worker_sc_address).end_cell()


def wrap_signed_payload(
    payload: Cell, signature: bytes, return_excesses_to: Address
) -> Cell:
    """`sign_and_wrap_message` / `repack_signed_pay_message`: op, qid, the address that gets the
    unspent gas back, the signature, and the signed payload as the only reference."""
    if len(signature) != SIGNATURE_BYTES:
        raise CellLayoutError("an Ed25519 signature is 64 bytes")
    cs = payload.begin_parse()
    op, qid = cs.load_uint(32), cs.load_uint(64)
    builder = begin_cell().store_uint(op, 32).store_uint(qid, 64)
    store_std_address(builder, return_excesses_to)
    return builder.store_bytes(signature).store_ref(payload).end_cell()


@dataclass(frozen=True)
class SignedPayParts:
    """The fields of a signed pay message, parsed but not yet trusted."""

    qid: int
    return_excesses_to: Address
    signature: bytes
    payload: Cell
    tokens_processed: int
    worker_sc_address: Address


def parse_signed_pay_message(cell: Cell) -> SignedPayParts:
    """`check_signed_pay_message` minus the signature check: every layout rule upstream applies."""
    cs = cell.begin_parse()
    if cs.remaining_bits < 32 + 64 or cs.load_uint(32) != OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED:
        raise CellLayoutError("not a worker payout request (wrong opcode)")
    qid = cs.load_uint(64)
    excesses_to = load_std_address(cs)
    if cs.remaining_bits != SIGNATURE_BYTES * 8:
        raise CellLayoutError("the signature is missing or followed by extra data")
    signature = cs.load_bytes(SIGNATURE_BYTES)
    if cs.remaining_refs != 1:
        raise CellLayoutError("expected exactly one reference (the signed payload)")
    payload = cs.load_ref()
    ps = payload.begin_parse()
    if ps.remaining_bits != 32 + 64 + 64 + ADDRESS_BITS or ps.remaining_refs != 0:
        raise CellLayoutError("the signed payload has the wrong size")
    if ps.load_uint(32) != OP_EXT_WORKER_PAYOUT_REQUEST_SIGNED or ps.load_uint(64) != qid:
        raise CellLayoutError("the signed payload's opcode or query id differs from the wrapper's")
    tokens = ps.load_uint(64)
    worker_sc = load_std_address(ps)
    return SignedPayParts(qid, excesses_to, signature, payload, tokens, worker_sc)


@dataclass(frozen=True)
class WorkerContractState:
    """The worker contract's persistent data (`WorkerContract::on_state_update`)."""

    owner_address: Address
    proxy_sc_address: Address
    proxy_public_key: bytes
    state: int  # 2 means closed
    tokens_processed: int  # cumulative adjusted tokens already paid out


def parse_worker_contract_data(data: Cell) -> WorkerContractState:
    """Read the worker contract's data cell as fetched from chain."""
    cs = data.begin_parse()
    if cs.remaining_bits < 2 * ADDRESS_BITS + 256 + 2 + 64:
        raise CellLayoutError("the worker contract data is too short for upstream's layout")
    owner = load_std_address(cs)
    proxy = load_std_address(cs)
    key = cs.load_bytes(32)
    state = cs.load_uint(2)
    tokens = cs.load_uint(64)
    return WorkerContractState(owner, proxy, key, state, tokens)


def message_op(body: Cell | None) -> int | None:
    """The 32-bit opcode a message body starts with, or None for an empty or short body."""
    if body is None:
        return None
    cs = body.begin_parse()
    return cs.load_uint(32) if cs.remaining_bits >= 32 else None
