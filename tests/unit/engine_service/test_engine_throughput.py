"""The engine's throughput is tokens per second of generating time: an answer that streamed at
53 tokens/s reads 53 afterwards, not 53 spread over the 10 s window (issue 15: "2.6 tokens/s
right after the chat streamed at 53 tok/s")."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.stats import ThroughputMeter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stream(meter: ThroughputMeter, clock: Clock, tokens: int, per_s: float, width: int = 1
           ) -> None:
    """`tokens` steps at `per_s` steps a second, `width` sequences decoded together."""
    for _ in range(tokens):
        clock.now += 1 / per_s
        for _ in range(width):
            meter.add(1)


def test_a_finished_answer_reads_its_own_speed_not_the_window_average() -> None:
    clock = Clock()
    meter = ThroughputMeter(clock)
    stream(meter, clock, 53, 53.0)
    clock.now += 4.0  # the dashboard asks a few seconds after the answer ended
    assert meter.tokens_per_second() == pytest.approx(53.0, rel=0.03)


def test_idle_gaps_between_answers_do_not_count_and_batches_add_up() -> None:
    clock = Clock()
    meter = ThroughputMeter(clock)
    stream(meter, clock, 20, 40.0)
    clock.now += 3.0  # idle between two answers
    stream(meter, clock, 20, 10.0, width=4)  # four sequences at once: 40 tokens a second
    assert meter.tokens_per_second() == pytest.approx(40.0, rel=0.05)


def test_nothing_in_the_window_reads_zero() -> None:
    clock = Clock()
    meter = ThroughputMeter(clock)
    assert meter.tokens_per_second() == 0.0
    stream(meter, clock, 10, 50.0)
    clock.now += 11.0
    assert meter.tokens_per_second() == 0.0
