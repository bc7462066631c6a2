"""Fixtures for the models/attestation unit tests: a tiny real GGUF and private app folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.core.paths import AppPaths, app_paths
from tests.helpers.tiny_gguf import write_tiny_llama


@pytest.fixture(scope="session")
def tiny_model_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "Tiny-Llama.F32.gguf", seed=1)


@pytest.fixture
def tiny_model(tmp_path: Path, tiny_model_template: Path) -> Path:
    """A private copy the test may modify, move or delete."""
    copy = tmp_path / "models" / tiny_model_template.name
    copy.parent.mkdir()
    copy.write_bytes(tiny_model_template.read_bytes())
    return copy


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return app_paths(tmp_path / "home").ensure()
