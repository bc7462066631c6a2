"""What one more token in a decode pass costs on this machine, measured as the engine runs.

A decode pass over n tokens takes about W * (1 + c * n): W reads the weights once, c * W
computes one token (`engine.process.speculative` weighs drafts against these costs): a
GPU's c is tiny, a CPU's large, a busy machine's larger still, a big model's on a CPU larger
again. W itself drifts with the machine's load, so `PassCost` compares neighbours: two
consecutive one-pass steps over different numbers of tokens give c from the ratio of their
times (W cancels out), and `value` is the median of the last such estimates. Only passes over
the same sequences are paired: one more sequence costs more than one more token of a sequence
(it attends over its own KV), so a sequence that joins or ends says nothing about the price of a
drafted token. Steps that teach nothing (the same number of tokens, or other sequences) let
the value drift back toward the hardware's prior, so a machine that got quieter is noticed
once drafts are tried again.

One c for every length cannot fit a CPU, whose kernels change with the batch: measured here
at one sequence a pass of 2 tokens takes 1.8 times a pass of 1, while a pass of 4 takes 2.5
and one of 9 only 4.8. Short drafts then set c high and longer, cheaper-per-token drafts are
never chosen. So `pass_time` prices each (sequences, tokens per sequence) from its own
measurements where there are some: the same neighbour pairs, read as ratios to a pass of one
token per sequence (directly, or through a length already priced). A length not measured for
this many sequences takes the price measured for the nearest other number of sequences (a
pass's shape changes little from 7 sequences to 8). A length not measured for any,
between two measured ones or just past the longest, is priced like the measured one below it
for its first `EXPLORE_TRIES` passes, so it is tried (and measured) once a longer draft could
pay at all; after them (a length that only runs in steps that cannot be timed, see `untimed`,
or with no neighbour to pair it with) it is priced between its measured neighbours. Lengths further
out are priced by c from the longest measured one. A price not measured again for
`STALE_AFTER_STEPS` passes falls back to the model.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable

KEPT_ESTIMATES = 15  # the median of this many recent pair estimates
KEPT_PRICES = 5  # the median of this many recent measurements of one length's price
STALE_AFTER_STEPS = 2000  # a length's price not measured for this many passes is dropped
EXPLORE_TRIES = 3  # passes with a length not yet measured before it is priced by the model
RETURN_PER_STEP = 0.01  # share of the way back to the prior per step without an estimate
LOWEST, HIGHEST = 0.01, 1.5


class PassCost:
    """The measured `value` of c (see the module's docstring); one per engine."""

    def __init__(self, prior: float) -> None:
        self._prior = min(HIGHEST, max(LOWEST, prior))
        self.value = self._prior
        self._estimates: deque[float] = deque(maxlen=KEPT_ESTIMATES)
        self._last: tuple[int, int, float] | None = None
        self._prices: dict[tuple[int, int], _Price] = {}
        self._steps = 0

    def add(self, tokens: int, seconds: float, sequences: int = 1) -> None:
        """One pass over `tokens` tokens of `sequences` sequences took `seconds` (right
        after the previous one)."""
        if tokens <= 0 or seconds <= 0:
            return
        self._steps += 1
        if tokens % sequences == 0:
            self._count_run(sequences, tokens // sequences)
        last, self._last = self._last, (sequences, tokens, seconds)
        estimate = None
        if last is not None and last[0] == sequences:
            estimate = _pair_estimate(last[1:], (tokens, seconds))
            self._learn_price(sequences, last[1:], (tokens, seconds))
        if estimate is None:
            self.value += (self._prior - self.value) * RETURN_PER_STEP
            return
        self._estimates.append(estimate)
        self.value = statistics.median(self._estimates)

    def pass_time(self, sequences: int) -> Callable[[int], float]:
        """How long a pass in which each of `sequences` sequences carries m tokens takes, over
        one in which each carries one, as a function of m (see the module's docstring)."""
        own = {m: entry for (s, m), entry in self._prices.items() if s == sequences}
        known = {m: entry.value for m, entry in own.items() if self._fresh(entry)}
        nearest: dict[int, tuple[int, float]] = {}  # m -> (distance, price) of other counts
        for (s, m), entry in self._prices.items():
            if s != sequences and self._fresh(entry):
                distance = abs(s - sequences)
                if m not in nearest or distance < nearest[m][0]:
                    nearest[m] = (distance, entry.value)
        per_token = self.value * sequences / (1 + self.value * sequences)

        def price(per_sequence: int) -> float:
            if per_sequence <= 1:
                return 1.0
            if per_sequence in known:
                return known[per_sequence]
            if per_sequence in nearest:  # as measured for the nearest other number of sequences
                return nearest[per_sequence][1]
            below = max((m for m in known if m < per_sequence), default=1)
            above = min((m for m in known if m > per_sequence), default=None)
            low = known.get(below, 1.0)
            untried = per_sequence not in own or own[per_sequence].runs < EXPLORE_TRIES
            if untried and (above is not None or per_sequence == below + 1):
                return low  # tried as soon as it could pay, so that it gets measured
            if above is not None:  # between two measured lengths
                return low + (known[above] - low) * (per_sequence - below) / (above - below)
            return low + per_token * (per_sequence - below)

        return price

    def _fresh(self, price: _Price) -> bool:
        return price.step > 0 and self._steps - price.step <= STALE_AFTER_STEPS

    def untimed(self, sequences: int, per_sequence: int) -> None:
        """A step that was not one pass (prompt chunks rode along, or llama.cpp split it) ran
        `per_sequence` tokens for each of `sequences` generating sequences: that length counts
        as tried, and the next step has no neighbour to be paired with."""
        if sequences > 0:
            self._count_run(sequences, per_sequence)
        self._last = None

    def _count_run(self, sequences: int, per_sequence: int) -> None:
        self._prices.setdefault((sequences, per_sequence), _Price()).runs += 1

    def _learn_price(self, sequences: int, a: tuple[int, float], b: tuple[int, float]) -> None:
        """The price of one length of the pair (a, b): directly where the other carried one
        token per sequence, else b's through a's price when that is known."""
        (tokens_a, seconds_a), (tokens_b, seconds_b) = a, b
        if tokens_a % sequences or tokens_b % sequences or tokens_a == tokens_b:
            return
        m_a, m_b = tokens_a // sequences, tokens_b // sequences
        if m_b == 1:
            m_a, m_b, seconds_a, seconds_b = m_b, m_a, seconds_b, seconds_a
        base = 1.0
        if m_a > 1:
            price_a = self._prices[(sequences, m_a)]
            if not price_a.step:
                return  # a's length has no price yet
            base = price_a.value
        self._prices[(sequences, m_b)].add(base * seconds_b / seconds_a, self._steps)


class _Price:
    """One length's recent measurements (ratios to a pass of one token per sequence), the
    pass they were last measured at (0: never), and how many passes ran with it."""

    def __init__(self) -> None:
        self._ratios: deque[float] = deque(maxlen=KEPT_PRICES)
        self.value = 1.0
        self.step = 0
        self.runs = 0

    def add(self, ratio: float, step: int) -> None:
        self._ratios.append(max(1.0, ratio))  # more tokens per sequence never take less time
        self.value = statistics.median(self._ratios)
        self.step = step


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
