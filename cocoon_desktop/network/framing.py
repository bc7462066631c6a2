"""Upstream's TCP framing (net/TcpConnection.cpp): `len:uint32le seqno:int32le payload`.

The payload is 4 .. 2**24 bytes; each direction numbers its frames 0, 1, 2, … and the receiver
checks the number, so a dropped, replayed or reordered frame ends the connection.
"""

from __future__ import annotations

import struct

MIN_FRAME_BYTES = 4
MAX_FRAME_BYTES = 1 << 24
HEADER = struct.Struct("<Ii")


class FramingError(ValueError):
    """The peer broke the framing rules; the connection cannot continue."""


def encode_frame(payload: bytes, seqno: int) -> bytes:
    """One frame carrying `payload` with sequence number `seqno`."""
    if not MIN_FRAME_BYTES <= len(payload) <= MAX_FRAME_BYTES:
        raise FramingError(f"cannot send a frame of {len(payload)} bytes "
                           f"(allowed {MIN_FRAME_BYTES}..{MAX_FRAME_BYTES})")
    return HEADER.pack(len(payload), seqno) + payload


class FrameDecoder:
    """Splits a byte stream into payloads, checking sizes and the per-direction sequence."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.expected_seqno = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete payloads, in order."""
        self._buffer += data
        payloads = []
        while len(self._buffer) >= 4:
            (size,) = struct.unpack_from("<I", self._buffer)
            if not MIN_FRAME_BYTES <= size <= MAX_FRAME_BYTES:
                raise FramingError(f"frame length {size} is outside "
                                   f"{MIN_FRAME_BYTES}..{MAX_FRAME_BYTES}")
            if len(self._buffer) < HEADER.size + size:
                break
            _, seqno = HEADER.unpack_from(self._buffer)
            if seqno != self.expected_seqno:
                raise FramingError(f"bad sequence number: expected {self.expected_seqno}, "
                                   f"got {seqno}")
            payloads.append(bytes(self._buffer[HEADER.size : HEADER.size + size]))
            del self._buffer[: HEADER.size + size]
            self.expected_seqno += 1
        return payloads

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)
