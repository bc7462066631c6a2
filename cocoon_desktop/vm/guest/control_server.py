"""The guest's end of the control channel (see `vm/channel.py` for the protocol): one
authenticated host at a time, every event kept until the host acknowledges it."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from cocoon_desktop.vm.channel import (
    MAX_LINE_BYTES,
    ChannelError,
    Message,
    encode,
    read_message,
)

log = logging.getLogger(__name__)
MAX_UNACKED = 100_000  # beyond this the oldest events are dropped (and that is logged)
HELLO_TIMEOUT_S = 10.0
CommandHandler = Callable[[Message], Awaitable[None]]


class ControlServer:
    def __init__(self, token: str, hello: Callable[[], Message],
                 on_command: CommandHandler) -> None:
        self._token = token
        self._hello = hello
        self._on_command = on_command
        self._next_seq = 1
        self._unacked: deque[tuple[int, bytes]] = deque()
        self._writer: asyncio.StreamWriter | None = None
        self._server: asyncio.base_events.Server | None = None
        self.acked_all = asyncio.Event()
        self.acked_all.set()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port,
                                                  limit=MAX_LINE_BYTES)

    @property
    def unacknowledged(self) -> int:
        return len(self._unacked)

    def publish(self, event: str, **fields: Any) -> None:
        """Queue an event for the host (sent at once when it is connected)."""
        seq = self._next_seq
        self._next_seq += 1
        line = encode({"seq": seq, "event": event, **fields})
        self._unacked.append((seq, line))
        if len(self._unacked) > MAX_UNACKED:
            dropped, _ = self._unacked.popleft()
            log.error("the host has not acknowledged %d events: event %d dropped",
                      MAX_UNACKED, dropped)
        self.acked_all.clear()
        self._send(line)

    def notify(self, event: str, **fields: Any) -> None:
        """Send the latest state (a `status`): not numbered, not kept for a resend, since the
        next one replaces it; dropped while no host is connected."""
        self._send(encode({"event": event, **fields}))

    def _send(self, line: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(line)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            hello = await asyncio.wait_for(read_message(reader), HELLO_TIMEOUT_S)
            token = str((hello or {}).get("token", ""))
            if not hmac.compare_digest(token.encode(), self._token.encode()):
                log.warning("a connection to the control channel had a wrong token")
                return
            if self._writer is not None:
                self._writer.close()
            self._writer = writer
            writer.write(encode({"event": "hello", **self._hello()}))
            for _seq, line in self._unacked:
                writer.write(line)
            await writer.drain()
            await self._follow(reader)
        except (ChannelError, ConnectionError, TimeoutError) as exc:
            log.warning("the control channel broke: %s", exc)
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()

    async def _follow(self, reader: asyncio.StreamReader) -> None:
        while (message := await read_message(reader)) is not None:
            if isinstance(message.get("ack"), int):
                while self._unacked and self._unacked[0][0] <= message["ack"]:
                    self._unacked.popleft()
                if not self._unacked:
                    self.acked_all.set()
            elif isinstance(message.get("command"), str):
                await self._on_command(message)

    async def wait_acknowledged(self, timeout_s: float) -> bool:
        """True once the host has every event (False after `timeout_s`)."""
        try:
            await asyncio.wait_for(self.acked_all.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
