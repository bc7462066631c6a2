"""Write a tiny random-weight llama model as GGUF that llama.cpp really loads (a test helper).

Any test that needs a second, different model file (a model that changed, a user-added model, a
model with other metadata) can call `write_tiny_llama(path, seed=...)`: a different seed gives
different weights and so a different SHA-256; the text it generates is noise, by design.

The vocabulary is SentencePiece-style ("llama" tokenizer) with byte fallback, so any text
tokenizes; a ChatML chat template is included unless `chat_template=None`.

Usage: `from tests.helpers.tiny_gguf import write_tiny_llama, TinyLlamaSpec`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
WORDS = ("the", "and", "to", "of", "in", "is", "it", "you", "hello", "world", "user")


@dataclass(frozen=True)
class TinyLlamaSpec:
    """The shape of the tiny model; the defaults give a file of about 0.5 MB."""

    block_count: int = 2
    embedding_length: int = 64
    head_count: int = 4
    head_count_kv: int = 2
    feed_forward_length: int = 128
    context_length: int = 512
    name: str | None = "Tiny Llama Test"
    organization: str | None = "CocoonTests"
    version: str | None = None
    chat_template: str | None = CHATML_TEMPLATE


def tiny_vocab() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types: specials, 256 byte tokens, letters and a few words."""
    tokens = list(SPECIAL_TOKENS)
    types = [gguf.TokenType.UNKNOWN] + [gguf.TokenType.CONTROL] * (len(SPECIAL_TOKENS) - 1)
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    pieces = ["\u2581", *string.ascii_letters, *string.digits, *string.punctuation]
    pieces += ["\u2581" + c for c in string.ascii_letters]
    pieces += ["\u2581" + w for w in WORDS]
    tokens += pieces
    types += [gguf.TokenType.NORMAL] * len(pieces)
    scores = [0.0] * (len(SPECIAL_TOKENS) + 256) + [-float(i) for i in range(len(pieces))]
    return tokens, scores, [int(t) for t in types]


def _layer_tensors(spec: TinyLlamaSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n_embd, n_ff = spec.embedding_length, spec.feed_forward_length
    n_embd_kv = n_embd // spec.head_count * spec.head_count_kv

    def weight(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)

    tensors: dict[str, np.ndarray] = {}
    for i in range(spec.block_count):
        tensors |= {
            f"blk.{i}.attn_norm.weight": np.ones(n_embd, dtype=np.float32),
            f"blk.{i}.attn_q.weight": weight(n_embd, n_embd),
            f"blk.{i}.attn_k.weight": weight(n_embd_kv, n_embd),
            f"blk.{i}.attn_v.weight": weight(n_embd_kv, n_embd),
            f"blk.{i}.attn_output.weight": weight(n_embd, n_embd),
            f"blk.{i}.ffn_norm.weight": np.ones(n_embd, dtype=np.float32),
            f"blk.{i}.ffn_gate.weight": weight(n_ff, n_embd),
            f"blk.{i}.ffn_up.weight": weight(n_ff, n_embd),
            f"blk.{i}.ffn_down.weight": weight(n_embd, n_ff),
        }
    return tensors


def write_tiny_llama(path: Path, *, seed: int = 0, spec: TinyLlamaSpec | None = None) -> Path:
    """Write the model to `path` (folders created) and return it; same seed and spec, same bytes."""
    spec = spec or TinyLlamaSpec()
    rng = np.random.default_rng(seed)
    tokens, scores, types = tiny_vocab()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    if spec.name:
        writer.add_name(spec.name)
    if spec.organization:
        writer.add_organization(spec.organization)
    if spec.version:
        writer.add_version(spec.version)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(spec.context_length)
    writer.add_embedding_length(spec.embedding_length)
    writer.add_block_count(spec.block_count)
    writer.add_feed_forward_length(spec.feed_forward_length)
    writer.add_head_count(spec.head_count)
    writer.add_head_count_kv(spec.head_count_kv)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(spec.embedding_length // spec.head_count)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)
    if spec.chat_template:
        writer.add_chat_template(spec.chat_template)
    embd = (rng.standard_normal((len(tokens), spec.embedding_length)) * 0.02).astype(np.float32)
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", np.ones(spec.embedding_length, dtype=np.float32))
    for name, tensor in _layer_tensors(spec, rng).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
