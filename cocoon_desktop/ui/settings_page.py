"""The Settings screen: every preference, validated as a whole, saved on Apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.settings import AppSettings, NetworkKind, ServeFrom, SettingsError, Theme
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.widgets import Card, StateLabel, muted


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    help: str = ""
    low: float = 0
    high: float = 0
    step: float = 1
    suffix: str = ""


SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    ("Appearance and desktop", (
        FieldSpec("theme", "Theme", "System follows your desktop's light or dark setting."),
        FieldSpec("notifications", "Notifications", "Payouts, protection pauses, engine crashes."),
        FieldSpec("autostart", "Start at login"),
        FieldSpec("start_minimized", "Start in the tray"),
    )),
    ("Serving", (
        FieldSpec("network", "Network"),
        FieldSpec("network_endpoint", "Network endpoint",
                  "A root-config JSON file of the network, optionally followed by a space and "
                  "a proxy's host:port; empty uses the network's default."),
        FieldSpec("ton_config_path", "TON liteserver config",
                  "A global-config JSON file; empty uses the network's public config."),
        FieldSpec("coefficient", "Price coefficient", "1000 = 1.0x the network price.",
                  1, 1_000_000),
        FieldSpec("max_active_requests", "Max parallel jobs", "", 1, 256),
        FieldSpec("serve_from", "Serve from",
                  "A confidential VM runs the engine and the worker in a virtual machine "
                  "booted from a measured image: the proxies' TLS ends inside it. Only Intel "
                  "TDX hardware makes it attested (mainnet needs it); with KVM it is isolated "
                  "but not attested (test networks only); without KVM it is emulated and slow "
                  "(tests and demos). A GPU moves to it only after you agree."),
        FieldSpec("serve_on_start", "Serve when the app starts"),
    )),
    ("GPU protection", (
        FieldSpec("pause_temperature_c", "Pause at", "", 40, 100, suffix=" °C"),
        FieldSpec("resume_temperature_c", "Resume below", "", 30, 95, suffix=" °C"),
        FieldSpec("pause_on_throttle", "Pause when the GPU slows itself down"),
        FieldSpec("vram_headroom_mib", "Keep VRAM free", "", 0, 65536, 256, " MiB"),
        FieldSpec("game_mode_processes", "Game mode programs",
                  "One program name per line; serving pauses and the model unloads while one "
                  "runs."),
        FieldSpec("monitoring_interval_s", "Monitoring interval", "", 0.2, 60, 0.5, " s"),
    )),
    ("Money", (
        FieldSpec("tariff_per_kwh", "Electricity price per kWh", "", 0, 100, 0.01),
        FieldSpec("tariff_currency", "Currency", "A three-letter code such as USD or EUR."),
        FieldSpec("ton_price", "Price of one TON", "In the currency above, for earnings net of "
                  "electricity; 0 leaves net figures out (the app never guesses a rate).",
                  0, 1_000_000, 0.1),
        FieldSpec("payout_threshold_ton", "Payout threshold", "", 0, 1_000_000, 0.5, " TON"),
    )),
    ("Model", (
        FieldSpec("gpu_layers", "GPU layers", "-1 puts every layer that fits on the GPU.",
                  -1, 10_000),
        FieldSpec("context_tokens", "Context", "", 256, 1_048_576, 256, " tokens"),
    )),
)
# Each choice as (value, what the list shows).
CHOICES: dict[str, list[tuple[str, str]]] = {
    "theme": [(t.value, t.value) for t in Theme],
    "network": [(n.value, n.value) for n in NetworkKind],
    "serve_from": [(ServeFrom.SANDBOX.value, "this computer's sandbox"),
                   (ServeFrom.VM.value, "a confidential VM")],
}


class SettingsPage(QWidget):
    def __init__(self, controller: SettingsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        content = QWidget()
        column = QVBoxLayout(content)
        for title, specs in SECTIONS:
            card = Card(title)
            form = QFormLayout()
            card.body.addLayout(form)
            for spec in specs:
                form.addRow(spec.label, self._field(spec))
            column.addWidget(card)
        autostart = self.editors["autostart"]
        autostart.setEnabled(controller.autostart.available)
        autostart.setToolTip(controller.autostart.detail)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        self.status = StateLabel()
        self.apply_button = QPushButton("Apply")
        self.revert_button = QPushButton("Revert")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.revert_button.clicked.connect(lambda: self.load(self.controller.settings))
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        for warning in controller.load_warnings:
            banner = QLabel(warning)
            banner.setObjectName("banner")
            banner.setWordWrap(True)
            layout.addWidget(banner)
        layout.addWidget(scroll)
        layout.addLayout(buttons)
        controller.settings_changed.connect(self.load)
        self.load(controller.settings)

    def _field(self, spec: FieldSpec) -> QWidget:
        default = getattr(AppSettings(), spec.name)
        editor: QWidget
        if spec.name in CHOICES:
            editor = QComboBox()
            for value, text in CHOICES[spec.name]:
                editor.addItem(text, value)
        elif isinstance(default, bool):
            editor = QCheckBox()
        elif isinstance(default, int):
            editor = QSpinBox()
            editor.setRange(int(spec.low), int(spec.high))
            editor.setSingleStep(int(spec.step))
            editor.setSuffix(spec.suffix)
        elif isinstance(default, float):
            editor = QDoubleSpinBox()
            editor.setRange(spec.low, spec.high)
            editor.setSingleStep(spec.step)
            editor.setDecimals(2)
            editor.setSuffix(spec.suffix)
        elif isinstance(default, tuple):
            editor = QPlainTextEdit()
            editor.setFixedHeight(70)
        else:
            editor = QLineEdit()
        editor.setObjectName(f"setting_{spec.name}")
        self.editors[spec.name] = editor
        error = QLabel()
        error.setObjectName("bad")
        error.setWordWrap(True)
        error.hide()
        self.errors[spec.name] = error
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        if spec.help:
            layout.addWidget(muted(spec.help))
        layout.addWidget(error)
        return box

    def load(self, settings: AppSettings) -> None:
        for name, editor in self.editors.items():
            value = getattr(settings, name)
            if isinstance(editor, QComboBox):
                editor.setCurrentIndex(max(0, editor.findData(str(value))))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                editor.setValue(value)
            elif isinstance(editor, QPlainTextEdit):
                editor.setPlainText("\n".join(value))
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))
        self._show_errors({})

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[name] = editor.currentData()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                out[name] = editor.value()
            elif isinstance(editor, QPlainTextEdit):
                out[name] = [line for line in editor.toPlainText().splitlines() if line.strip()]
            elif isinstance(editor, QLineEdit):
                out[name] = editor.text()
        return out

    def _show_errors(self, problems: dict[str, str]) -> None:
        for name, label in self.errors.items():
            label.setText(problems.get(name, ""))
            label.setVisible(name in problems)

    def _on_apply_clicked(self) -> None:
        spawn(self.apply(), name="settings.apply")

    async def apply(self) -> bool:
        """Validate and save what the form holds; show each problem beside its field."""
        self.apply_button.setEnabled(False)
        try:
            await self.controller.update(**self.values())
        except SettingsError as exc:
            self._show_errors(exc.problems)
            known = set(self.errors)
            other = [why for name, why in exc.problems.items() if name not in known]
            self.status.set_state(" ".join(other) or "Some settings need correcting (see red "
                                  "notes above); nothing was saved.", "bad")
            return False
        finally:
            self.apply_button.setEnabled(True)
        self._show_errors({})
        self.status.set_state("Settings saved.", "good")
        return True
