"""A byte relay from the guest's network address to the engine's loopback listener.

The engine binds 127.0.0.1 inside the guest (as on the host) with a new port per launch; QEMU's
host forward reaches the guest's network address, so this relay listens there on a fixed port
and connects each client to the engine of the moment. It only moves bytes: the engine's own
bearer token still guards every request, and nothing is logged about what passes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from urllib.parse import urlsplit

from cocoon_desktop.engine.types import EngineEndpoint

CHUNK_BYTES = 1 << 16


class PortRelay:
    def __init__(self, target: Callable[[], EngineEndpoint | None]) -> None:
        self._target = target
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoint = self._target()
        if endpoint is None:  # not ready: the client sees the connection close and retries
            writer.close()
            return
        url = urlsplit(endpoint.base_url)
        try:
            up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        for stream in (writer, up_writer):
            stream.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(CHUNK_BYTES):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:  # pass the end on (a half close), the other direction may still be busy
        with contextlib.suppress(Exception):
            if sink.can_write_eof():
                sink.write_eof()
