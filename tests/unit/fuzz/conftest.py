"""The fuzz suite's time budget: each property runs a fixed number of examples with no
per-example deadline (a busy 2-core CI machine stalls at random), so the whole suite stays
under a minute there; `COCOON_FUZZ_EXAMPLES` scales it up for a long local run."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("COCOON_FUZZ_EXAMPLES", "1"))


def budget(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
