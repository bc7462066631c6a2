"""bench/pass_curve.py's bounds on speculation, which the speculative benchmark prints beside
its figures: they must not flatter (no gain where passes do not get cheaper per token or where
drafts never hold) and must see a gain where both hold."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def pass_curve() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pass_curve", BENCH / "pass_curve.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pass_curve", module)
    spec.loader.exec_module(module)
    return module


def _copying(count: int) -> list[tuple[list[int], list[int]]]:
    """Answers that copy their prompt token for token (every draft holds)."""
    text = list(range(1000, 1060))
    return [([7, *text, 8], text) for _ in range(count)]


def _fresh(count: int) -> list[tuple[list[int], list[int]]]:
    """Answers whose every token is new: prompt lookup has nothing to propose."""
    return [([7, 8, 9], list(range(2000 + 100 * i, 2060 + 100 * i))) for i in range(count)]


def test_the_lockstep_bound_sees_gains_only_where_drafts_hold_and_passes_pay(
        pass_curve: ModuleType) -> None:
    flat = {1: 1.0, 2: 1.0, 3: 1.0}  # a pass of m tokens takes m times as long: compute-bound
    cheap = {1: 1.0, 2: 1.8, 3: 2.5}  # a GPU: more tokens per pass cost little more
    assert pass_curve.lockstep_bound(flat, _copying(4)) == pytest.approx(1.0)
    assert pass_curve.lockstep_bound(cheap, _fresh(4)) == pytest.approx(1.0)
    assert pass_curve.lockstep_bound(cheap, _copying(4)) == pytest.approx(2.5, rel=0.05)


def test_the_uniform_ceiling_grows_with_acceptance(pass_curve: ModuleType) -> None:
    curve = {1: 1.0, 2: 1.18, 3: 1.24, 4: 1.32}  # measured at N=8 on the 2-core CI machine
    gains = [pass_curve.ceiling(curve, a)[0] for a in (0.5, 0.86, 1.0)]
    assert gains[0] == 1.0 and gains == sorted(gains)
    assert gains[2] == pytest.approx(1.32)
