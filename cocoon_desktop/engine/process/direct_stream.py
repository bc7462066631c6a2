"""A streamed answer's text deltas written to the client's socket by the decode thread itself.

Why (issue 17, the N=1 overhead): waking the event loop for every token (the self-pipe, a pass
over the mailbox, a write through asyncio) cost about 200 µs of CPU per token, and that CPU is
taken from the decode, which runs on every core at the same moment: one sequence ran at 0.95 of
`llama-server`. Here the decode thread writes the ~150 bytes of a delta with one `os.write`
between two decodes, and the loop sleeps until there is something only it can do (the end of the
answer, a slow client, the counters a few times a second).

Order is kept by one rule, checked on the decode thread before each write: every delta it handed
to the loop has been written by the loop (`Generation.handed == Generation.written`, each counter
written by one thread only), and the transport's own buffer is empty. Otherwise the delta goes
through the loop as before. Everything else (the headers, the opening chunk, the end, errors) is
written by the loop, before the first direct write and after the last.

The socket is written through a duplicate of its descriptor, closed under a lock that every write
holds: once the handler closes the stream, no write can reach a descriptor number the process has
reused for another connection.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable


class DirectStream:
    """Frames and writes a stream's text events from the decode thread (see the module doc)."""

    def __init__(self, transport: asyncio.Transport, event: Callable[[str], bytes],
                 chunked: bool) -> None:
        """`event(text)` gives one SSE event's bytes; `chunked`: frame them as HTTP chunks."""
        self._transport = transport
        self._event = event
        self._chunked = chunked
        self._lock = threading.Lock()
        self._fd = os.dup(transport.get_extra_info("socket").fileno())

    @classmethod
    def open(cls, transport: asyncio.BaseTransport | None, event: Callable[[str], bytes],
             chunked: bool) -> DirectStream | None:
        """None where only the loop can write: no plain socket under the transport (TLS)."""
        if not isinstance(transport, asyncio.Transport) or transport.is_closing() or \
                transport.get_extra_info("sslcontext") is not None or \
                transport.get_extra_info("socket") is None:
            return None
        return cls(transport, event, chunked)

    def send(self, text: str) -> bytes | None:
        """Write `text`'s event (decode thread). None: nothing was written, the loop must write
        the delta. Bytes: the event went out, except these bytes the socket did not take (empty
        when it took all), which the loop must write before anything else."""
        data = self._event(text)
        if self._chunked:
            data = b"%x\r\n%b\r\n" % (len(data), data)
        with self._lock:
            transport = self._transport
            if self._fd < 0 or transport.is_closing() or transport.get_write_buffer_size():
                return None
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                return None
            except OSError:  # the client is gone: the loop's own write reports it
                self._close_locked()
                return None
        return data[written:]

    def close(self) -> None:
        """No write after this returns (the handler's end, on the loop)."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
