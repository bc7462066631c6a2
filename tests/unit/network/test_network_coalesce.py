"""`PartCoalescer`: answer pieces joined into fewer parts, none held longer than the bound.

The bound is checked on a virtual clock (the coalescer's only tie to the loop is `time()` and
`call_at()`), so it is exact on a busy machine where a real timer may fire late; the joining and
the no-wait case run on the real event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.network.worker.coalesce import PartCoalescer
from tests.unit.fuzz.conftest import budget

HOLD_S = 0.005


class Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """The two loop methods the coalescer uses, on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, Handle, Callable[[], None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        handle = Handle()
        heapq.heappush(self._due, (when, next(self._order), handle, callback))
        return handle

    def advance_to(self, moment: float) -> None:
        while self._due and self._due[0][0] <= moment:
            when, _, handle, callback = heapq.heappop(self._due)
            self.now = max(self.now, when)
            if not handle.cancelled:
                callback()
        self.now = max(self.now, moment)


@budget(200)
@given(st.lists(st.tuples(st.floats(0, 0.02), st.binary(min_size=1, max_size=8)),
                min_size=1, max_size=60))
def test_no_piece_waits_longer_than_the_bound_and_nothing_is_lost(arrivals) -> None:
    clock = VirtualClock()
    added: list[tuple[float, bytes]] = []
    sent: list[tuple[float, bytes]] = []
    parts = PartCoalescer(lambda data: sent.append((clock.now, data)), HOLD_S,
                          loop=clock)  # type: ignore[arg-type]
    for gap_s, piece in arrivals:
        clock.advance_to(clock.now + gap_s)
        parts.add(piece)
        added.append((clock.now, piece))
    clock.advance_to(clock.now + 1.0)
    assert parts.take() == b""  # everything left by its deadline
    assert b"".join(data for _, data in sent) == b"".join(piece for _, piece in added)
    assert max(waits_of(added, sent)) <= HOLD_S + 1e-12
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(sent)]
    assert all(gap >= HOLD_S - 1e-12 for gap in gaps)  # at most one part per bound


def waits_of(added: list[tuple[float, bytes]], sent: list[tuple[float, bytes]]) -> list[float]:
    """For each piece, how long it waited for the part that carried its first byte."""
    ends, total = [], 0
    for at_s, data in sent:  # where each part ends in the stream, and when it left
        total += len(data)
        ends.append((total, at_s))
    waits, start = [], 0
    for arrived_s, piece in added:
        departed_s = next(at_s for end, at_s in ends if end > start)
        waits.append(departed_s - arrived_s)
        start += len(piece)
    return waits


async def test_pieces_faster_than_the_bound_share_parts() -> None:
    sent: list[bytes] = []
    parts = PartCoalescer(sent.append, HOLD_S)
    pieces = [f"data: {{\"token\": {i}}}\n\n".encode() for i in range(100)]
    for piece in pieces:
        parts.add(piece)
        await asyncio.sleep(0)  # the engine's chunks arrive one loop turn apart
    rest = parts.take()
    assert b"".join(sent) + rest == b"".join(pieces)
    assert len(sent) < 20  # 100 pieces in a burst: the first at once, then joined


async def test_a_piece_after_a_quiet_spell_leaves_at_once() -> None:
    sent: list[bytes] = []
    parts = PartCoalescer(sent.append, HOLD_S)
    for i in range(5):
        parts.add(b"piece %d" % i)
        assert sent[-1] == b"piece %d" % i  # sent inside add(): it waited for nothing
        await asyncio.sleep(2 * HOLD_S)  # a slow engine (a busy machine only slows it more)
    assert parts.take() == b""


async def test_a_send_failure_in_the_timer_reaches_the_request() -> None:
    calls = 0

    def send(data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("the proxy went away")

    parts = PartCoalescer(send, HOLD_S)
    parts.add(b"first")  # at once
    parts.add(b"second")  # held, then the timer's send fails
    await asyncio.sleep(4 * HOLD_S)
    while calls < 2:
        await asyncio.sleep(HOLD_S)
    with pytest.raises(ConnectionError, match="went away"):
        parts.add(b"third")


async def test_close_drops_what_is_held_and_its_timer() -> None:
    sent: list[bytes] = []
    parts = PartCoalescer(sent.append, HOLD_S)
    parts.add(b"first")
    parts.add(b"held")
    parts.close()
    await asyncio.sleep(4 * HOLD_S)
    assert sent == [b"first"]
