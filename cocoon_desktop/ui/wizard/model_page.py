"""Wizard page: the model (bundled default or a GGUF file), checked with progress and Cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.ui.controllers.models import ModelCheck, ModelCheckCancelled, ModelCheckError
from cocoon_desktop.ui.widgets import StateLabel, muted
from cocoon_desktop.ui.wizard.base import WizardPage
from cocoon_desktop.ui_logic.format import format_bytes
from cocoon_desktop.ui_logic.wizard import ModelChoice


def describe(check: ModelCheck) -> str:
    meta = check.metadata
    params = f"{meta.parameter_count / 1e9:.2f} B" if meta.parameter_count >= 1e8 else \
        f"{meta.parameter_count / 1e6:.0f} M"
    return (f"{meta.architecture} · {params} parameters · {meta.quantization} · "
            f"{format_bytes(meta.file_size_bytes)} · trained context "
            f"{meta.context_length_tokens or 'n/a'} tokens")


class ModelPage(WizardPage):
    title = "Your model"
    subtitle = ("The bundled SmolLM2 works everywhere and is small enough for the CPU; add any "
                "GGUF file to serve a bigger model.")

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.bundled = QRadioButton("Bundled: SmolLM2 135M Instruct (Q4_1)")
        self.custom = QRadioButton("A GGUF file on this computer…")
        group = QButtonGroup(self)
        group.addButton(self.bundled)
        group.addButton(self.custom)
        self.path = QLabel("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.cancel = QPushButton("Cancel check")
        self.cancel.hide()
        self.result = StateLabel()
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel)
        for widget in (self.bundled, self.custom, self.path):
            self.layout_.addWidget(widget)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.result)
        self.layout_.addWidget(muted("Checking reads the whole file once (SHA-256, to name the "
                                     "model the Cocoon way) and estimates how much of it fits "
                                     "in your GPU's free memory."))
        self.finish_layout()
        self.bundled.toggled.connect(lambda on: on and self.choose(""))
        self.custom.clicked.connect(self._on_custom_clicked)
        self.cancel.clicked.connect(self.services.models.cancel)
        self.services.models.check_progressed.connect(self._on_check_progressed)
        self._task: asyncio.Task[None] | None = None

    def enter(self) -> None:
        if self.machine.model is None:
            self.bundled.setChecked(True)

    def leave(self) -> None:
        self.services.models.cancel()

    def _on_custom_clicked(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf)")
        if name:
            self.choose(name)
        elif self.machine.model is None or not self.machine.model.path:
            self.bundled.setChecked(True)

    def choose(self, path: str) -> None:
        if not self.act(lambda: self.machine.choose_model(path)):
            return
        self.path.setText(path or "")
        self.services.models.cancel()
        self._task = spawn(self._check(path), name="wizard.model_check")

    async def _check(self, path: str) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.cancel.show()
        self.result.set_state("Checking the model…")
        s = self.services
        try:
            check = await s.models.check(Path(path) if path else None, s.context_tokens,
                                         s.free_vram_bytes, s.offload_supported())
        except ModelCheckCancelled:
            self.result.set_state("Check cancelled. Choose a model to check it again.", "warn")
            return
        except ModelCheckError as exc:
            self.result.set_state(str(exc), "bad")
            return
        finally:
            self.progress.hide()
            self.cancel.hide()
        note = check.plan.reason
        self.machine.model_checked(ModelChoice(path, check.cocoon_name, check.fits_in_vram,
                                               note))
        # Running on the CPU is a warning only where a GPU sits idle (no card: nothing to fix).
        level = "warn" if check.fits_in_vram is False and s.gpu_present else "good"
        self.result.set_state(f"{describe(check)}\n{note}", level)
        self.changed.emit()

    def _on_check_progressed(self, done: int, total: int) -> None:
        self.progress.setValue(int(done * 1000 / total) if total else 1000)
