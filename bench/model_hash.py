"""Model hashing and metadata speed: the app's SHA-256 loop against hashlib's own file digest.

    .venv/bin/python bench/model_hash.py [--file PATH] [--rounds 3]

Hashes the bundled SmolLM2 GGUF (or `--file`) with
`cocoon_desktop.engine.models.file_hash.sha256_file` (chunked, with progress and cancel checks)
and with `hashlib.file_digest` (the baseline: C loop, no progress), each alone, in `--rounds`
ABBA rounds (bench/abba.py), and prints median MB per CPU second and the ratio of throughputs,
median and range over the rounds (target: at least 0.95 of the baseline). It also times a cache
hit and one GGUF metadata read.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from abba import abba, setting, spread

from cocoon_desktop.engine.models.bundled import bundled_model_path
from cocoon_desktop.engine.models.file_hash import FileHashCache, sha256_file
from cocoon_desktop.engine.models.gguf_meta import read_gguf_metadata


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_timed(fn: Callable[[], object]) -> float:
    """Process CPU seconds (user + system, all threads): hashing a file in the page cache is
    CPU-bound, and CPU time leaves out the time other programs on a shared machine hold the core."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def baseline(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def app_loop(path: Path) -> str:
    reports: list[int] = []
    return sha256_file(path, progress=lambda done, _t: reports.append(done),
                       cancel=threading.Event())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = args.file or bundled_model_path()
    size_mb = path.stat().st_size / 1e6
    baseline(path)  # warm the page cache: both sides then read from memory
    assert app_loop(path) == baseline(path)
    with setting():
        rates = abba(args.rounds, lambda: size_mb / cpu_timed(lambda: baseline(path)),
                     lambda: size_mb / cpu_timed(lambda: app_loop(path)))
        with tempfile.TemporaryDirectory() as tmp:
            cache = FileHashCache(Path(tmp) / "hashes.json")
            cache.sha256(path)
            hit_seconds = timed(lambda: cache.sha256(path))
        meta_seconds = timed(lambda: read_gguf_metadata(path))
        print(f"file: {path.name} ({size_mb:.1f} MB), page cache warm, medians of "
              f"{2 * args.rounds} runs each")
        print(f"  baseline  {rates.median_a():8.1f} MB per CPU second (hashlib.file_digest)")
        print(f"  app       {rates.median_b():8.1f} MB per CPU second (sha256_file)")
        print(f"  ratio app/baseline throughput: {spread(rates.ratios(), '.3f')} (target >= 0.95)")
        print(f"  cache hit: {hit_seconds * 1000:.2f} ms; GGUF metadata read: {meta_seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
