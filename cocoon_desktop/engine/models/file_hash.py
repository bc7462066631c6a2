"""SHA-256 of large files with progress and cancellation, cached by (path, size, mtime_ns).

A model is tens of gigabytes: hashing it takes minutes, so the result is kept in a JSON file in
the app's cache folder and reused while the file's size and modification time (in nanoseconds)
are unchanged. Touching or rewriting the file invalidates the entry. A rewrite that keeps both
the size and the nanosecond mtime is not detected: that takes deliberate effort (`touch -d`), and
the engine's own load would still read the new bytes.

`StatCache` is the generic part (any JSON value keyed by a file's identity); `FileHashCache`
uses it for digests, `ModelLibrary` for GGUF metadata.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CHUNK_BYTES = 4 * 1024 * 1024
PROGRESS_EVERY_BYTES = 64 * 1024 * 1024
CACHE_FORMAT_VERSION = 1

# progress(done_bytes, total_bytes): called from the hashing thread; keep it quick.
HashProgress = Callable[[int, int], None]


class HashCancelled(Exception):
    """Hashing was cancelled by the caller; nothing was cached."""


class FileChangedWhileHashing(Exception):
    """The file's size or mtime changed during hashing (still being copied or downloaded?)."""


class StatCache:
    """A JSON file mapping a file's absolute path to a value, valid for one (size, mtime_ns).

    Safe across threads; across processes the last writer wins (entries are re-read and merged
    before each write). A damaged cache file is treated as empty: it only costs time.
    """

    def __init__(self, file: Path) -> None:
        self._file = file
        self._lock = threading.Lock()

    @staticmethod
    def key(path: Path) -> str:
        return str(path.resolve())

    def get(self, path: Path) -> Any | None:
        """The value stored for `path` if the file still has the recorded size and mtime."""
        try:
            stat = path.stat()
        except OSError:
            return None
        with self._lock:
            entry = self._load().get(self.key(path))
        if not isinstance(entry, dict):
            return None
        if entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
            return None
        return entry.get("value")

    def put(self, path: Path, stat: os.stat_result, value: Any) -> None:
        """Store `value` for `path` as it was when `stat` was taken."""
        with self._lock:
            entries = self._load()
            entries[self.key(path)] = {
                "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "value": value,
            }
            self._save(entries)

    def forget(self, path: Path) -> None:
        with self._lock:
            entries = self._load()
            if entries.pop(self.key(path), None) is not None:
                self._save(entries)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("Ignoring unreadable cache %s (%s); it will be rebuilt", self._file, exc)
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_FORMAT_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def _save(self, entries: dict[str, Any]) -> None:
        write_json_atomically(self._file, {"version": CACHE_FORMAT_VERSION, "entries": entries})


def write_json_atomically(file: Path, data: Any) -> None:
    """Write JSON to a temporary file beside `file`, then rename it over: never half a file."""
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(
    path: Path,
    progress: HashProgress | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """Hex SHA-256 of the file's bytes. Raises HashCancelled when `cancel` gets set."""
    total = path.stat().st_size
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    done = 0
    next_report = 0
    with path.open("rb", buffering=0) as f:
        while True:
            if cancel is not None and cancel.is_set():
                raise HashCancelled(f"Hashing {path.name} was cancelled.")
            if progress is not None and done >= next_report:
                progress(done, total)
                next_report = done + PROGRESS_EVERY_BYTES
            count = f.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
            done += count
    if progress is not None:
        progress(done, total)
    return digest.hexdigest()


class FileHashCache:
    """SHA-256 of files, computed once per (path, size, mtime_ns) and kept in the cache folder."""

    def __init__(self, cache_file: Path) -> None:
        self._cache = StatCache(cache_file)

    def cached(self, path: Path) -> str | None:
        """The digest if it is known for the file as it is now, else None (no hashing)."""
        value = self._cache.get(path)
        return value if isinstance(value, str) and len(value) == 64 else None

    def sha256(
        self,
        path: Path,
        progress: HashProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """The file's digest, from the cache or computed now (with progress and cancel)."""
        known = self.cached(path)
        if known is not None:
            if progress is not None:
                size = path.stat().st_size
                progress(size, size)
            return known
        before = path.stat()
        digest = sha256_file(path, progress, cancel)
        after = path.stat()
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise FileChangedWhileHashing(
                f"{path.name} changed while it was being hashed (still being copied or "
                "downloaded?). Try again once it is complete."
            )
        self._cache.put(path, after, digest)
        return digest
