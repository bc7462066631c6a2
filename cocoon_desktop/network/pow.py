"""The router's proof of work (upstream tee/cocoon/pow.cpp), done before the TLS handshake.

The server sends `magic:uint32 difficulty:int32 salt:16 bytes` (24 bytes); the client answers
`magic:uint32 nonce:int64` (12 bytes) such that SHA-256(salt || nonce) has `difficulty` leading
zero bits, counted the way upstream does: in the first 8 bytes of the hash read as a
little-endian 64-bit integer.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

from cocoon_desktop.core.tasks import run_blocking

POW_CHALLENGE_MAGIC = 0x418E1291
POW_RESPONSE_MAGIC = 0x01827319
CHALLENGE = struct.Struct("<Ii16s")
RESPONSE = struct.Struct("<Iq")
DEFAULT_DIFFICULTY = 20
MAX_CLIENT_DIFFICULTY = 28  # upstream's client refuses harder challenges
_BATCH = 20_000


class PowError(ValueError):
    """A malformed challenge or response, or one this side refuses to solve."""


@dataclass(frozen=True)
class PowChallenge:
    difficulty_bits: int
    salt: bytes

    @classmethod
    def make(cls, difficulty_bits: int = DEFAULT_DIFFICULTY) -> PowChallenge:
        if not 0 <= difficulty_bits <= 64:
            raise PowError(f"difficulty must be 0..64, got {difficulty_bits}")
        return cls(difficulty_bits, os.urandom(16))

    def encode(self) -> bytes:
        return CHALLENGE.pack(POW_CHALLENGE_MAGIC, self.difficulty_bits, self.salt)

    @classmethod
    def decode(cls, data: bytes) -> PowChallenge:
        magic, difficulty, salt = CHALLENGE.unpack(data)
        if magic != POW_CHALLENGE_MAGIC:
            raise PowError(f"the peer did not send a proof-of-work challenge (magic {magic:#x}): "
                           "it is not a Cocoon proxy port; check the host and port")
        if not 0 <= difficulty <= 64:
            raise PowError(f"the peer asks for proof-of-work difficulty {difficulty}, which no "
                           "Cocoon proxy sends (0..64 bits): refused; check the host and port")
        return cls(difficulty, salt)

    def verify(self, nonce: int) -> bool:
        digest = hashlib.sha256(self.salt + struct.pack("<q", nonce)).digest()
        return leading_zero_bits(digest) >= self.difficulty_bits


def leading_zero_bits(digest: bytes) -> int:
    """Upstream's count: leading zeros of the first 8 bytes as a little-endian uint64."""
    return 64 - int.from_bytes(digest[:8], "little").bit_length()


def encode_response(nonce: int) -> bytes:
    return RESPONSE.pack(POW_RESPONSE_MAGIC, nonce)


def decode_response(data: bytes) -> int:
    magic, nonce = RESPONSE.unpack(data)
    if magic != POW_RESPONSE_MAGIC:
        raise PowError(f"bad proof-of-work response magic {magic:#x}")
    return nonce


def solve(challenge: PowChallenge, start: int = 0, count: int | None = None) -> int | None:
    """Search nonces from `start`; return the first that works (None after `count` tries)."""
    base = hashlib.sha256(challenge.salt)
    limit = (1 << 63) if count is None else start + count
    mask_shift = 64 - challenge.difficulty_bits
    pack = struct.Struct("<q").pack
    for nonce in range(start, limit):
        h = base.copy()
        h.update(pack(nonce))
        if int.from_bytes(h.digest()[:8], "little") >> mask_shift == 0:
            return nonce
    return None


async def solve_async(challenge: PowChallenge, max_difficulty: int = MAX_CLIENT_DIFFICULTY) -> int:
    """Solve in batches in a worker thread, so the event loop stays responsive and cancellable."""
    if challenge.difficulty_bits > max_difficulty:
        raise PowError(f"the server asks for proof-of-work difficulty {challenge.difficulty_bits}, "
                       f"above the maximum {max_difficulty} this app solves (it would take "
                       "hours); use another proxy")
    if challenge.difficulty_bits == 0:
        return 0
    start = 0
    while True:
        nonce = await run_blocking(solve, challenge, start, _BATCH)
        if nonce is not None:
            return nonce
        start += _BATCH
