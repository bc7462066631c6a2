"""Read what the app needs to know about a GGUF model file, with the `gguf` package.

`read_gguf_metadata(path)` returns a frozen `GgufMetadata` or raises a `ModelFileError` whose text
says what is wrong with the file and what to do.

The header is read with `gguf_header.HeaderReader` (fast, and every count in the file bounded by
what the file can hold before anything is built for it); a damaged or hostile header is refused
in milliseconds with a sentence, and `MemoryError` is turned into a `ModelFileError` too.

`gguf` (and numpy with it) is imported on the first read, not with this module: the app's
first window needs the metadata's type and errors, not the reader.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gguf

GGUF_MAGIC = b"GGUF"
KV_CACHE_BYTES_PER_VALUE = 2  # llama.cpp's default KV cache type is f16
_LAYER_TENSOR = re.compile(r"^blk\.(\d+)\.")
_ARRAY_LENGTH_PART = 4  # a field's parts: key length, key, value type, item type, length, ...


class ModelFileError(Exception):
    """A model file cannot be used. The text says what happened and what to do next."""


class ModelFileMissing(ModelFileError):
    """The file is not there (moved, deleted, or on a disk that is not mounted)."""


class NotGgufError(ModelFileError):
    """The file is not a GGUF model."""


class TruncatedModelError(ModelFileError):
    """The file starts like GGUF but is cut short or damaged."""


class UnsupportedModelError(ModelFileError):
    """A valid GGUF file this app cannot serve (too new, split into parts, no architecture)."""


@dataclass(frozen=True)
class GgufMetadata:
    """The facts about one model file; sizes in bytes, lengths in tokens or elements."""

    file_size_bytes: int
    gguf_version: int
    architecture: str
    name: str | None
    basename: str | None
    version: str | None
    finetune: str | None
    size_label: str | None
    organization: str | None
    parameter_count: int
    context_length_tokens: int | None  # what the model was trained for (n_ctx_train)
    block_count: int  # transformer layers, the unit of GPU offload
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None  # per attention head
    value_length: int | None
    vocab_size: int | None
    file_type: int | None  # llama.cpp's LlamaFileType, None when the file does not say
    quantization: str  # e.g. "Q4_1", "Q8_0", "F16"
    chat_template_present: bool
    tensor_bytes: int  # all weights
    layer_tensor_bytes: tuple[int, ...]  # weights of each block, index = layer number
    output_tensor_bytes: int  # the output projection (the embedding matrix when tied)

    @property
    def kv_bytes_per_token_per_layer(self) -> int | None:
        """KV cache one token takes in one layer (f16 keys and values), None if unknown."""
        if not (self.head_count_kv and self.key_length and self.value_length):
            return None
        return self.head_count_kv * (self.key_length + self.value_length) * KV_CACHE_BYTES_PER_VALUE

    @property
    def display_name(self) -> str:
        """A human name: the file's own name field, else basename and size label."""
        if self.name:
            return self.name
        parts = [p for p in (self.basename, self.size_label, self.finetune) if p]
        return " ".join(parts) if parts else self.architecture

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GgufMetadata:
        """Inverse of `to_json`; raises KeyError/TypeError on a stale or foreign record."""
        values = {f.name: data[f.name] for f in dataclasses.fields(cls)}
        values["layer_tensor_bytes"] = tuple(int(b) for b in values["layer_tensor_bytes"])
        return cls(**values)


