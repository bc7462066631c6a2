"""The admission rule: bounded FIFO, no preemption, one sequence at most for the chat lane."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cocoon_desktop.engine.api import Lane
from cocoon_desktop.engine.process.queue import AdmissionQueue, QueueFull, Ticket


def tickets(*lanes: Lane) -> list[Ticket]:
    return [Ticket(lane) for lane in lanes]


def test_requests_start_until_capacity_then_wait_in_order() -> None:
    queue = AdmissionQueue(capacity=2, max_queued=3)
    a, b, c, d = tickets(*[Lane.NETWORK] * 4)
    assert [queue.submit(t) for t in (a, b, c, d)] == [True, True, False, False]
    assert (queue.active_count, queue.queued_count) == (2, 2)
    assert queue.release(b) == [c]  # the oldest waiting request takes the freed sequence
    assert queue.release(a) == [d]
    assert queue.release(c) == [] and queue.active_count == 1


def test_a_full_queue_refuses_and_a_running_request_is_never_displaced() -> None:
    queue = AdmissionQueue(capacity=1, max_queued=1)
    running, waiting, extra = tickets(Lane.NETWORK, Lane.NETWORK, Lane.NETWORK)
    queue.submit(running)
    queue.submit(waiting)
    with pytest.raises(QueueFull):
        queue.submit(extra)
    assert queue.is_active(running) and not queue.is_active(waiting)


def test_the_chat_lane_holds_at_most_one_sequence() -> None:
    queue = AdmissionQueue(capacity=4, max_queued=4)
    chat1, chat2 = tickets(Lane.CHAT, Lane.CHAT)
    assert queue.submit(chat1) is True
    assert queue.submit(chat2) is False  # three sequences are free, but the lane is busy
    assert queue.active_in_lane(Lane.CHAT) == 1
    assert queue.release(chat1) == [chat2]


def test_a_waiting_chat_request_does_not_block_network_jobs_behind_it() -> None:
    queue = AdmissionQueue(capacity=2, max_queued=4)
    chat1, chat2, job = tickets(Lane.CHAT, Lane.CHAT, Lane.NETWORK)
    queue.submit(chat1)
    queue.submit(chat2)
    assert queue.submit(job) is True  # the free sequence goes to the job, chat2 may not run


def test_network_jobs_do_not_starve_the_chat() -> None:
    queue = AdmissionQueue(capacity=2, max_queued=8)
    busy = tickets(Lane.NETWORK, Lane.NETWORK)
    for t in busy:
        queue.submit(t)
    chat, later_job = tickets(Lane.CHAT, Lane.NETWORK)
    queue.submit(chat)
    queue.submit(later_job)
    assert queue.release(busy[0]) == [chat]  # the chat came first, so it goes first


def test_one_extra_queue_place_is_kept_for_the_chat() -> None:
    queue = AdmissionQueue(capacity=1, max_queued=1)
    running, waiting, chat, chat2, job = tickets(Lane.NETWORK, Lane.NETWORK, Lane.CHAT,
                                                 Lane.CHAT, Lane.NETWORK)
    queue.submit(running)
    queue.submit(waiting)
    assert queue.submit(chat) is False  # network jobs filled the queue, the chat still gets in
    for refused in (chat2, job):
        with pytest.raises(QueueFull):
            queue.submit(refused)


def test_a_client_that_leaves_gives_up_its_place() -> None:
    queue = AdmissionQueue(capacity=1, max_queued=2)
    running, leaver, stayer = tickets(Lane.NETWORK, Lane.NETWORK, Lane.NETWORK)
    for t in (running, leaver, stayer):
        queue.submit(t)
    assert queue.withdraw(leaver) is True
    assert queue.withdraw(running) is False  # not waiting: it must be cancelled instead
    assert queue.release(running) == [stayer]


def test_requeue_front_and_drain() -> None:
    queue = AdmissionQueue(capacity=1, max_queued=2)
    first, second = tickets(Lane.NETWORK, Lane.NETWORK)
    queue.submit(first)
    queue.submit(second)
    queue.requeue_front(first)  # the core had no sequence after all
    assert queue.active_count == 0
    assert queue.admit_waiting() == [first]
    assert queue.drain_waiting() == [second] and queue.queued_count == 0


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        AdmissionQueue(capacity=0, max_queued=1)


operations = st.lists(st.tuples(st.sampled_from(["submit", "release", "withdraw"]),
                                st.sampled_from(list(Lane)), st.integers(0, 30)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(1, 4), max_queued=st.integers(0, 4), ops=operations)
def test_invariants_hold_for_any_sequence_of_events(capacity: int, max_queued: int,
                                                    ops: list[tuple[str, Lane, int]]) -> None:
    queue = AdmissionQueue(capacity, max_queued)
    started: list[Ticket] = []
    known: list[Ticket] = []
    for op, lane, pick in ops:
        if op == "submit":
            ticket = Ticket(lane)
            try:
                if queue.submit(ticket):
                    started.append(ticket)
                known.append(ticket)
            except QueueFull:
                assert queue.queued_count >= max_queued
        elif known:
            ticket = known[pick % len(known)]
            if op == "release" and queue.is_active(ticket):
                started += queue.release(ticket)
            elif op == "withdraw":
                queue.withdraw(ticket)
        assert queue.active_count <= capacity
        assert queue.active_in_lane(Lane.CHAT) <= 1
        assert queue.queued_count <= max_queued + 1
        # Work-conserving: nobody waits who could run.
        if queue.active_count < capacity:
            assert queue.admit_waiting() == []
    # Network jobs started in the order they arrived.
    numbers = [t.number for t in started if t.lane is Lane.NETWORK]
    assert numbers == sorted(numbers)
