"""One chat message: who, the text as Markdown, its figures and a Copy button.

While an answer streams, text is appended to a buffer and the Markdown is re-rendered at most
every RENDER_INTERVAL_MS, so a fast model never floods the event loop with layout work.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import muted
from cocoon_desktop.ui_logic.chat import GenerationStats

RENDER_INTERVAL_MS = 50


class MessageWidget(QFrame):
    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.role = role
        self._text = text
        self.who = QLabel("You" if role == "user" else "Assistant")
        self.who.setObjectName("title")
        self.body = QLabel()
        self.body.setTextFormat(Qt.TextFormat.MarkdownText)
        self.body.setWordWrap(True)
        self.body.setOpenExternalLinks(False)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stats = muted("")
        self.copy_button = QPushButton(icon("copy"), "Copy")
        self.copy_button.setObjectName("flat")
        self.copy_button.clicked.connect(self.copy)
        header = QHBoxLayout()
        header.addWidget(self.who)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.M, Space.S, Space.M, Space.S)
        layout.addLayout(header)
        layout.addWidget(self.body)
        layout.addWidget(self.stats)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render)
        self._render()
        if role == "assistant" and not text:
            self.stats.setText("Thinking…")

    @property
    def text(self) -> str:
        return self._text

    def append(self, delta: str) -> None:
        if not self._text:
            self.stats.setText("")  # text is streaming: no "Thinking…" under it
        self._text += delta
        if not self._render_timer.isActive():
            self._render_timer.start()

    def finish(self, stats: GenerationStats) -> None:
        self._render_timer.stop()
        self._render()
        self.stats.setText(stats.summary())

    def fail(self, message: str) -> None:
        self._render_timer.stop()
        self._render()
        self.stats.setObjectName("bad")
        self.stats.setText(message)
        self.stats.style().unpolish(self.stats)
        self.stats.style().polish(self.stats)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._text)

    def _render(self) -> None:
        self.body.setText(self._text or " ")
