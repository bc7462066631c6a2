"""Small building blocks shared by the screens: cards, figures, state lines, addresses with a
Copy button, and editors that leave the mouse wheel to the page."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon, QPainter, QPaintEvent, QWheelEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.theme import Space

COPIED_MS = 1500


class Card(QFrame):
    """A titled panel; `body` is where the content goes."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(Space.L, Space.M, Space.L, Space.L)
        outer.setSpacing(Space.M)
        header = QHBoxLayout()
        header.setSpacing(Space.S)
        self.title = QLabel(title)
        self.title.setObjectName("title")
        self.title.setWordWrap(True)  # a long GPU name wraps rather than widening the page
        header.addWidget(self.title, 1)  # the title takes the room; header extras sit right
        self.header = header
        outer.addLayout(header)
        self.body = QVBoxLayout()
        self.body.setSpacing(Space.S)
        outer.addLayout(self.body)


class Figure(QWidget):
    """A big number with a caption under it, e.g. "1.25 TON" / "earned today", and a note that
    says why when the number is unknown ("—")."""

    def __init__(self, caption: str, parent: QWidget | None = None, *,
                 size: str = "figure") -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.value = QLabel("—")
        self.value.setObjectName(size)
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption = QLabel(caption)
        self.caption.setObjectName("muted")
        self.note = QLabel()
        self.note.setObjectName("caption")
        self.note.setWordWrap(True)
        self.note.hide()
        layout.addWidget(self.value)
        layout.addWidget(self.caption)
        layout.addWidget(self.note)

    def set_value(self, text: str, tooltip: str = "", note: str = "") -> None:
        self.value.setText(text)
        self.value.setToolTip(tooltip)
        self.note.setText(note)
        self.note.setVisible(bool(note))


class StateLabel(QLabel):
    """A one-line state in colour: good (green), warn (amber), bad (red) or plain."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def set_state(self, text: str, level: str = "") -> None:
        """`level` is "good", "warn", "bad" or "" (muted)."""
        self.setText(text)
        restyle(self, level or "muted")


class LiveLabel(QLabel):
    """One line whose text changes every second (a chart's latest value). QLabel.setText asks
    every layout up to the window for a new geometry on each change, so the page is laid out
    again each second; this label keeps the size it was first laid out with (its first text)
    and a new text only repaints it, cut with "…" if it does not fit."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._live = text

    def text(self) -> str:
        return self._live

    def setText(self, text: str) -> None:
        if text != self._live:
            self._live = text
            self.setAccessibleName(text)  # what a screen reader reads: the live text
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self._live, Qt.TextElideMode.ElideRight,
                                              rect.width())
        painter.drawText(rect, int(self.alignment()), shown)


def restyle(widget: QWidget, style_name: str) -> None:
    """Give `widget` the style sheet's look for `style_name`; re-polished only on a change, so a
    status repeated every second neither repaints nor re-lays out the page."""
    if widget.objectName() != style_name:
        widget.setObjectName(style_name)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def set_button_icon(button: QPushButton, new_icon: QIcon) -> None:
    """Qt repaints and re-lays out a button on every setIcon, even with the same icon."""
    if button.icon().cacheKey() != new_icon.cacheKey():
        button.setIcon(new_icon)


class CopyButton(QPushButton):
    """Copies a text to the clipboard and says so for a moment."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__("Copy", parent)
        self.setIcon(icon("copy"))
        self.setToolTip("Copy to the clipboard")
        self.text_to_copy = text
        self.setEnabled(bool(text))
        self._restore = QTimer(self)  # dies with the button: no call into a deleted one
        self._restore.setSingleShot(True)
        self._restore.setInterval(COPIED_MS)
        self._restore.timeout.connect(lambda: self.setText("Copy"))
        self.clicked.connect(self.copy)

    def set_text_to_copy(self, text: str) -> None:
        self.text_to_copy = text
        self.setEnabled(bool(text))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text_to_copy)
        self.setText("Copied")
        self._restore.start()


class AddressLine(QWidget):
    """An address (or endpoint, or token) people copy: selectable text and a Copy button."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = CopyButton(text)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(Space.S)
        row.addWidget(self.label, 1, Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignVCenter)

    def set_text(self, shown: str, copied: str | None = None) -> None:
        """Show `shown`; Copy takes `copied` (default: the same text; "" disables it)."""
        self.label.setText(shown)
        self.copy_button.set_text_to_copy(shown if copied is None else copied)

    def text(self) -> str:
        return self.label.text()


class _WheelWhenFocused:
    """Keeps the mouse wheel for scrolling the page: the editor changes with the wheel only
    once the user clicked into it (no more 0.00 → 0.01 while scrolling past a price)."""

    def _wheel_setup(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # type: ignore[attr-defined]

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():  # type: ignore[attr-defined]
            super().wheelEvent(event)  # type: ignore[misc]
        else:
            event.ignore()  # the scroll area gets it


class SpinBox(_WheelWhenFocused, QSpinBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._wheel_setup()


class DoubleSpinBox(_WheelWhenFocused, QDoubleSpinBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._wheel_setup()


class ComboBox(_WheelWhenFocused, QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._wheel_setup()


def muted(text: str, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    label.setWordWrap(wrap)
    return label


def key_value_row(key: str, value: QLabel) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(Space.M)
    layout.addWidget(muted(key, wrap=False), 0, Qt.AlignmentFlag.AlignTop)
    value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    layout.addWidget(value, 1)
    return row
