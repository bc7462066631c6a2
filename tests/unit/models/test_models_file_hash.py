"""SHA-256 with progress and cancel, cached by (path, size, mtime_ns)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from cocoon_desktop.engine.models import file_hash
from cocoon_desktop.engine.models.file_hash import (
    FileChangedWhileHashing,
    FileHashCache,
    HashCancelled,
    sha256_file,
)


@pytest.fixture
def big_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 3.5 MiB file hashed in 256 KiB chunks with progress every 512 KiB (fast, many steps)."""
    monkeypatch.setattr(file_hash, "CHUNK_BYTES", 256 * 1024)
    monkeypatch.setattr(file_hash, "PROGRESS_EVERY_BYTES", 512 * 1024)
    path = tmp_path / "model.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 512 * 1024 + 7))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> FileHashCache:
    return FileHashCache(tmp_path / "cache" / "file-hashes.json")


def test_digest_matches_hashlib_and_progress_reaches_the_total(big_file: Path) -> None:
    seen: list[tuple[int, int]] = []
    digest = sha256_file(big_file, progress=lambda done, total: seen.append((done, total)))
    assert digest == hashlib.sha256(big_file.read_bytes()).hexdigest()
    size = big_file.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(seen) >= 7  # reported along the way, never backwards


def test_cancel_stops_hashing_and_caches_nothing(big_file: Path, cache: FileHashCache) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= total // 2:
            cancel.set()

    with pytest.raises(HashCancelled, match="cancelled"):
        cache.sha256(big_file, progress=progress, cancel=cancel)
    assert cache.cached(big_file) is None


def test_cache_hit_skips_reading_the_file(big_file: Path, cache: FileHashCache) -> None:
    first = cache.sha256(big_file)
    stat = big_file.stat()
    # Same size and mtime, other bytes: only a cache hit can still answer the old digest.
    big_file.write_bytes(os.urandom(stat.st_size))
    os.utime(big_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    calls: list[tuple[int, int]] = []
    assert cache.sha256(big_file, progress=lambda d, t: calls.append((d, t))) == first
    assert calls == [(stat.st_size, stat.st_size)]  # one "done" report, no reading


def test_cache_survives_a_new_instance(big_file: Path, tmp_path: Path) -> None:
    digest = FileHashCache(tmp_path / "c.json").sha256(big_file)
    assert FileHashCache(tmp_path / "c.json").cached(big_file) == digest


def test_touching_the_file_invalidates_the_entry(big_file: Path, cache: FileHashCache) -> None:
    cache.sha256(big_file)
    stat = big_file.stat()
    os.utime(big_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert cache.cached(big_file) is None


def test_rewriting_the_file_gives_the_new_digest(big_file: Path, cache: FileHashCache) -> None:
    old = cache.sha256(big_file)
    big_file.write_bytes(b"different content")
    new = cache.sha256(big_file)
    assert new != old and new == hashlib.sha256(b"different content").hexdigest()


def test_a_damaged_cache_file_is_ignored_and_rebuilt(big_file: Path, tmp_path: Path) -> None:
    cache_file = tmp_path / "c.json"
    cache_file.write_text("{not json")
    cache = FileHashCache(cache_file)
    assert cache.cached(big_file) is None
    digest = cache.sha256(big_file)
    assert FileHashCache(cache_file).cached(big_file) == digest


def test_a_file_that_changes_while_hashed_is_not_cached(
    big_file: Path, cache: FileHashCache
) -> None:
    def grow(done: int, total: int) -> None:
        if 0 < done < total:
            with big_file.open("ab") as f:
                f.write(b"still downloading")

    with pytest.raises(FileChangedWhileHashing, match="changed while it was being hashed"):
        cache.sha256(big_file, progress=grow)
    assert cache.cached(big_file) is None


def test_entries_for_several_files_coexist(tmp_path: Path, cache: FileHashCache) -> None:
    files = [tmp_path / f"f{i}" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * 100)
    digests = [cache.sha256(f) for f in files]
    assert [cache.cached(f) for f in files] == digests
    assert len(set(digests)) == 3
