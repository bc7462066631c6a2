"""The chat window driven through its real adapters and the real engine (bundled model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.ui.chat.chat_window import ChatWindow
from cocoon_desktop.ui.controllers.chat import ChatController
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui_logic.chat import GenerationParams

ANSWER_TIMEOUT_MS = 180_000


def make_window(qtbot: Any, controller: ChatController) -> ChatWindow:
    window = ChatWindow(controller)
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.mark.engine
def test_chat_streams_stops_regenerates_and_clears(qtbot: Any, engine_controller: Any) -> None:
    controller = ChatController(engine_controller.chat_backend, "Answer in one short sentence.",
                                GenerationParams(temperature=0.0, top_p=1.0, max_tokens=24))
    window = make_window(qtbot, controller)
    deltas: list[str] = []
    controller.delta_received.connect(deltas.append)

    qtbot.keyClicks(window.input, "What is the capital of France?")
    with qtbot.waitSignal(controller.answer_finished, timeout=ANSWER_TIMEOUT_MS) as finished:
        qtbot.keyClick(window.input, Qt.Key.Key_Return)
        assert window.input.toPlainText() == ""
        assert not window.send_button.isEnabled() and window.stop_button.isEnabled()
    stats = finished.args[0]
    assert engine_controller.status.state is EngineState.READY
    assert [m.role for m in window.messages] == ["user", "assistant"]
    answer = window.messages[-1]
    assert answer.text.strip() and answer.text == "".join(deltas)
    assert answer.text == controller.conversation.messages[-1].content
    assert stats.completion_tokens > 0 and stats.prompt_tokens and stats.prompt_tokens > 10
    assert stats.tokens_per_s and stats.tokens_per_s > 0
    assert "tok/s" in answer.stats.text() and "tok/s" in window.live.text()
    assert window.regenerate_button.isEnabled() and not window.stop_button.isEnabled()
    answer.copy()
    assert QGuiApplication.clipboard().text() == answer.text

    # Stop mid-stream: the answer ends where it was, marked stopped.
    window.params.max_tokens.setValue(1500)
    window.input.setPlainText("Write a long story about a cat who sails around the world.")
    deltas.clear()
    with qtbot.waitSignal(controller.answer_finished, timeout=ANSWER_TIMEOUT_MS) as stopped:
        window.send_button.click()
        qtbot.waitUntil(lambda: len(deltas) >= 5, timeout=ANSWER_TIMEOUT_MS)
        window.stop_button.click()
    assert stopped.args[0].finish_reason == "stopped"
    assert 5 <= stopped.args[0].completion_tokens < 1500
    assert window.messages[-1].stats.text().endswith("stopped")

    # Regenerate replaces the last answer; the user's message stays.
    window.params.max_tokens.setValue(16)
    with qtbot.waitSignal(controller.answer_finished, timeout=ANSWER_TIMEOUT_MS):
        window.regenerate_button.click()
    qtbot.waitUntil(lambda: len(window.messages) == 4)
    assert [m.role for m in window.messages] == ["user", "assistant", "user", "assistant"]
    assert [m.role for m in controller.conversation.messages] == [
        "user", "assistant", "user", "assistant"]

    window.clear_button.click()
    qtbot.waitUntil(lambda: window.list_layout.count() == 1)
    assert window.messages == [] and controller.conversation.messages == []
    assert not window.regenerate_button.isEnabled()


def test_engine_that_cannot_start_is_explained(qtbot: Any, tmp_path: Path,
                                                node_factory: Any) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")
    engine = EngineController(node_factory(model_path=str(broken)))
    controller = ChatController(engine.chat_backend)
    window = make_window(qtbot, controller)
    window.input.setPlainText("hello")
    with qtbot.waitSignal(controller.answer_failed, timeout=30_000) as failed:
        window.send_button.click()
    assert "broken.gguf is not a GGUF model" in failed.args[0]
    assert failed.args[0] in window.error.text()
    assert engine.status.state is EngineState.CRASHED and engine.status.gave_up
    assert window.send_button.isEnabled()


def test_empty_message_and_parameters_are_refused(qtbot: Any, run_async: Any) -> None:
    async def never() -> Any:
        raise AssertionError("no request should be made")

    controller = ChatController(never)
    window = make_window(qtbot, controller)
    window.send_current()
    assert "Type a message" in window.error.text()
    assert window.messages == []
    window.regenerate_button.setEnabled(True)
    window.regenerate_button.click()
    assert "no message to answer again" in window.error.text()
