"""The guest worker's events on the host: handed to listeners as they come, and held until the
store (the earnings recorder) has them, since only then may the guest forget them.

The store is whoever the VM's owner names at the moment (`store()`); an event counts as stored
once that store follows these events (it was added as a listener) and has written all it got.
A listener added late gets the events not stored yet (`replay`): the recorder, attached once
serving is up, gets the guest worker's first handshakes too. What is still not stored when the
VM stops is named in the log: never dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cocoon_desktop.core.listeners import Listeners
from cocoon_desktop.core.tasks import run_blocking
from cocoon_desktop.network.worker.types import WorkerEvent

log = logging.getLogger(__name__)
NAMED_IN_LOG = 10
Listener = Callable[[WorkerEvent], None]


class EventStore(Protocol):
    """Where the events are kept (the earnings recorder)."""

    def on_worker_event(self, event: object) -> None: ...

    def flush(self) -> bool: ...


class GuestEvents:
    def __init__(self, store: Callable[[], EventStore | None] | None = None) -> None:
        self.store = store
        self.listeners: Listeners[WorkerEvent] = Listeners("the guest worker's events")
        self._unstored: list[WorkerEvent] = []

    @property
    def unstored(self) -> int:
        return len(self._unstored)

    def received(self, event: WorkerEvent) -> None:
        self._unstored.append(event)
        self.listeners.emit(event)

    def replay(self, listener: Listener) -> bool:
        """Give `listener` the events not stored yet, in order; True if there were any."""
        for event in list(self._unstored):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of the guest worker's events failed")
        return bool(self._unstored)

    def _written(self) -> bool:
        store = self.store() if self.store is not None else None
        if store is None or store.on_worker_event not in self.listeners:
            return False
        return store.flush()

    async def stored(self) -> bool:
        """Whether every event so far is stored (asked before each acknowledgement)."""
        count = len(self._unstored)
        if count == 0:
            return True
        if not await run_blocking(self._written):
            return False
        del self._unstored[:count]
        return True

    def report_unstored(self) -> bool:
        """Say in the log which events never reached the store (at the VM's stop); True if
        there were any. They are forgotten then: the guest that had them is gone."""
        if not self._unstored:
            return False
        names = ", ".join(_describe(e) for e in self._unstored[:NAMED_IN_LOG])
        more = len(self._unstored) - NAMED_IN_LOG
        log.error("%d event(s) of the guest worker were not stored before the VM stopped (no "
                  "earnings recorder took them): %s%s. The ledger misses them; a proxy's "
                  "statements are cumulative, so its next one still covers their tokens.",
                  len(self._unstored), names, f" and {more} more" if more > 0 else "")
        self._unstored = []
        return True

    def clear(self) -> None:
        self._unstored = []


def _describe(event: WorkerEvent) -> str:
    request_id = getattr(event, "request_id", None)
    if request_id is not None:
        return f"{type(event).__name__} {str(request_id)[:16]}"
    proxy_key = getattr(event, "proxy_key", None) or ""
    return f"{type(event).__name__} of proxy {str(proxy_key)[:12]}"
