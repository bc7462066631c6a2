"""The control channel between the host and the guest agent: JSON lines over one TCP stream
(QEMU's user-mode forward, bound to the host's 127.0.0.1), token first.

    host -> guest   {"hello": 1, "token": "..."}            first line, or the guest hangs up
    guest -> host   {"seq": 0, "event": "hello", "measurement": {...}, ...}
    guest -> host   {"seq": N, "event": "...", ...}         worker events, engine state, status
    host -> guest   {"ack": N}                              N and everything before is recorded
    host -> guest   {"command": "stop", "drain_timeout_s": 30} | {"command": "pause"} | ...

The guest keeps every event until the host acknowledges it and sends the unacknowledged ones
again when the host reconnects, so a restart of the app loses no finished request. What
crosses the channel are counts, hashes and signed statements: never a prompt or an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cocoon_desktop.core.tasks import TaskSet

MAX_LINE_BYTES = 1 << 20
PROTOCOL_VERSION = 1
Message = dict[str, Any]
log = logging.getLogger(__name__)


class ChannelError(Exception):
    """The channel broke or the other side spoke nonsense; the text says which."""


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


async def read_message(reader: asyncio.StreamReader) -> Message | None:
    """The next message; None at the end of the stream."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ChannelError("The channel closed in the middle of a message.") from None
        return None
    except asyncio.LimitOverrunError:
        raise ChannelError(f"A message is longer than {MAX_LINE_BYTES} bytes.") from None
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ChannelError("A message on the channel is not JSON.") from None
    if not isinstance(message, dict):
        raise ChannelError("A message on the channel is not a JSON object.")
    return message


EventHandler = Callable[[Message], None]


class ControlClient:
    """The host's end: connect, authenticate, hand each event to `on_event`, then ask
    `stored` whether everything handed on so far is stored (e.g. in the ledger) and only then
    acknowledge it. An acknowledgement covers every event before it, so while `stored` says
    no nothing more is acknowledged: the guest keeps those events and sends them again if the
    app dies first (the ledger ignores a request id it has). `settle()` asks again (the
    caller does, once a store is there). An event the handler cannot take is logged and
    counts as handed on: sending the same bytes again would not help. An event sent again
    after a reconnect that this client already handed on is not handed on twice."""

    def __init__(self, host: str, port: int, token: str, on_event: EventHandler,
                 stored: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.host, self.port = host, port
        self._token = token
        self._on_event = on_event
        self._stored = stored
        self._writer: asyncio.StreamWriter | None = None
        self._tasks = TaskSet("the VM's control channel")
        self._received = 0  # the highest event number handed on
        self._acknowledged = 0
        self._settling = asyncio.Lock()
        self.hello: Message | None = None
        self.closed = asyncio.Event()

    async def connect(self, timeout_s: float, retry_s: float = 0.5) -> Message:
        """Connect (retrying while the guest boots) and authenticate; the guest's hello."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last_error = "the guest did not answer"
        while loop.time() < deadline:
            try:
                return await asyncio.wait_for(self._open(), max(0.1, deadline - loop.time()))
            except (OSError, ChannelError, TimeoutError) as exc:
                last_error = str(exc) or type(exc).__name__
                await asyncio.sleep(retry_s)
        raise ChannelError(f"The guest's control channel did not answer within "
                           f"{timeout_s:.0f} s ({last_error}).")

    async def _open(self) -> Message:
        reader, writer = await asyncio.open_connection(self.host, self.port,
                                                       limit=MAX_LINE_BYTES)
        writer.write(encode({"hello": PROTOCOL_VERSION, "token": self._token}))
        await writer.drain()
        hello = await read_message(reader)
        if hello is None or hello.get("event") != "hello":
            writer.close()
            raise ChannelError("The guest refused the channel token or is not ready yet.")
        self.hello, self._writer = hello, writer
        self.closed.clear()
        self._tasks.spawn(self._read(reader), name="vm-control-reader")
        return hello

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (message := await read_message(reader)) is not None:
                seq = message.get("seq")
                numbered = isinstance(seq, int) and not isinstance(seq, bool)
                if numbered and seq <= self._received:
                    await self.settle()  # sent again after a reconnect: handed on before
                    continue
                try:
                    self._on_event(message)
                except Exception:
                    log.exception("a VM event could not be handled: %s", message.get("event"))
                if numbered:
                    self._received = seq
                    await self.settle()
        except (ChannelError, ConnectionError) as exc:
            log.warning("the VM's control channel broke: %s", exc)
        finally:
            self.closed.set()

    async def settle(self) -> bool:
        """Acknowledge every event handed on, if `stored` says they are stored; True when
        nothing handed on waits for an acknowledgement."""
        async with self._settling:
            received = self._received
            if received <= self._acknowledged:
                return True
            try:
                stored = await self._stored() if self._stored is not None else True
            except Exception:
                log.exception("the VM's events could not be stored; they stay unacknowledged")
                stored = False
            if not stored:
                return False
            try:
                await self.send({"ack": received})
            except (ChannelError, ConnectionError) as exc:
                log.warning("the VM's events were stored but not acknowledged (%s): the guest "
                            "sends them again", exc)
                return False
            self._acknowledged = received
            return True

    async def send(self, message: Message) -> None:
        if self._writer is None or self._writer.is_closing():
            raise ChannelError("The control channel is not connected.")
        self._writer.write(encode(message))
        await self._writer.drain()

    async def command(self, name: str, **fields: Any) -> None:
        await self.send({"command": name, **fields})

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
        await self._tasks.cancel_all()
        self.closed.set()
