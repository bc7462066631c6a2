"""The user's models: the bundled one, always listed, plus every GGUF file the user added.

The list of added files is kept in `<data dir>/models.json` (paths only: the files stay where
the user keeps them). A listed file that has gone missing or become unreadable is an entry with
a state and a problem text, never an exception. Metadata and SHA-256 digests are cached in the
cache folder by (path, size, mtime_ns), so listing is fast after the first look at a file.

All methods block (file reads, hashing): call them off the GUI thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cocoon_desktop.core.paths import AppPaths
from cocoon_desktop.engine.models.bundled import (
    BUNDLED_DISPLAY_NAME,
    BUNDLED_RELATIVE_PATH,
    bundled_model_path,
    local_model_name,
)
from cocoon_desktop.engine.models.file_hash import (
    FileHashCache,
    HashProgress,
    StatCache,
    write_json_atomically,
)
from cocoon_desktop.engine.models.gguf_meta import GgufMetadata, ModelFileError, read_gguf_metadata
from cocoon_desktop.protocol.model_names import CocoonModelName

log = logging.getLogger(__name__)
LIBRARY_FORMAT_VERSION = 1


class ModelState(StrEnum):
    READY = "ready"  # readable GGUF with metadata
    MISSING = "missing"  # the file is gone (moved, deleted, unmounted disk)
    INVALID = "invalid"  # the file is there but not a usable GGUF (anymore)


class ModelNotInLibrary(KeyError):
    """The path is not in the model list."""


@dataclass(frozen=True)
class ModelEntry:
    """One model as the UI lists it."""

    path: Path
    bundled: bool
    state: ModelState
    display_name: str
    metadata: GgufMetadata | None
    sha256_hex: str | None  # None until hashed (see ModelLibrary.sha256)
    problem: str | None  # what is wrong and what to do, when state is not READY
    added_at_unix: float | None  # None for the bundled model

    @property
    def cocoon_name(self) -> CocoonModelName | None:
        """The Cocoon name, once the file is hashed and its metadata read."""
        if self.metadata is None or self.sha256_hex is None:
            return None
        return local_model_name(self.metadata, self.path.name, self.sha256_hex)


class ModelLibrary:
    """The bundled model plus the user's added GGUF files, persisted in the data folder."""

    def __init__(
        self, paths: AppPaths, bundled_finder: Callable[[], Path] = bundled_model_path
    ) -> None:
        self._list_file = paths.data_dir / "models.json"
        self._hashes = FileHashCache(paths.cache_dir / "file-hashes.json")
        self._metadata_cache = StatCache(paths.cache_dir / "gguf-metadata.json")
        self._bundled_finder = bundled_finder
        self._lock = threading.RLock()
        self.load_problem: str | None = None  # set when models.json was unreadable
        self._added: dict[Path, float] = self._load_list()

    @property
    def hash_cache(self) -> FileHashCache:
        return self._hashes

    def entries(self) -> tuple[ModelEntry, ...]:
        """The bundled model first, then added models in the order they were added."""
        with self._lock:
            added = list(self._added.items())
        return (self._bundled_entry(), *(self._entry(p, False, t) for p, t in added))

    def entry(self, path: Path) -> ModelEntry:
        for item in self.entries():
            if item.path == path.resolve() or item.path == path:
                return item
        raise ModelNotInLibrary(f"{path} is not in the model list.")

    def add(self, path: Path) -> ModelEntry:
        """Check the file is a usable GGUF and list it; raises ModelFileError if not.

        Adding a file that is already listed returns its entry unchanged.
        """
        path = path.expanduser().resolve()
        self.metadata(path)  # raises a clear ModelFileError for a bad file
        if self._is_bundled(path):
            return self._bundled_entry()
        with self._lock:
            if path not in self._added:
                self._added[path] = time.time()
                self._save_list()
            added_at = self._added[path]
        return self._entry(path, False, added_at)

    def remove(self, path: Path) -> None:
        """Take a model off the list (the file itself is left alone)."""
        path = path.expanduser().resolve()
        if self._is_bundled(path):
            raise ValueError("The bundled model is always available and cannot be removed.")
        with self._lock:
            if self._added.pop(path, None) is None:
                raise ModelNotInLibrary(f"{path} is not in the model list.")
            self._save_list()

    def metadata(self, path: Path) -> GgufMetadata:
        """The file's GGUF metadata, from the cache or read now; ModelFileError if unusable."""
        cached = self._metadata_cache.get(path)
        if isinstance(cached, dict):
            try:
                return GgufMetadata.from_json(cached)
            except (KeyError, TypeError, ValueError):
                pass  # written by another version: read the file again
        before = path.stat() if path.exists() else None
        metadata = read_gguf_metadata(path)
        if before is not None:
            self._metadata_cache.put(path, before, metadata.to_json())
        return metadata

    def sha256(
        self, path: Path, progress: HashProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> str:
        """The file's SHA-256 (cached; see FileHashCache for progress and cancel)."""
        return self._hashes.sha256(path, progress, cancel)

    def cocoon_name(
        self, path: Path, progress: HashProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> CocoonModelName:
        """The Cocoon name of a model file, hashing it first if needed."""
        digest = self.sha256(path, progress, cancel)
        return local_model_name(self.metadata(path), path.name, digest)

    def _is_bundled(self, path: Path) -> bool:
        try:
            return path == self._bundled_finder()
        except ModelFileError:
            return False

    def _bundled_entry(self) -> ModelEntry:
        try:
            path = self._bundled_finder()
        except ModelFileError as exc:
            return ModelEntry(
                path=Path(BUNDLED_RELATIVE_PATH), bundled=True, state=ModelState.MISSING,
                display_name=BUNDLED_DISPLAY_NAME, metadata=None, sha256_hex=None,
                problem=str(exc), added_at_unix=None,
            )
        return self._entry(path, True, None)

    def _entry(self, path: Path, bundled: bool, added_at: float | None) -> ModelEntry:
        fallback_name = BUNDLED_DISPLAY_NAME if bundled else path.name
        try:
            metadata = self.metadata(path)
        except ModelFileError as exc:
            state = ModelState.INVALID if path.exists() else ModelState.MISSING
            return ModelEntry(path, bundled, state, fallback_name, None, None, str(exc), added_at)
        except OSError as exc:
            problem = f"Cannot read {path}: {exc.strerror}. Check the file and its permissions."
            return ModelEntry(
                path, bundled, ModelState.INVALID, fallback_name, None, None, problem, added_at
            )
        name = BUNDLED_DISPLAY_NAME if bundled else metadata.display_name
        return ModelEntry(
            path, bundled, ModelState.READY, name, metadata, self._hashes.cached(path), None,
            added_at,
        )

    def _load_list(self) -> dict[Path, float]:
        try:
            data = json.loads(self._list_file.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("models"), list):
                raise ValueError("no model list in it")
            return {
                Path(item["path"]): float(item["added_at_unix"]) for item in data["models"]
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return self._set_aside(exc)

    def _set_aside(self, exc: Exception) -> dict[Path, float]:
        """Keep an unreadable list file (renamed) and start from an empty list."""
        kept = self._list_file.with_name(f"models.json.unreadable-{int(time.time())}")
        try:
            self._list_file.replace(kept)
            where = f"it was kept as {kept}"
        except OSError:
            where = f"it is still at {self._list_file}"
        self.load_problem = (
            f"Your model list could not be read ({exc}); {where}. Your model files are "
            "untouched: add them again."
        )
        log.warning("%s", self.load_problem)
        return {}

    def _save_list(self) -> None:
        models = [{"path": str(p), "added_at_unix": t} for p, t in self._added.items()]
        write_json_atomically(
            self._list_file, {"version": LIBRARY_FORMAT_VERSION, "models": models}
        )
