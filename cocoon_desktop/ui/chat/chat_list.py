"""The chat's conversation list (kept across launches, like LM Studio's): New chat, the list
newest first, and Delete."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import muted
from cocoon_desktop.ui_logic.chat_store import ChatSummary


def when(updated_at: float, now: float | None = None) -> str:
    """"14:05" today, else "3 Dec"."""
    now = now or time.time()
    same_day = time.localtime(updated_at)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M" if same_day else "%d %b", time.localtime(updated_at))


class ChatList(QWidget):
    chat_chosen = Signal(str)  # a chat id
    delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button = QPushButton("New chat")
        self.new_button.setObjectName("primary")
        self.list = QListWidget()
        self.list.setObjectName("chats")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.delete_button = QPushButton(icon("trash"), "Delete")
        self.delete_button.setEnabled(False)
        self.empty = muted("Your conversations are kept here.")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(Space.S)
        layout.addWidget(self.new_button)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self.list.itemClicked.connect(self._on_item_clicked)
        self.list.currentItemChanged.connect(
            lambda item, _old: self.delete_button.setEnabled(item is not None))
        self.delete_button.clicked.connect(self._on_delete_clicked)

    def show_chats(self, chats: list[ChatSummary], current: str) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for chat in chats:
            item = QListWidgetItem(f"{chat.title}\n{when(chat.updated_at)} · "
                                   f"{chat.messages} messages")
            item.setData(Qt.ItemDataRole.UserRole, chat.chat_id)
            self.list.addItem(item)
            if chat.chat_id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.delete_button.setEnabled(self.list.currentItem() is not None)
        self.empty.setVisible(not chats)

    def select(self, chat_id: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == chat_id:
                self.list.setCurrentItem(item)
                return
        self.list.setCurrentItem(None)

    def chat_ids(self) -> list[str]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())]

    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        self.chat_chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def _on_delete_clicked(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.delete_requested.emit(item.data(Qt.ItemDataRole.UserRole))
