"""Mutated headers of the real bundled model: every count a file can claim is bounded by its
size, so a bad file is refused in well under a second with a sentence, never by memory."""

from __future__ import annotations

import resource
import struct
import time
from pathlib import Path

import pytest

from cocoon_desktop.engine.models.gguf_header import HeaderReader
from cocoon_desktop.engine.models.gguf_meta import ModelFileError, read_gguf_metadata
from tests.helpers.bundled_model import bundled_model_or_skip


@pytest.fixture(scope="module")
def header_copy(tmp_path_factory) -> tuple[bytes, int]:
    """The real header (metadata and tensor infos) and the file's size."""
    model = bundled_model_or_skip()
    data_offset = HeaderReader(str(model)).data_offset  # the fast reader: same offsets
    with model.open("rb") as f:
        return f.read(data_offset), model.stat().st_size


def write(tmp_path: Path, header: bytes, size: int) -> Path:
    """The header, then zeros up to the real size (a sparse file: no 100 MB copy)."""
    path = tmp_path / "mutated.gguf"
    path.write_bytes(header)
    with path.open("r+b") as f:
        f.truncate(size)
    return path


def value_offset(header: bytes, key: str) -> int:
    """Where a metadata entry's value starts (after its key and its u32 type)."""
    encoded = key.encode()
    at = header.index(struct.pack("<Q", len(encoded)) + encoded)
    return at + 8 + len(encoded) + 4


def mutate(header: bytes, offset: int, fmt: str, value: int) -> bytes:
    changed = bytearray(header)
    struct.pack_into(fmt, changed, offset, value)
    return bytes(changed)


def test_the_unmutated_header_reads(tmp_path: Path, header_copy) -> None:
    header, size = header_copy
    assert read_gguf_metadata(write(tmp_path, header, size)).block_count == 30


def cases(header: bytes) -> dict[str, bytes]:
    tokens = value_offset(header, "tokenizer.ggml.tokens") + 4  # after the item type
    scores = value_offset(header, "tokenizer.ggml.scores") + 4 if \
        b"tokenizer.ggml.scores" in header else tokens
    return {
        "n_tensors 1e6": mutate(header, 8, "<Q", 1_000_000),
        "n_tensors 2^31-1": mutate(header, 8, "<Q", 2**31 - 1),
        "n_tensors 2^63": mutate(header, 8, "<Q", 2**63),
        "n_kv 2^40": mutate(header, 16, "<Q", 2**40),
        "block_count 2e8": mutate(header, value_offset(header, "llama.block_count"), "<I",
                                  200_000_000),
        "string array 2^62": mutate(header, tokens, "<Q", 2**62),
        "number array 2^40": mutate(header, scores, "<Q", 2**40),
    }


@pytest.mark.parametrize("name", ["n_tensors 1e6", "n_tensors 2^31-1", "n_tensors 2^63",
                                  "n_kv 2^40", "block_count 2e8", "string array 2^62",
                                  "number array 2^40"])
def test_a_count_the_file_cannot_hold_is_refused_fast(tmp_path: Path, header_copy,
                                                      name: str) -> None:
    header, size = header_copy
    path = write(tmp_path, cases(header)[name], size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(ModelFileError) as caught:
        read_gguf_metadata(path)
    assert time.monotonic() - started < 1.0
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200
    assert "incomplete or damaged" in str(caught.value)
    assert "download it again" in str(caught.value)


def test_many_well_formed_descriptions_without_their_data_are_refused_fast(
        tmp_path: Path) -> None:
    """A crafted header: the most tensors allowed, each description sound, the data absent."""
    count = 1 << 16
    info = b"".join(struct.pack("<Q", 8) + f"t{i:07d}".encode() + struct.pack("<IQIQ", 1, 1024,
                                                                                0, i * 4096)
                    for i in range(count))
    kv = struct.pack("<Q", 20) + b"general.architecture" + struct.pack("<IQ", 8, 5) + b"llama"
    path = tmp_path / "crafted.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, count, 1) + kv + info)
    started = time.monotonic()
    with pytest.raises(ModelFileError, match="incomplete or damaged"):
        read_gguf_metadata(path)
    assert time.monotonic() - started < 1.0
