"""The test chat: talk to the local model, whether or not the app serves network jobs.

Conversations are kept (the list on the left: New chat, open one, Delete); the sampling
settings on the right are saved with the app's settings."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.ui.chat.chat_list import ChatList
from cocoon_desktop.ui.chat.message_widget import MessageWidget
from cocoon_desktop.ui.chat.params_panel import ParamsPanel
from cocoon_desktop.ui.controllers.chat import ChatController
from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import StateLabel
from cocoon_desktop.ui_logic.chat import ChatInputError, GenerationStats


class ChatWindow(QWidget):
    def __init__(self, controller: ChatController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cocoon Desktop: test chat")
        self.resize(1100, 700)
        self.controller = controller
        self.messages: list[MessageWidget] = []
        self.chats = ChatList()
        self.engine_status = StateLabel("The engine starts with your first message.")
        self.params = ParamsPanel(controller.conversation.system_prompt, controller.params)
        self.copy_all_button = QPushButton(icon("copy"), "Copy conversation")
        self.params.layout().addWidget(self.copy_all_button)
        self.list_widget = QWidget()
        self.list_layout = QVBoxLayout(self.list_widget)
        self.list_layout.addStretch(1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.list_widget)
        self._stick_to_end = True
        bar = self.scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._on_scroll_range_changed)
        bar.valueChanged.connect(self._on_scroll_value_changed)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText(
            "Message the local model (Enter sends, Shift+Enter adds a line)")
        self.input.setFixedHeight(80)
        self.input.installEventFilter(self)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primary")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.regenerate_button = QPushButton("Regenerate")
        self.clear_button = self.chats.new_button
        self.live = QLabel("")
        self.live.setObjectName("muted")
        self.live.setWordWrap(True)  # a long figures line wraps; it never widens the window
        self.error = StateLabel()
        self._build_layout()
        self._connect()
        self._on_busy_changed(False)

    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.live, 1)
        for button in (self.regenerate_button, self.stop_button, self.send_button):
            buttons.addWidget(button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(Space.S)
        column.addWidget(self.engine_status)
        column.addWidget(self.scroll, 1)
        column.addWidget(self.error)
        column.addWidget(self.input)
        column.addLayout(buttons)
        splitter = QSplitter()
        splitter.addWidget(self.chats)
        splitter.addWidget(left)
        splitter.addWidget(self.params)
        splitter.setSizes([220, 640, 220])
        splitter.setChildrenCollapsible(False)
        self.chats.setMaximumWidth(320)
        self.params.setMaximumWidth(300)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(Space.L, Space.L, Space.L, Space.L)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        c = self.controller
        self.send_button.clicked.connect(self.send_current)
        self.stop_button.clicked.connect(c.stop)
        self.regenerate_button.clicked.connect(self._on_regenerate_clicked)
        self.clear_button.clicked.connect(c.clear)
        self.copy_all_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(c.conversation.as_markdown()))
        self.params.params_edited.connect(c.set_params)
        self.params.system_prompt_edited.connect(c.set_system_prompt)
        c.user_message_added.connect(lambda text: self._add_message("user", text))
        c.answer_started.connect(self._on_answer_started)
        c.delta_received.connect(self._on_delta_received)
        c.answer_finished.connect(self._on_answer_finished)
        c.answer_failed.connect(self._on_answer_failed)
        c.busy_changed.connect(self._on_busy_changed)
        c.conversation_cleared.connect(self._on_conversation_cleared)
        c.conversation_opened.connect(self.show_conversation)
        c.params_changed.connect(lambda: self.params.show_params(c.params))
        c.conversations_listed.connect(lambda chats: self.chats.show_chats(chats, c.chat_id))
        c.store_failed.connect(lambda text: self.error.set_state(text, "bad"))
        c.status_changed.connect(self.live.setText)
        self.chats.chat_chosen.connect(
            lambda chat_id: spawn(c.open_conversation(chat_id), name="chat.open"))
        self.chats.delete_requested.connect(
            lambda chat_id: spawn(c.delete_conversation(chat_id), name="chat.delete"))

    def set_engine_status(self, text: str, level: str = "") -> None:
        self.engine_status.set_state(text, level)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.input and isinstance(event, QKeyEvent):
            enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
            if event.type() == QEvent.Type.KeyPress and enter and not shift:
                self.send_current()
                return True
        return super().eventFilter(watched, event)

    def send_current(self) -> None:
        text = self.input.toPlainText()
        try:
            self.controller.send(text)
        except ChatInputError as exc:
            self.error.set_state(str(exc), "warn")
            return
        self.error.set_state("")
        self.input.clear()

    def _on_regenerate_clicked(self) -> None:
        try:
            self.controller.regenerate()
        except ChatInputError as exc:
            self.error.set_state(str(exc), "warn")

    def _add_message(self, role: str, text: str = "") -> MessageWidget:
        widget = MessageWidget(role, text)
        self.list_layout.insertWidget(self.list_layout.count() - 1, widget)
        self.messages.append(widget)
        self._scroll_to_end()
        return widget

    def _on_answer_started(self) -> None:
        while self.messages and self.messages[-1].role == "assistant":
            self.messages.pop().deleteLater()  # regenerate replaces the last answer
        self._add_message("assistant")

    def _on_delta_received(self, text: str) -> None:
        if self.messages:
            self.messages[-1].append(text)

    def _on_answer_finished(self, stats: GenerationStats) -> None:
        if self.messages:
            self.messages[-1].finish(stats)
        self.live.setText(stats.summary())

    def _on_answer_failed(self, message: str) -> None:
        if self.messages:
            self.messages[-1].fail(message)
        self.error.set_state(message, "bad")

    def _on_busy_changed(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        has_turns = self.controller.conversation.can_regenerate()
        self.regenerate_button.setEnabled(not busy and has_turns)

    def _on_conversation_cleared(self) -> None:
        self._remove_messages()
        self.chats.select(self.controller.chat_id)
        self.error.set_state("")
        self.live.setText("")
        self._on_busy_changed(self.controller.busy)

    def show_conversation(self) -> None:
        """Show the controller's conversation (one opened from the list)."""
        self._remove_messages()
        conversation = self.controller.conversation
        self.params.system_prompt.setPlainText(conversation.system_prompt)
        for message in conversation.messages:
            widget = self._add_message(message.role, message.content)
            if message.error:
                widget.fail(message.error)
            elif message.stats is not None:
                widget.finish(message.stats)
        self.chats.select(self.controller.chat_id)
        self.error.set_state("")
        self.live.setText("")
        self._on_busy_changed(self.controller.busy)

    def _remove_messages(self) -> None:
        for widget in self.messages:
            widget.deleteLater()
        self.messages.clear()

    def _scroll_to_end(self) -> None:
        self._stick_to_end = True
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_scroll_range_changed(self, _low: int, high: int) -> None:
        if self._stick_to_end:
            self.scroll.verticalScrollBar().setValue(high)

    def _on_scroll_value_changed(self, value: int) -> None:
        # Follow the answer while the user is at the end; stay put when they scrolled up.
        self._stick_to_end = value >= self.scroll.verticalScrollBar().maximum() - 24
