"""Direct reading and writing of the messages that travel once per answer part.

Every token of a streamed answer crosses `tcp.packet` and a `…queryAnswerPartEx` at each hop
(worker -> proxy -> client). These helpers handle just those shapes, byte for byte as the
general codec does, without its field-by-field walk: the path's cost per token is paid on a
machine whose caches the engine has just flushed, so each part should touch as little as it
can. Anything not in the expected shape (a final part, another constructor, a stray byte)
gets None, and the caller decodes it the general way, with the general way's errors.
"""

from __future__ import annotations

import struct

from cocoon_desktop.network.tl.base import TcpPacket
from cocoon_desktop.network.tl.client import ClientQueryAnswerPartEx
from cocoon_desktop.network.tl.codec import TlError, TlReader, TlWriter
from cocoon_desktop.network.tl.worker import ProxyQueryAnswerPartEx

_U32 = struct.Struct("<I")
TCP_PACKET = _U32.pack(TcpPacket.TL_ID)
PROXY_PART = _U32.pack(ProxyQueryAnswerPartEx.TL_ID)
CLIENT_PART = _U32.pack(ClientQueryAnswerPartEx.TL_ID)
_NO_FLAGS = bytes(4)


def _tl_bytes(value: bytes) -> bytes:
    """`value` as a TL `bytes` field: its length, itself, zeros to a multiple of 4."""
    writer = TlWriter()
    writer.bytes_(value)
    return writer.getvalue()


def _read_tl_bytes(data: bytes, at: int) -> tuple[bytes, int] | None:
    """The TL `bytes` field at offset `at` and the offset after its padding, or None."""
    reader = TlReader(data)
    try:
        reader.take(at)
        value = reader.bytes_()
    except TlError:
        return None
    return value, len(data) - reader.remaining


def encode_packet(data: bytes) -> bytes:
    """`tcp.packet data` (boxed), as `TcpPacket(data).encode()` writes it."""
    return TCP_PACKET + _tl_bytes(data)


def packet_data(payload: bytes) -> bytes | None:
    """The data of a boxed `tcp.packet` that fills `payload` exactly, else None."""
    if not payload.startswith(TCP_PACKET):
        return None
    field = _read_tl_bytes(payload, 4)
    if field is None or field[1] != len(payload):
        return None
    return field[0]


def encode_part(constructor: bytes, request_id: bytes, answer: bytes) -> bytes:
    """A boxed `proxy.` or `client.queryAnswerPartEx` without final info (`constructor` is
    PROXY_PART or CLIENT_PART), as the codec writes it."""
    if len(request_id) != 32:
        raise TlError(f"a request id is 32 bytes, got {len(request_id)}")
    return constructor + request_id + _tl_bytes(answer) + _NO_FLAGS


def read_part(constructor: bytes, message: bytes) -> tuple[bytes, bytes] | None:
    """(request id, answer) of a boxed `…queryAnswerPartEx` of `constructor` without final
    info that fills `message` exactly, else None."""
    if not message.startswith(constructor):
        return None
    field = _read_tl_bytes(message, 36)
    if field is None:
        return None
    answer, at = field
    if message[at:] != _NO_FLAGS:
        return None
    return message[4:36], answer