def read_gguf_metadata(path: Path) -> GgufMetadata:
    """Read and check a GGUF file's header; raise `ModelFileError` with a clear text if unusable."""
    from cocoon_desktop.engine.models.gguf_header import HeaderDamaged, HeaderReader, check_counts

    size = _check_readable(path)
    _check_magic(path)
    try:
        check_counts(path, size)
    except HeaderDamaged as exc:
        raise _damaged(path, exc) from exc
    try:
        reader = HeaderReader(str(path))
    except ValueError as exc:
        if "version" in str(exc) or "QuantizationType" in str(exc):
            raise UnsupportedModelError(
                f"{path.name} is a GGUF file of a newer format than this app reads ({exc}). "
                "Update Cocoon Desktop, or use a GGUF made by an older llama.cpp."
            ) from exc
        raise _damaged(path, exc) from exc
    except (IndexError, KeyError, OverflowError, UnicodeDecodeError, struct.error,
            MemoryError) as exc:
        raise _damaged(path, exc) from exc
    _check_not_split(path, reader)
    _check_has_tensors(path, reader)
    try:
        return _metadata_from_reader(reader, size)
    except (MemoryError, OverflowError, ValueError, TypeError) as exc:
        raise _damaged(path, exc) from exc


def _check_readable(path: Path) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelFileMissing(
            f"The model file {path} is not there (moved, deleted, or on a disk that is not "
            "mounted). Locate it again, or remove it from the model list."
        ) from None
    except OSError as exc:
        raise ModelFileError(f"Cannot read {path}: {exc.strerror}. Check the path.") from exc
    if path.is_dir():
        raise NotGgufError(f"{path} is a folder. Choose the .gguf file inside it.")
    if stat.st_size == 0:
        raise TruncatedModelError(
            f"{path.name} is empty (0 bytes). Download the model again."
        )
    return stat.st_size


