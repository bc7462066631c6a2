"""One model load as the engine process sees it: progress out (thinned), cancel in.

llama.cpp reports progress once per tensor (hundreds to thousands of calls for a large model)
on the loading thread. `LoadWatch` is the core's `on_load_progress`: it passes on the first
fraction, then only steps of at least `min_step`, and always the final 1.0, so the control
pipe carries at most about a hundred events per load whatever the model. Its answer tells
llama.cpp whether to keep loading: False once `cancel()` was called (from any thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

MIN_STEP = 0.01  # one per cent of the weights


class LoadWatch:
    def __init__(self, report: Callable[[float], None], min_step: float = MIN_STEP) -> None:
        """`report(fraction)` runs on the loading thread: hand the value over, do not block."""
        self._report = report
        self._min_step = min_step
        self._last: float | None = None
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the load to stop at llama.cpp's next progress call (the next tensor)."""
        self._cancel.set()

    def __call__(self, fraction: float) -> bool:
        """The core's progress callback: report when due; False means stop loading."""
        if self._due(fraction):
            self._last = fraction
            self._report(fraction)
        return not self._cancel.is_set()

    def _due(self, fraction: float) -> bool:
        last = self._last
        if last is None:
            return True
        if fraction >= 1.0:
            return last < 1.0
        return fraction - last >= self._min_step
