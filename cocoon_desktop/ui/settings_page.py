"""The Settings screen: every preference, validated as a whole, saved on Apply.

Labels line up in one column across every section; values read as people say them (the
fields come from `ui_logic.settings_form`); the mouse wheel scrolls the page and never changes
a value the pointer passes over.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.settings import AppSettings, SettingsError
from cocoon_desktop.ui.controllers.settings import SettingsController
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import Card, ComboBox, DoubleSpinBox, SpinBox, StateLabel, muted
from cocoon_desktop.ui_logic.settings_form import SECTIONS, FieldSpec

EDITOR_MAX_WIDTH = 460  # a number or a choice does not need the whole page's width


class SettingsPage(QWidget):
    def __init__(self, controller: SettingsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.specs = {spec.name: spec for _, specs in SECTIONS for spec in specs}
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.labels: dict[str, QLabel] = {}
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, Space.S, 0)
        column.setSpacing(Space.M)
        for title, specs in SECTIONS:
            card = Card(title)
            grid = QGridLayout()
            grid.setHorizontalSpacing(Space.L)
            grid.setVerticalSpacing(Space.S)
            grid.setColumnStretch(1, 1)
            for row, spec in enumerate(specs):
                label = QLabel(spec.label)
                self.labels[spec.name] = label
                grid.addWidget(label, row, 0, Qt.AlignmentFlag.AlignTop)
                grid.addWidget(self._field(spec), row, 1)
            card.body.addLayout(grid)
            column.addWidget(card)
        width = max(label.sizeHint().width() for label in self.labels.values())
        for label in self.labels.values():  # one label column for every section
            label.setFixedWidth(width)
            label.setContentsMargins(0, Space.XS, 0, 0)
        autostart = self.editors["autostart"]
        autostart.setEnabled(controller.autostart.available)
        autostart.setToolTip(controller.autostart.detail)
        column.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(content)
        self.status = StateLabel()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("primary")
        self.revert_button = QPushButton("Revert")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.revert_button.clicked.connect(lambda: self.load(self.controller.settings))
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        layout.setSpacing(Space.M)
        for warning in controller.load_warnings:
            banner = QLabel(warning)
            banner.setObjectName("banner")
            banner.setWordWrap(True)
            layout.addWidget(banner)
        layout.addWidget(self.scroll)
        layout.addLayout(buttons)
        controller.settings_changed.connect(self.load)
        self.load(controller.settings)

    def _editor(self, spec: FieldSpec) -> QWidget:
        default = getattr(AppSettings(), spec.name)
        if spec.choices:
            combo = ComboBox()
            for value, label in spec.choices:
                combo.addItem(label, value)
            return combo
        if isinstance(default, bool):
            return QCheckBox()
        if isinstance(default, int) and spec.scale == 1:
            box = SpinBox()
            box.setRange(int(spec.low), int(spec.high))
            box.setSingleStep(int(spec.step))
            box.setSuffix(spec.suffix)
            box.setSpecialValueText(spec.special)
            return box
        if isinstance(default, int | float):
            number = DoubleSpinBox()
            number.setDecimals(3 if spec.scale != 1 else spec.decimals)
            number.setRange(spec.low, spec.high)
            number.setSingleStep(spec.step)
            number.setSuffix(spec.suffix)
            return number
        if isinstance(default, tuple):
            text = QPlainTextEdit()
            text.setFixedHeight(70)
            return text
        return QLineEdit()

    def _field(self, spec: FieldSpec) -> QWidget:
        editor = self._editor(spec)
        editor.setObjectName(f"setting_{spec.name}")
        if not isinstance(editor, QCheckBox | QPlainTextEdit | QLineEdit):
            editor.setMaximumWidth(EDITOR_MAX_WIDTH)
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
            spec = self.specs[name]
            if isinstance(editor, ComboBox):
                editor.setCurrentIndex(max(0, editor.findData(str(value))))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, SpinBox | DoubleSpinBox):
                editor.setValue(spec.shown(value))
            elif isinstance(editor, QPlainTextEdit):
                editor.setPlainText("\n".join(value))
            elif isinstance(editor, QLineEdit):
                editor.setText(str(value))
        self._show_errors({})

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, ComboBox):
                out[name] = editor.currentData()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, SpinBox | DoubleSpinBox):
                out[name] = self.specs[name].stored(editor.value())
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
