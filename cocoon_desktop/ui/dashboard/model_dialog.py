"""Change the served model: pick the bundled one or a GGUF file, check it (hash with progress,
Cancel), then save it: the node restarts the engine with it (running jobs finish first)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.engine.models.model_library import ModelEntry
from cocoon_desktop.settings import SettingsError
from cocoon_desktop.ui.controllers.models import (
    ModelCheckCancelled,
    ModelCheckError,
    ModelController,
)
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import ComboBox, StateLabel, muted


class ModelDialog(QDialog):
    def __init__(self, models: ModelController, settings: SettingsController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose the model")
        self.setAutoFillBackground(True)  # its own window colour over every pixel, any theme
        self.setMinimumWidth(620)
        self.models = models
        self.settings = settings
        self.choice = ComboBox()
        self.add_button = QPushButton("Add a GGUF file…")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.status = StateLabel()
        self.use_button = QPushButton("Check and use")
        self.use_button.setObjectName("primary")
        self.cancel_button = QPushButton("Cancel")
        row = QHBoxLayout()
        row.addWidget(self.choice, 1)
        row.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        layout.setSpacing(Space.M)
        layout.addWidget(muted("The engine restarts with the model you choose; running jobs "
                               "finish first. Checking reads the whole file once."))
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.task: asyncio.Task[None] | None = None
        self.add_button.clicked.connect(self._on_add_clicked)
        self.use_button.clicked.connect(lambda: self.use(self.choice.currentData()))
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        models.check_progressed.connect(self._on_check_progressed)
        spawn(self._list(), name="models.list")

    async def _list(self) -> None:
        entries: tuple[ModelEntry, ...] = await self.models.entries()
        current = self.settings.settings.model_path
        self.choice.clear()
        for entry in entries:
            label = entry.display_name + (f" ({entry.problem})" if entry.problem else "")
            self.choice.addItem(label, "" if entry.bundled else str(entry.path))
            if (not current and entry.bundled) or str(entry.path) == current:
                self.choice.setCurrentIndex(self.choice.count() - 1)

    def _on_add_clicked(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()),
                                              "GGUF models (*.gguf)")
        if name:
            self.use(name)

    def use(self, path: str) -> None:
        if self.task is None or self.task.done():
            self.task = spawn(self._check_and_use(path), name="models.use")

    async def _check_and_use(self, path: str) -> None:
        self.use_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.status.set_state("Checking the model (reading the whole file once)…")
        s = self.settings.settings
        try:
            await self.models.check(Path(path) if path else None, s.context_tokens, None, True)
            await self.settings.update(model_path=path)
        except ModelCheckCancelled:
            self.status.set_state("Cancelled: the engine keeps its current model.", "warn")
            return
        except (ModelCheckError, SettingsError) as exc:
            self.status.set_state(str(exc), "bad")
            return
        finally:
            self.progress.hide()
            self.use_button.setEnabled(True)
        self.status.set_state("Saved: the engine restarts with this model.", "good")
        self.accept()

    def _on_cancel_clicked(self) -> None:
        if self.task is not None and not self.task.done():
            self.models.cancel()
        else:
            self.reject()

    def _on_check_progressed(self, done: int, total: int) -> None:
        self.progress.setValue(int(done * 1000 / total) if total else 1000)
