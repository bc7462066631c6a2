"""Fixtures for the network integration tests (real sockets on loopback)."""

from __future__ import annotations

import pytest

from cocoon_desktop.engine.attestation.providers import FakeTdxProvider, NoneProvider


@pytest.fixture
def fake_tdx() -> FakeTdxProvider:
    return FakeTdxProvider()


@pytest.fixture
def no_tdx() -> NoneProvider:
    return NoneProvider()
