"""The engine process's thinning of llama.cpp's per-tensor load progress, and its cancel."""

from __future__ import annotations

import threading
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from cocoon_desktop.engine.control import event_line, parse_line
from cocoon_desktop.engine.process.load_progress import LoadWatch


def test_first_then_steps_of_one_per_cent_then_the_end() -> None:
    reported: list[float] = []
    watch = LoadWatch(reported.append)
    for i in range(1001):  # a model of a thousand equal tensors
        assert watch(i / 1000) is True
    assert reported[0] == 0.0 and reported[-1] == 1.0
    assert 90 <= len(reported) <= 101
    assert reported == sorted(reported)


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=300))
def test_never_more_than_about_a_hundred_and_the_end_once(steps: list[float]) -> None:
    fractions = [*sorted(steps), 1.0]
    reported: list[float] = []
    watch = LoadWatch(reported.append)
    for fraction in fractions:
        watch(fraction)
    assert len(reported) <= 102
    assert reported.count(1.0) == 1 and reported[-1] == 1.0
    assert all(b - a >= 0.01 or b == 1.0 for a, b in pairwise(reported))


def test_cancel_from_another_thread_says_stop_at_the_next_call() -> None:
    watch = LoadWatch(lambda _fraction: None)
    assert watch(0.1) is True and not watch.cancelled
    thread = threading.Thread(target=watch.cancel)
    thread.start()
    thread.join()
    assert watch.cancelled
    assert watch(0.2) is False and watch(1.0) is False


def test_progress_travels_as_a_control_event() -> None:
    line = event_line("progress", fraction=0.4215)
    assert parse_line(line.encode()) == {"event": "progress", "fraction": 0.4215}
