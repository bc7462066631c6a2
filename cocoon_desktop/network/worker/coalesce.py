"""Fewer, fuller answer parts when the engine outpaces the link, with a bound on any wait.

Each piece the engine streams (a token, as a server-sent event) would otherwise cost one
`proxy.queryAnswerPartEx`, one TLS record and one wake-up of the proxy and of the client.
`PartCoalescer` sends bytes at once when this request's last part left at least `hold_s` ago
(an engine slower than one piece per `hold_s`: nothing waits), and otherwise holds them until
`hold_s` after that part, when everything that came meanwhile leaves as one part. So a request
sends at most one part per `hold_s`, and no byte waits longer than `hold_s` for its part.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

HOLD_S = 0.005  # the longest a piece of an answer waits for others to join it


class PartCoalescer:
    """Joins one request's answer bytes into parts; `send` queues one part (it must not block).

    A failure of `send` from the timer is kept and raised by the next `add` or `take`."""

    def __init__(self, send: Callable[[bytes], None], hold_s: float = HOLD_S,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._send = send
        self.hold_s = hold_s
        self._loop = loop or asyncio.get_running_loop()
        self._held: list[bytes] = []
        self._last_sent_at = -math.inf
        self._timer: asyncio.TimerHandle | None = None
        self._failure: Exception | None = None

    def add(self, data: bytes) -> None:
        """Send `data` now, or hold it for at most `hold_s` (with what is already held)."""
        self._raise_failure()
        if not data:
            return
        self._held.append(data)
        if self._timer is not None:
            return  # a part is already due; this joins it
        due = self._last_sent_at + self.hold_s
        if self._loop.time() >= due:
            self._flush()
            self._raise_failure()
        else:
            self._timer = self._loop.call_at(due, self._flush)

    def take(self) -> bytes:
        """Everything held, for the caller to send itself (the answer's last part)."""
        self._raise_failure()
        self._cancel_timer()
        data = b"".join(self._held)
        self._held.clear()
        return data

    def close(self) -> None:
        """Drop what is held and the pending timer (the request ended some other way)."""
        self._cancel_timer()
        self._held.clear()

    def _flush(self) -> None:
        self._timer = None
        data = b"".join(self._held)
        self._held.clear()
        self._last_sent_at = self._loop.time()
        try:
            self._send(data)
        except Exception as exc:  # raised to the request by its next add() or take()
            self._failure = exc

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
