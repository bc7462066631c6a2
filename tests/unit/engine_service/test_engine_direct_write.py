"""A streamed answer's text deltas may go straight to the client's connection from the loop's
pass over the engine's events (issue 17: the N=1 overhead). When that writer declines (a slow
client, a closing connection), deltas queue for the handler, and no later delta may overtake
one that waits there."""

from __future__ import annotations

from cocoon_desktop.engine.process.inference_types import (
    GenerationFinished,
    GenerationRequest,
    SamplingParams,
    TokenDelta,
)
from cocoon_desktop.engine.process.openai_api import ApiRequest, Endpoint
from cocoon_desktop.engine.process.queue import Ticket
from cocoon_desktop.engine.process.service import Generation, PreparedRequest


def generation() -> Generation:
    api = ApiRequest(Endpoint.CHAT, "m", stream=True, include_usage=False, max_tokens=8)
    request = GenerationRequest("r", (1, 2), SamplingParams(max_tokens=8, temperature=0.0))
    return Generation(PreparedRequest(api, request), Ticket())


class Client:
    """A connection that takes writes while `open` and declines them otherwise."""

    def __init__(self) -> None:
        self.open = True
        self.received: list[str] = []

    def write(self, text: str) -> bool:
        if self.open:
            self.received.append(text)
        return self.open


async def drained(gen: Generation) -> list[str]:
    return [e.text if isinstance(e, TokenDelta) else "<end>" async for e in gen]


async def test_deltas_go_straight_to_the_client_while_it_takes_them() -> None:
    gen, client = generation(), Client()
    gen.write_text = client.write
    for i, text in enumerate(["a", "b", "c"], 1):
        gen.deliver(TokenDelta(text, i))
    gen.deliver(GenerationFinished("stop", 2, 0, 3))

    assert client.received == ["a", "b", "c"]
    assert await drained(gen) == ["<end>"]  # the handler sees only the end


async def test_a_declined_delta_keeps_its_place_before_later_ones() -> None:
    gen, client = generation(), Client()
    gen.write_text = client.write
    gen.deliver(TokenDelta("a", 1))
    client.open = False
    gen.deliver(TokenDelta("b", 2))  # declined: queued for the handler
    client.open = True
    gen.deliver(TokenDelta("c", 3))  # would be taken, but "b" waits: queued behind it
    gen.deliver(GenerationFinished("stop", 2, 0, 3))

    assert client.received == ["a"]
    assert await drained(gen) == ["b", "c", "<end>"]
