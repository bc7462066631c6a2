"""Asking before the GPU moves to the confidential VM: the node waits for this answer, and only
a Yes lets it run the elevated helper (pkexec then asks for the password). No is the default
button: closing the question without an answer keeps the card here."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QMessageBox, QWidget

from cocoon_desktop.vm.gpu import PassthroughRequest

TITLE = "Pass the GPU to the confidential VM?"


async def ask_gpu_passthrough(parent: QWidget | None, request: PassthroughRequest) -> bool:
    """True only when the user answered Yes."""
    box = QMessageBox(QMessageBox.Icon.Question, TITLE, request.question,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setObjectName("gpu_consent")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def on_finished(_result: int) -> None:
        if not answer.done():
            answer.set_result(box.clickedButton() is box.button(QMessageBox.StandardButton.Yes))

    box.finished.connect(on_finished)
    box.open()
    try:
        return await answer
    finally:
        box.deleteLater()
