"""Who gets the next free sequence: the bounded FIFO queue in front of the inference core.

The rule, in full:
- The core decodes up to `capacity` requests together. A request that finds a free sequence starts
  at once; otherwise it waits in one FIFO queue. A running request is never interrupted.
- When a sequence frees, the oldest waiting request that may run takes it.
- Lanes: requests of the app's chat window (`X-Cocoon-Lane: chat`) hold at most one sequence at a
  time; network jobs may hold every sequence. A waiting chat request that may not run yet does not
  block the network jobs behind it, and a network job never jumps ahead of a chat request that may
  run. So network jobs cannot starve the chat (it gets the next free sequence when its turn comes)
  and the chat cannot starve network jobs (it never holds more than one sequence).
- The queue holds at most `max_queued` requests; one more request is refused (the server answers
  503 with a retry hint). One extra place is kept for the chat lane, so a queue full of network
  jobs never turns the local user away.

Pure bookkeeping, no asyncio, no threads: the engine service drives it from its event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import count

from cocoon_desktop.engine.api import Lane

CHAT_LANE_MAX_ACTIVE = 1

_ticket_numbers = count(1)


class QueueFull(Exception):
    """Every sequence is busy and the waiting queue is full."""


@dataclass(eq=False)
class Ticket:
    """One request's place: waiting, then holding a sequence until released."""

    lane: Lane = Lane.NETWORK
    number: int = field(default_factory=lambda: next(_ticket_numbers))


class AdmissionQueue:
    def __init__(self, capacity: int, max_queued: int) -> None:
        if capacity < 1 or max_queued < 0:
            raise ValueError("capacity must be at least 1 and max_queued at least 0")
        self.capacity = capacity
        self.max_queued = max_queued
        self._waiting: deque[Ticket] = deque()
        self._active: set[Ticket] = set()

    @property
    def active_count(self) -> int:
        return len(self._active)

    @property
    def queued_count(self) -> int:
        return len(self._waiting)

    def active_in_lane(self, lane: Lane) -> int:
        return sum(1 for t in self._active if t.lane is lane)

    def is_active(self, ticket: Ticket) -> bool:
        return ticket in self._active

    def submit(self, ticket: Ticket) -> bool:
        """True: `ticket` holds a sequence now. False: it waits. Raises `QueueFull`."""
        if self._may_run(ticket) and not any(self._may_run(t) for t in self._waiting):
            self._active.add(ticket)
            return True
        if not self._has_room_for(ticket):
            raise QueueFull
        self._waiting.append(ticket)
        return False

    def release(self, ticket: Ticket) -> list[Ticket]:
        """Free `ticket`'s sequence; return the waiting tickets that hold one now, oldest first."""
        self._active.discard(ticket)
        return self.admit_waiting()

    def withdraw(self, ticket: Ticket) -> bool:
        """Remove a waiting ticket (its client left). False when it was not waiting."""
        try:
            self._waiting.remove(ticket)
        except ValueError:
            return False
        return True

    def requeue_front(self, ticket: Ticket) -> None:
        """Put an admitted ticket back at the head (the core had no sequence after all)."""
        self._active.discard(ticket)
        self._waiting.appendleft(ticket)

    def admit_waiting(self) -> list[Ticket]:
        admitted = []
        for ticket in list(self._waiting):
            if len(self._active) >= self.capacity:
                break
            if self._may_run(ticket):
                self._waiting.remove(ticket)
                self._active.add(ticket)
                admitted.append(ticket)
        return admitted

    def drain_waiting(self) -> list[Ticket]:
        """Remove and return every waiting ticket (the engine is stopping)."""
        waiting = list(self._waiting)
        self._waiting.clear()
        return waiting

    def _may_run(self, ticket: Ticket) -> bool:
        if len(self._active) >= self.capacity:
            return False
        return ticket.lane is not Lane.CHAT or \
            self.active_in_lane(Lane.CHAT) < CHAT_LANE_MAX_ACTIVE

    def _has_room_for(self, ticket: Ticket) -> bool:
        if len(self._waiting) < self.max_queued:
            return True
        chat_waiting = any(t.lane is Lane.CHAT for t in self._waiting)
        return ticket.lane is Lane.CHAT and not chat_waiting and \
            len(self._waiting) < self.max_queued + 1
