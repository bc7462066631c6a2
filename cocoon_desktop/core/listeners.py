"""Listeners: the one way a core object tells others what happened (statuses, events, notices).

    changed: Listeners[NodeStatus] = Listeners("node status")
    unsubscribe = changed.add(on_status)   # returns the function that removes it again
    changed.emit(status)                   # every listener, in order; one's failure is logged
                                           # and never reaches the emitter or the others

Listeners run on the emitter's thread (the event loop's, for everything in the node) and must
not block. The UI's adapters turn them into Qt signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Listeners(Generic[T]):
    def __init__(self, what: str) -> None:
        self.what = what
        self._listeners: list[Callable[[T], None]] = []

    def __len__(self) -> int:
        return len(self._listeners)

    def __contains__(self, listener: object) -> bool:
        return listener in self._listeners

    def add(self, listener: Callable[[T], None]) -> Callable[[], None]:
        """Call `listener` with every value from now on; returns a function that unsubscribes
        it (calling that twice is harmless)."""
        self._listeners.append(listener)
        return lambda: self.remove(listener)

    def remove(self, listener: Callable[[T], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, value: T) -> None:
        for listener in list(self._listeners):
            try:
                listener(value)
            except Exception:
                log.exception("a listener of %s failed", self.what)
