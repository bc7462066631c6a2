"""The shared TON known-answer vectors (read from ../shared beside the checkout, never copied):
a fixture.

Usage, in a conftest: `from tests.helpers.ton_vectors import ton_vectors  # noqa: F401`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "ton" / "vectors.json"


@pytest.fixture(scope="session")
def ton_vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.exists():
        pytest.skip(f"{VECTORS_FILE} is not on this machine")
    return json.loads(VECTORS_FILE.read_text())["vectors"]
