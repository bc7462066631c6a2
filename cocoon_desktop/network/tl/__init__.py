"""Cocoon's TL schema subset: the codec plus every constructor this app speaks.

Importing this package registers all constructors, so `decode()` knows them.
"""

from cocoon_desktop.network.tl import base, client, worker
from cocoon_desktop.network.tl.codec import (
    BY_ID,
    BY_NAME,
    TlError,
    TlObject,
    TlUnknownConstructor,
    decode,
    decode_as,
    peek_id,
)

__all__ = [
    "BY_ID",
    "BY_NAME",
    "TlError",
    "TlObject",
    "TlUnknownConstructor",
    "base",
    "client",
    "decode",
    "decode_as",
    "peek_id",
    "worker",
]
