"""ModelController: the model library, and checking a model (hash, metadata, VRAM fit).

Checking hashes the whole file (minutes for a large model): it runs on the blocking pool with
progress as a signal and can be cancelled from the UI.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.engine.models.file_hash import FileChangedWhileHashing, HashCancelled
from cocoon_desktop.engine.models.gguf_meta import GgufMetadata, ModelFileError
from cocoon_desktop.engine.models.model_library import ModelEntry, ModelLibrary
from cocoon_desktop.engine.models.offload import OffloadPlan, plan_offload


class ModelCheckError(Exception):
    """The model cannot be used; the text says why and what to do."""


class ModelCheckCancelled(Exception):
    """The user cancelled the check."""


@dataclass(frozen=True)
class ModelCheck:
    path: Path
    cocoon_name: str
    metadata: GgufMetadata
    plan: OffloadPlan

    @property
    def fits_in_vram(self) -> bool | None:
        return None if self.plan.free_vram_bytes is None else self.plan.fits_fully


class ModelController(QObject):
    # done bytes, total bytes (from the hashing thread); 64-bit: models are tens of GB
    check_progressed = Signal("qint64", "qint64")

    def __init__(self, library: ModelLibrary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._cancel: threading.Event | None = None

    async def entries(self) -> tuple[ModelEntry, ...]:
        return await run_blocking(self.library.entries)

    async def bundled_path(self) -> Path:
        entry = (await self.entries())[0]
        if entry.problem:
            raise ModelCheckError(entry.problem)
        return entry.path

    async def check(self, path: Path | None, context_tokens: int,
                    free_vram_bytes: int | None, offload_supported: bool) -> ModelCheck:
        """Read metadata, hash (cached) and plan the offload; `None` path = bundled model.

        `offload_supported`: whether this llama.cpp build can use the GPU (the doctor's or the
        engine's answer; the app process itself never loads llama.cpp).
        """
        target = path or await self.bundled_path()
        cancel = threading.Event()
        self._cancel = cancel
        try:
            metadata = await run_blocking(self._add_and_read, target)
            name = await run_blocking(self.library.cocoon_name, target,
                                      self.check_progressed.emit, cancel)
        except HashCancelled:
            raise ModelCheckCancelled("The model check was cancelled.") from None
        except (ModelFileError, FileChangedWhileHashing) as exc:
            raise ModelCheckError(str(exc)) from None
        except OSError as exc:
            raise ModelCheckError(f"Cannot read {target}: {exc.strerror}. Check the file and "
                                  "its permissions.") from None
        finally:
            self._cancel = None
        plan = plan_offload(metadata, context_tokens, free_vram_bytes, offload_supported)
        return ModelCheck(target, str(name), metadata, plan)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _add_and_read(self, path: Path) -> GgufMetadata:
        self.library.add(path)
        return self.library.metadata(path)
