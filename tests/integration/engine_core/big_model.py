"""A random-weight llama GGUF of about 50 MB in 60 tensors, for tests of load progress.

The bundled model loads in well under a second in a handful of progress steps; this one gives
llama.cpp's progress callback dozens of tensors to report on (it is called once per tensor).
Made with tests/helpers/tiny_gguf.py; same bytes on every call.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.tiny_gguf import TinyLlamaSpec, write_tiny_llama

BIG_SPEC = TinyLlamaSpec(block_count=6, embedding_length=384, head_count=6, head_count_kv=3,
                         feed_forward_length=1536, name="Big Tiny Llama Test")
MIN_BYTES = 40 * 2**20


def write_big_model(folder: Path) -> Path:
    """The model file in `folder` (written once; reused when it is already there)."""
    path = folder / "big-tiny-llama.gguf"
    if not path.exists():
        write_tiny_llama(path, seed=7, spec=BIG_SPEC)
    assert path.stat().st_size >= MIN_BYTES
    return path
