"""One request inside the engine service: its prepared form and the events its handler reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cocoon_desktop.engine.api import ApiError
from cocoon_desktop.engine.process.direct_stream import DirectStream
from cocoon_desktop.engine.process.inference_types import (
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
)
from cocoon_desktop.engine.process.openai_api import ApiRequest
from cocoon_desktop.engine.process.queue import Ticket

if TYPE_CHECKING:
    from cocoon_desktop.engine.process.inference import GenerationHandle


@dataclass(frozen=True)
class PreparedRequest:
    api: ApiRequest
    generation: GenerationRequest


class Generation:
    """One request inside the service; iterate it for the core's events, last one Finished."""

    def __init__(self, prepared: PreparedRequest, ticket: Ticket) -> None:
        self.prepared = prepared
        self.ticket = ticket
        self.handle: GenerationHandle | None = None
        self.finished = False
        self.stopped_by_engine = False  # cancelled because the engine is stopping
        self.completion_tokens = 0
        self.started_at = time.monotonic()
        # bytes: the rest of a delta the decode thread wrote in part, for the handler to write.
        self._events: asyncio.Queue[GenerationEvent | bytes | ApiError] = asyncio.Queue()
        # Set by a streaming handler once its headers are out: the decode thread may then write
        # text deltas itself, while `handed` (deltas and rests it handed to the loop; decode
        # thread only) equals `written` (those the handler wrote; loop only).
        self.direct: DirectStream | None = None
        self.handed = 0
        self.written = 0

    def deliver(self, event: GenerationEvent | bytes | ApiError) -> None:
        if isinstance(event, GenerationFinished | ApiError):
            self.finished = True
        self._events.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[GenerationEvent | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[GenerationEvent | bytes]:
        while True:
            event = await self._events.get()
            if isinstance(event, ApiError):
                raise event
            yield event
            if isinstance(event, GenerationFinished):
                return
