"""Reading a GGUF header fast and safely: `HeaderReader` and the bounds it keeps.

`gguf.GGUFReader` builds one numpy view per element of every array (each of the 49,152 tokens
and merges of a small model): seconds per file. `HeaderReader` keeps the reader but reads a
numeric array as one view and skips over string arrays (their length is kept, their text is not
needed here): about 80 times faster on the bundled model. It overrides internal methods of the
reader; if a future `gguf` stops calling them, reading is merely slow again (the unit tests
compare both readers).

A model file is untrusted input: every count in it is bounded before anything is built for it.
`check_counts` holds the header's tensor and metadata counts against the file's size; arrays
must fit in the bytes left; and the tensor descriptions are walked once with `struct` (a few
microseconds each, against the reader's hundred) and refused as soon as one cannot be a tensor
(no name, no dimensions, an unknown type, data beyond the end of the file), so a damaged or
hostile header costs milliseconds and a sentence, never the machine's memory.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any

import gguf
import numpy as np

# The smallest a header entry can be: a metadata entry (key length, a 1-byte key, type, a
# 1-byte value) and a tensor description (name length, 1-byte name, dimension count, one
# dimension, type, offset).
MIN_KV_BYTES = 8 + 1 + 4 + 1
MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8
MAX_TENSORS = 1 << 16  # the largest models hold a few thousand
MAX_KV = 1 << 16  # real files hold a few dozen
MAX_STRINGS_PER_ARRAY = 1 << 20  # the largest vocabularies and merge lists: about 300,000
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_TENSOR_NAME_BYTES = 256  # llama.cpp's GGML_MAX_NAME is 64
DEFAULT_ALIGNMENT = 32


class HeaderDamaged(ValueError):
    """A count or a description the file cannot hold; the text says which."""


def bounded(needed_bytes: int, available_bytes: int, what: str) -> None:
    if needed_bytes > available_bytes:
        raise HeaderDamaged(f"{what} claims {needed_bytes:,} bytes where the file has "
                            f"{max(available_bytes, 0):,} left")


def check_counts(path: Path, size: int) -> None:
    """The header's tensor and metadata counts, against the file's size, before any parsing."""
    with path.open("rb") as f:
        head = f.read(24)
    if len(head) < 24:
        raise HeaderDamaged("the file ends inside its GGUF header")
    version = struct.unpack_from("<I", head, 4)[0]
    n_tensors, n_kv = struct.unpack_from("<QQ", head, 8)
    if version > 0xFFFF:  # a big-endian file: the reader checks it itself
        return
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV or \
            n_tensors * MIN_TENSOR_INFO_BYTES + n_kv * MIN_KV_BYTES > size:
        raise HeaderDamaged(f"it claims {n_tensors:,} tensors and {n_kv:,} metadata entries, "
                            f"more than its {size:,} bytes can hold")


class HeaderReader(gguf.GGUFReader):
    """GGUFReader with whole-array reads and bounded counts (see the module docstring)."""

    def _get_field_parts(self, orig_offs: int, raw_type: int) -> tuple[int, list, list, list]:
        if raw_type != gguf.GGUFValueType.ARRAY:
            return super()._get_field_parts(orig_offs, raw_type)
        raw_itype = self._get(orig_offs, np.uint32)
        length = self._get(orig_offs + 4, np.uint64)
        item_type = gguf.GGUFValueType(raw_itype[0])
        count, start = int(length[0]), orig_offs + 12
        types = [gguf.GGUFValueType.ARRAY, item_type]
        if item_type in self.gguf_scalar_to_np:
            itemsize = np.dtype(self.gguf_scalar_to_np[item_type]).itemsize
            bounded(count * itemsize, len(self.data) - start, "a metadata array")
            values = self._get(start, self.gguf_scalar_to_np[item_type], count)
            return 12 + int(values.nbytes), [raw_itype, length, values], [2] if count else [], types
        if item_type == gguf.GGUFValueType.STRING:
            if count > MAX_STRINGS_PER_ARRAY:
                raise HeaderDamaged(f"a metadata array claims {count:,} strings")
            bounded(count * 8, len(self.data) - start, "a metadata string array")
            little = (sys.byteorder == "little") == (self.byte_order == "I")
            fmt = "<Q" if little else ">Q"
            buffer, offs = memoryview(self.data), start
            for _ in range(count):
                offs += 8 + struct.unpack_from(fmt, buffer, offs)[0]
            return offs - orig_offs, [raw_itype, length], [], types
        return super()._get_field_parts(orig_offs, raw_type)

    def _build_tensor_info(self, offs: int, count: int) -> tuple[int, list[Any]]:
        """The reader's own pass, once the fast one found every description sound."""
        self._scan_tensor_infos(offs, int(count))
        return super()._build_tensor_info(offs, count)

    def _scan_tensor_infos(self, offs: int, count: int) -> None:
        data, size = memoryview(self.data), len(self.data)
        order = "<" if (sys.byteorder == "little") == (self.byte_order == "I") else ">"
        read_u64, read_u32 = struct.Struct(order + "Q").unpack_from, \
            struct.Struct(order + "I").unpack_from
        extents = []
        try:
            for index in range(count):
                name_length = read_u64(data, offs)[0]
                if not 0 < name_length <= MAX_TENSOR_NAME_BYTES:
                    raise HeaderDamaged(f"tensor #{index} has a name of {name_length:,} bytes")
                offs += 8 + name_length
                n_dims = read_u32(data, offs)[0]
                if not 0 < n_dims <= MAX_DIMS:
                    raise HeaderDamaged(f"tensor #{index} has {n_dims:,} dimensions")
                dims = struct.unpack_from(f"{order}{n_dims}Q", data, offs + 4)
                offs += 4 + 8 * n_dims
                kind, start = read_u32(data, offs)[0], read_u64(data, offs + 4)[0]
                offs += 12
                extents.append((index, dims, kind, start))
        except struct.error:
            raise HeaderDamaged("the file ends inside its tensor descriptions") from None
        data_offset = -(-offs // DEFAULT_ALIGNMENT) * DEFAULT_ALIGNMENT
        for index, dims, kind, start in extents:
            _check_extent(index, dims, kind, start, size - data_offset)


def _check_extent(index: int, dims: tuple[int, ...], kind: int, start: int,
                  data_bytes: int) -> None:
    """A tensor's data must lie inside the file (its size from its type's block layout)."""
    try:
        block, block_bytes = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
    except (ValueError, KeyError):
        raise HeaderDamaged(f"tensor #{index} has the unknown type {kind}") from None
    elements = 1
    for dim in dims:
        if dim == 0:
            raise HeaderDamaged(f"tensor #{index} has a dimension of 0")
        elements *= dim
    bounded(start + elements // block * block_bytes, data_bytes, f"tensor #{index}")
