"""ABBA rounds for the benchmarks: each side alone, paired per-round figures, medians, ranges.

A side is a callable that sets itself up, times only its own work, tears itself down and returns
one figure (or a tuple of figures) per run. Between runs the garbage collector runs, so the side
that ran before is freed before the next one starts. Each round runs A, B, B, A; a round's ratio
is the mean of its two B runs over the mean of its two A runs, so slow drift in the machine's load
falls equally on both sides. `setting()` prints the header line that says what ran beside what.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

ALONE = "each side alone in this process, nothing of ours alive beside it"
T = TypeVar("T")


def in_fresh_process(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a new Python process (spawned: nothing inherited), its result sent
    back; `function` and `args` must pickle.

    For anything that decodes with llama.cpp in the benchmark's own process: llama.cpp's OpenMP
    threads belong to the thread that first decoded, and once a second thread decodes in the
    same process libgomp manages more threads than there are CPUs and shortens every barrier's
    spin. Measured on the 2-core machine (2026-12-07): the engine's core decoded at 60-75
    tokens/s in-process after `Llama` had run there, 108-118 in a fresh process."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def setting(beside: str = ALONE) -> Iterator[None]:
    """Prints what ran beside what, the CPU count and the load average (1/5/15 min) at the start,
    and the load average again at the end: other people's programs on a shared machine are not
    ours to stop, so the output says how busy it was."""
    print(f"setting: {beside}; {os.cpu_count()} CPUs; load average at start {_load()}",
          flush=True)
    yield
    print(f"load average at end {_load()}")


@dataclass(frozen=True)
class Paired:
    """Each side's figure per run, in the order they ran (A1 B1 B2 A2 per round)."""

    a: tuple[float, ...]
    b: tuple[float, ...]

    def _rounds(self) -> list[tuple[float, float]]:
        return [((self.a[i] + self.a[i + 1]) / 2, (self.b[i] + self.b[i + 1]) / 2)
                for i in range(0, len(self.a), 2)]

    def ratios(self) -> list[float]:
        return [b / a for a, b in self._rounds()]

    def differences(self) -> list[float]:
        return [b - a for a, b in self._rounds()]

    def median_a(self) -> float:
        return statistics.median(self.a)

    def median_b(self) -> float:
        return statistics.median(self.b)


def abba(rounds: int, side_a: Callable[[], float], side_b: Callable[[], float]) -> Paired:
    """`rounds` ABBA rounds of two sides that each return one figure."""
    a, b = abba_many(rounds, lambda: (side_a(),), lambda: (side_b(),))
    return Paired(tuple(x[0] for x in a), tuple(x[0] for x in b))


def abba_many(rounds: int, side_a: Callable[[], tuple[float, ...]],
              side_b: Callable[[], tuple[float, ...]]
              ) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
    """Like `abba` for sides that return several figures per run; `pick` pairs one of them."""
    a: list[tuple[float, ...]] = []
    b: list[tuple[float, ...]] = []
    for _ in range(max(1, rounds)):
        for side, into in ((side_a, a), (side_b, b), (side_b, b), (side_a, a)):
            gc.collect()
            into.append(side())
    gc.collect()
    return a, b


def pick(a: list[tuple[float, ...]], b: list[tuple[float, ...]], index: int) -> Paired:
    """The figure at `index` of each run of both sides, paired."""
    return Paired(tuple(x[index] for x in a), tuple(x[index] for x in b))


def spread(values: list[float], fmt: str = ".2f") -> str:
    """'median (min to max, n ABBA rounds)' for per-round figures."""
    return (f"{statistics.median(values):{fmt}} ({min(values):{fmt}} to {max(values):{fmt}}, "
            f"{len(values)} ABBA rounds)")
