"""GGUF metadata of a tiny real model, and clear errors for everything that is not one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gguf
import numpy as np
import pytest

from cocoon_desktop.engine.models import gguf_meta
from cocoon_desktop.engine.models.gguf_header import HeaderReader
from cocoon_desktop.engine.models.gguf_meta import (
    GgufMetadata,
    ModelFileMissing,
    NotGgufError,
    TruncatedModelError,
    UnsupportedModelError,
    read_gguf_metadata,
)
from tests.helpers.tiny_gguf import TinyLlamaSpec, write_tiny_llama


def test_tiny_model_metadata(tiny_model: Path) -> None:
    meta = read_gguf_metadata(tiny_model)
    spec = TinyLlamaSpec()
    assert meta.architecture == "llama"
    assert meta.name == spec.name and meta.organization == spec.organization
    assert meta.block_count == spec.block_count
    assert meta.context_length_tokens == spec.context_length
    assert meta.embedding_length == spec.embedding_length
    assert (meta.head_count, meta.head_count_kv) == (spec.head_count, spec.head_count_kv)
    assert meta.key_length == meta.value_length == spec.embedding_length // spec.head_count
    assert meta.quantization == "F32" and meta.file_type == 0
    assert meta.chat_template_present
    assert meta.file_size_bytes == tiny_model.stat().st_size
    # Every weight is f32: 4 bytes per parameter, and the per-layer sizes add up.
    assert meta.tensor_bytes == 4 * meta.parameter_count
    embd = meta.vocab_size * spec.embedding_length * 4
    assert sum(meta.layer_tensor_bytes) + embd + spec.embedding_length * 4 == meta.tensor_bytes
    assert len(set(meta.layer_tensor_bytes)) == 1  # identical layers
    assert meta.output_tensor_bytes == embd  # tied output: the embedding matrix
    assert meta.kv_bytes_per_token_per_layer == 2 * (16 + 16) * 2  # kv heads * (k+v) * f16


def test_metadata_fields_that_the_file_lacks_are_none(tmp_path: Path) -> None:
    spec = TinyLlamaSpec(name=None, organization=None, chat_template=None, version="v2")
    meta = read_gguf_metadata(write_tiny_llama(tmp_path / "bare.gguf", spec=spec))
    assert meta.name is None and meta.organization is None and meta.basename is None
    assert meta.version == "v2"
    assert not meta.chat_template_present
    assert meta.display_name == "llama"


def test_metadata_round_trips_through_json(tiny_model: Path) -> None:
    meta = read_gguf_metadata(tiny_model)
    assert GgufMetadata.from_json(meta.to_json()) == meta


def test_quantization_comes_from_tensors_when_the_file_type_is_unstated(tmp_path: Path) -> None:
    path = tmp_path / "q8.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    weights = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    quantized = gguf.quants.quantize(weights, gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("blk.0.attn_q.weight", quantized, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    meta = read_gguf_metadata(path)
    assert meta.file_type is None
    assert meta.quantization == "Q8_0"
    assert meta.parameter_count == 4 * 64


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\n", "Git LFS pointer"),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "web page"),
        (b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}", "safetensors"),
        (b"PK\x03\x04zipzipzip", "zip archive"),
        (b"just some text that is long enough", "GGUF signature"),
    ],
)
def test_non_gguf_files_are_named_for_what_they_are(
    tmp_path: Path, content: bytes, hint: str
) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(NotGgufError, match=hint):
        read_gguf_metadata(path)


def test_missing_empty_and_folder_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissing, match="Locate it again"):
        read_gguf_metadata(tmp_path / "gone.gguf")
    (tmp_path / "empty.gguf").write_bytes(b"")
    with pytest.raises(TruncatedModelError, match="empty"):
        read_gguf_metadata(tmp_path / "empty.gguf")
    with pytest.raises(NotGgufError, match="folder"):
        read_gguf_metadata(tmp_path)


@pytest.mark.parametrize("cut_bytes", [1, 1000, 100_000])
def test_truncated_tensor_data_is_a_clear_error(tiny_model: Path, cut_bytes: int) -> None:
    data = tiny_model.read_bytes()
    tiny_model.write_bytes(data[: len(data) - cut_bytes])
    with pytest.raises(TruncatedModelError, match=r"incomplete or damaged.*download"):
        read_gguf_metadata(tiny_model)


@pytest.mark.parametrize("keep_bytes", [4, 10, 24, 200, 2000])
def test_truncated_header_is_a_clear_error(tiny_model: Path, keep_bytes: int) -> None:
    tiny_model.write_bytes(tiny_model.read_bytes()[:keep_bytes])
    with pytest.raises(TruncatedModelError, match=r"incomplete or damaged.*download"):
        read_gguf_metadata(tiny_model)


def test_a_gguf_without_tensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty-model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(UnsupportedModelError, match="no tensors"):
        read_gguf_metadata(path)


def test_unsupported_gguf_version(tiny_model: Path) -> None:
    data = bytearray(tiny_model.read_bytes())
    data[4:8] = (99).to_bytes(4, "little")
    tiny_model.write_bytes(bytes(data))
    with pytest.raises(UnsupportedModelError, match="newer format"):
        read_gguf_metadata(tiny_model)


def test_split_models_are_refused_with_the_merge_command(tmp_path: Path) -> None:
    path = tmp_path / "model-00001-of-00002.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint16("split.count", 2)
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(UnsupportedModelError, match="llama-gguf-split --merge"):
        read_gguf_metadata(path)


def test_kv_size_is_unknown_without_head_counts(tiny_model: Path) -> None:
    meta = dataclasses.replace(read_gguf_metadata(tiny_model), head_count_kv=None)
    assert meta.kv_bytes_per_token_per_layer is None


def test_the_fast_header_reader_agrees_with_gguf_reader(tmp_path: Path) -> None:
    path = tmp_path / "per-layer.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_head_count(4)
    writer.add_head_count_kv([1, 2])  # per-layer values, as some architectures store them
    writer.add_token_list(["a", "bb", "ccc"])
    writer.add_token_types([1, 1, 3])
    writer.add_chat_template("{{ messages }}")
    for i in range(2):
        writer.add_tensor(f"blk.{i}.attn_q.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    size = path.stat().st_size
    fast = gguf_meta._metadata_from_reader(HeaderReader(str(path)), size)
    plain = gguf_meta._metadata_from_reader(gguf.GGUFReader(str(path)), size)
    assert fast == plain
    assert fast.head_count_kv == 2 and fast.vocab_size == 3 and fast.chat_template_present
    assert read_gguf_metadata(path) == fast


def test_the_fast_header_reader_agrees_on_the_tiny_model(tiny_model: Path) -> None:
    size = tiny_model.stat().st_size
    assert gguf_meta._metadata_from_reader(gguf.GGUFReader(str(tiny_model)), size) == (
        read_gguf_metadata(tiny_model)
    )
