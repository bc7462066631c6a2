"""What one more token in a decode pass costs on this machine, measured as the engine runs.

A decode pass over n tokens takes about W * (1 + c * n): W reads the weights once, c * W
computes one token. Speculative decoding weighs drafts against c (`engine.process.speculative`): a
GPU's c is tiny, a CPU's large, a busy machine's larger still, a big model's on a CPU larger
again. W itself drifts with the machine's load, so `PassCost` compares neighbours: two
consecutive one-pass steps over different numbers of tokens give c from the ratio of their
times (W cancels out), and `value` is the median of the last such estimates. Only passes over
the same sequences are paired: one more sequence costs more than one more token of a sequence
(it attends over its own KV), so a sequence that joins or ends says nothing about the price of a
drafted token. Steps that teach nothing (the same number of tokens, or other sequences) let
the value drift back toward the hardware's prior, so a machine that got quieter is noticed
once drafts are tried again.
"""

from __future__ import annotations

import statistics
from collections import deque

KEPT_ESTIMATES = 15  # the median of this many recent pair estimates
RETURN_PER_STEP = 0.01  # share of the way back to the prior per step without an estimate
LOWEST, HIGHEST = 0.01, 1.5


class PassCost:
    """The measured `value` of c (see the module's docstring); one per engine."""

    def __init__(self, prior: float) -> None:
        self._prior = min(HIGHEST, max(LOWEST, prior))
        self.value = self._prior
        self._estimates: deque[float] = deque(maxlen=KEPT_ESTIMATES)
        self._last: tuple[int, int, float] | None = None

    def add(self, tokens: int, seconds: float, sequences: int = 1) -> None:
        """One pass over `tokens` tokens of `sequences` sequences took `seconds` (right
        after the previous one)."""
        if tokens <= 0 or seconds <= 0:
            return
        last, self._last = self._last, (sequences, tokens, seconds)
        estimate = None
        if last is not None and last[0] == sequences:
            estimate = _pair_estimate(last[1:], (tokens, seconds))
        if estimate is None:
            self.value += (self._prior - self.value) * RETURN_PER_STEP
            return
        self._estimates.append(estimate)
        self.value = statistics.median(self._estimates)

    def forget_neighbour(self) -> None:
        """The next step does not follow the last one (a prompt came in between)."""
        self._last = None


def _pair_estimate(a: tuple[int, float], b: tuple[int, float]) -> float | None:
    """c from two passes: t_b / t_a = (1 + c n_b) / (1 + c n_a); None when they agree on n
    or the times make no sense (the bigger pass faster than its fixed cost allows)."""
    (n_small, t_small), (n_big, t_big) = sorted((a, b))
    if n_small == n_big:
        return None
    ratio = t_big / t_small
    room = n_big - ratio * n_small
    if room <= 0:
        return HIGHEST  # the bigger pass took at least n_big/n_small times as long
    return min(HIGHEST, max(LOWEST, (ratio - 1) / room))
