"""The chat's side panel: system prompt and sampling parameters."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import DoubleSpinBox, SpinBox, muted
from cocoon_desktop.ui_logic.chat import GenerationParams


class ParamsPanel(QWidget):
    params_edited = Signal(object)  # GenerationParams
    system_prompt_edited = Signal(str)

    def __init__(self, system_prompt: str, params: GenerationParams,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.system_prompt = QPlainTextEdit(system_prompt)
        self.system_prompt.setPlaceholderText("Instructions the model follows in every answer")
        self.system_prompt.setFixedHeight(110)
        self.temperature = DoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(params.temperature)
        self.top_p = DoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(params.top_p)
        self.max_tokens = SpinBox()
        self.max_tokens.setRange(1, 32768)
        self.max_tokens.setValue(params.max_tokens)
        form = QFormLayout()
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Max tokens", self.max_tokens)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(Space.S)
        layout.addWidget(QLabel("System prompt"))
        layout.addWidget(self.system_prompt)
        layout.addLayout(form)
        layout.addWidget(muted("Kept for the next time, like your conversations."))
        layout.addStretch(1)
        self.system_prompt.textChanged.connect(
            lambda: self.system_prompt_edited.emit(self.system_prompt.toPlainText()))
        for box in (self.temperature, self.top_p, self.max_tokens):
            box.valueChanged.connect(lambda _v: self.params_edited.emit(self.params()))

    def show_params(self, params: GenerationParams) -> None:
        """Show what the chat uses (set elsewhere, e.g. loaded), without echoing an edit."""
        for box, value in ((self.temperature, params.temperature), (self.top_p, params.top_p),
                           (self.max_tokens, params.max_tokens)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    def params(self) -> GenerationParams:
        return GenerationParams(self.temperature.value(), self.top_p.value(),
                                self.max_tokens.value())
