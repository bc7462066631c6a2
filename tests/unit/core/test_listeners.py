"""Listeners: every listener hears every value, in order, and one failing never stops the rest."""

from __future__ import annotations

import logging

import pytest

from cocoon_desktop.core.listeners import Listeners


def test_each_listener_gets_each_value_and_can_unsubscribe() -> None:
    listeners: Listeners[int] = Listeners("numbers")
    first: list[int] = []
    second: list[int] = []
    unsubscribe = listeners.add(first.append)
    listeners.add(second.append)
    listeners.emit(1)
    unsubscribe()
    unsubscribe()  # twice is harmless
    listeners.emit(2)
    assert (first, second, len(listeners)) == ([1], [1, 2], 1)


def test_a_failing_listener_is_logged_and_the_others_still_hear(
        caplog: pytest.LogCaptureFixture) -> None:
    listeners: Listeners[str] = Listeners("notices")
    heard: list[str] = []

    def broken(_value: str) -> None:
        raise RuntimeError("listener bug")

    listeners.add(broken)
    listeners.add(heard.append)
    with caplog.at_level(logging.ERROR):
        listeners.emit("hello")
    assert heard == ["hello"]
    assert "a listener of notices failed" in caplog.text


def test_a_listener_may_unsubscribe_while_being_called() -> None:
    listeners: Listeners[int] = Listeners("numbers")
    heard: list[int] = []
    unsubscribe = listeners.add(lambda v: (heard.append(v), unsubscribe()))
    listeners.emit(1)
    listeners.emit(2)
    assert heard == [1]