def _check_magic(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except PermissionError:
        raise ModelFileError(
            f"Cannot read {path}: permission denied. Give your user read access to the file."
        ) from None
    if head.startswith(GGUF_MAGIC):
        return
    raise NotGgufError(f"{path.name} is not a GGUF model: {_sniff(head)}")


def _sniff(head: bytes) -> str:
    """Name the common mistakes, so the user knows what they picked instead."""
    lowered = head.lower().lstrip()
    if lowered.startswith(b"version https://git-lfs"):
        return (
            "it is a Git LFS pointer, not the model itself. Download the real file "
            "(`git lfs pull`, or the download button on the model page)."
        )
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "it is a web page (a failed download?). Download the .gguf file again."
    if len(head) >= 9 and head[8:9] == b"{":
        return (
            "it looks like a safetensors file. Use a GGUF version of the model "
            "(often published as <model>-GGUF), or convert it with llama.cpp's convert script."
        )
    if head.startswith(b"PK"):
        return "it is a zip archive. Extract it and choose the .gguf file inside."
    return "the file does not start with the GGUF signature. Choose a .gguf model file."


def _damaged(path: Path, exc: Exception) -> TruncatedModelError:
    return TruncatedModelError(
        f"{path.name} starts like a GGUF model but is incomplete or damaged "
        f"({type(exc).__name__}: {exc}). If it is still downloading, wait for the download to "
        "finish; otherwise download it again."
    )


def _check_not_split(path: Path, reader: gguf.GGUFReader) -> None:
    count = _scalar(reader, "split.count")
    if count is not None and int(count) > 1:
        raise UnsupportedModelError(
            f"{path.name} is part of a model split into {count} files, which is not supported "
            "yet. Merge the parts into one file with `llama-gguf-split --merge` and add that."
        )


def _check_has_tensors(path: Path, reader: gguf.GGUFReader) -> None:
    if not reader.tensors:
        raise UnsupportedModelError(f"{path.name} holds no tensors: it is not a usable model.")


def _field_value(field: Any) -> Any:
    """A scalar field's value: str for strings, a Python number otherwise."""
    import gguf

    part = field.parts[field.data[0]]
    if field.types[-1] == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8", errors="replace")
    return part[0].item()


def _scalar(reader: gguf.GGUFReader, key: str) -> Any:
    """A metadata value; for a numeric per-layer array the largest entry; None when absent."""
    import gguf

    field = reader.fields.get(key)
    if field is None or not field.data:
        return None
    if field.types[0] == gguf.GGUFValueType.ARRAY:
        if field.types[-1] == gguf.GGUFValueType.STRING:
            return None
        return max(max(field.parts[i].tolist()) for i in field.data)
    return _field_value(field)


def _array_length(reader: gguf.GGUFReader, key: str) -> int | None:
    import gguf

    field = reader.fields.get(key)
    if field is None or field.types[0] != gguf.GGUFValueType.ARRAY:
        return None
    return int(field.parts[_ARRAY_LENGTH_PART][0])


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _quantization(file_type: int | None, reader: gguf.GGUFReader) -> str:
    """The file type's name (Q4_1, Q8_0...), or the weights' dominant tensor type if unstated."""
    import gguf

    if file_type is not None:
        try:
            named = gguf.LlamaFileType(file_type)
        except ValueError:
            named = None
        if named is not None and named != gguf.LlamaFileType.GUESSED:
            return named.name.removeprefix("MOSTLY_").removeprefix("ALL_")
    by_type: Counter[str] = Counter()
    for tensor in reader.tensors:
        if len(tensor.shape) >= 2:
            by_type[tensor.tensor_type.name] += int(tensor.n_bytes)
    return by_type.most_common(1)[0][0] if by_type else "unknown"


def _tensor_sizes(reader: gguf.GGUFReader, block_count: int) -> tuple[tuple[int, ...], int]:
    layers = [0] * block_count
    named: dict[str, int] = {}
    for tensor in reader.tensors:
        match = _LAYER_TENSOR.match(tensor.name)
        if match and int(match.group(1)) < block_count:
            layers[int(match.group(1))] += int(tensor.n_bytes)
        else:
            named[tensor.name] = int(tensor.n_bytes)
    output = named.get("output.weight", named.get("token_embd.weight", 0))
    return tuple(layers), output


def _metadata_from_reader(reader: gguf.GGUFReader, size: int) -> GgufMetadata:
    from cocoon_desktop.engine.models.gguf_header import HeaderDamaged

    arch = _scalar(reader, "general.architecture")
    if not arch:
        raise UnsupportedModelError(
            "The GGUF file does not name its architecture (general.architecture), so llama.cpp "
            "cannot load it. Use a GGUF made by llama.cpp's convert script."
        )

    def arch_int(key: str) -> int | None:
        return _int_or_none(_scalar(reader, f"{arch}.{key}"))

    block_count = arch_int("block_count") or 0
    if not 0 <= block_count <= len(reader.tensors):
        raise HeaderDamaged(f"it claims {block_count:,} layers but holds "
                            f"{len(reader.tensors):,} tensors")
    embedding = arch_int("embedding_length")
    head_count = arch_int("attention.head_count")
    head_dim = embedding // head_count if embedding and head_count else None
    file_type = _int_or_none(_scalar(reader, "general.file_type"))
    layer_bytes, output_bytes = _tensor_sizes(reader, block_count)

    def text(key: str) -> str | None:
        value = _scalar(reader, key)
        return str(value) if value not in (None, "") else None

    return GgufMetadata(
        file_size_bytes=size,
        gguf_version=int(_scalar(reader, "GGUF.version")),
        architecture=str(arch),
        name=text("general.name"),
        basename=text("general.basename"),
        version=text("general.version"),
        finetune=text("general.finetune"),
        size_label=text("general.size_label"),
        organization=text("general.organization"),
        parameter_count=sum(int(t.n_elements) for t in reader.tensors),
        context_length_tokens=arch_int("context_length"),
        block_count=block_count,
        embedding_length=embedding,
        head_count=head_count,
        head_count_kv=arch_int("attention.head_count_kv") or head_count,
        key_length=arch_int("attention.key_length") or head_dim,
        value_length=arch_int("attention.value_length") or head_dim,
        vocab_size=arch_int("vocab_size") or _array_length(reader, "tokenizer.ggml.tokens"),
        file_type=file_type,
        quantization=_quantization(file_type, reader),
        chat_template_present=bool(text("tokenizer.chat_template")),
        tensor_bytes=sum(int(t.n_bytes) for t in reader.tensors),
        layer_tensor_bytes=layer_bytes,
        output_tensor_bytes=output_bytes,
    )
