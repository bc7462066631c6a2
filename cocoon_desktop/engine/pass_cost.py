"""What one more token in a decode pass costs on this machine, measured as the engine runs.

A decode pass over n tokens takes about W * (1 + c * n): W reads the weights once, c * W
computes one token. Speculative decoding weighs drafts against c (`engine.speculative`): a
GPU's c is tiny, a CPU's large, a busy machine's larger still, a big model's on a CPU larger
again. `PassCost` fits a line through the recent (tokens, seconds) of steps that were one pass
over generating sequences only, and reports its slope over its intercept. It starts from a
prior for the hardware (counted as a few steps, scaled by the first real one) and stays within
bounds; while the number of tokens per pass hardly varies it keeps its last value.
"""

from __future__ import annotations

MEMORY = 0.97  # weight of the past per step: about the last 30 steps count
PRIOR_STEPS = 4.0  # the prior counts as this many steps at first
SPREAD_NEEDED = 0.25  # variance of tokens per pass below which nothing new is learnt
LOWEST, HIGHEST = 0.01, 2.0


class PassCost:
    """The measured `value` of c (see the module's docstring); one per engine."""

    def __init__(self, prior: float) -> None:
        self.value = min(HIGHEST, max(LOWEST, prior))
        self._prior = self.value
        self._sums = [0.0] * 5  # weight, sum of n, of t, of n * n, of n * t

    def add(self, tokens: int, seconds: float) -> None:
        """One pass over `tokens` tokens took `seconds`."""
        if tokens <= 0 or seconds <= 0:
            return
        if not self._sums[0]:
            unit = seconds / (1 + self._prior * tokens)
            for n in (tokens, tokens + 8):  # the prior, as two pseudo-steps
                self._add(n, unit * (1 + self._prior * n), PRIOR_STEPS / 2)
        self._sums = [MEMORY * value for value in self._sums]
        self._add(tokens, seconds, 1.0)
        self._refit()

    def _add(self, n: float, t: float, weight: float) -> None:
        for index, value in enumerate((1.0, n, t, n * n, n * t)):
            self._sums[index] += weight * value

    def _refit(self) -> None:
        weight, n, t, nn, nt = self._sums
        spread = weight * nn - n * n
        if spread < SPREAD_NEEDED * weight * weight:
            return
        slope = (weight * nt - n * t) / spread
        intercept = (t - slope * n) / weight
        if slope <= 0:
            self.value = LOWEST  # more tokens did not take longer
        elif intercept <= 0:
            self.value = HIGHEST  # no fixed cost seen: every token costs in full
        else:
            self.value = min(HIGHEST, max(LOWEST, slope / intercept))
