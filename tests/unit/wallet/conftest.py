"""Shared data for the wallet unit tests: the known-answer vectors (read, never copied)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS_FILE = Path("/work/shared/ton/vectors.json")


@pytest.fixture(scope="session")
def ton_vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.exists():
        pytest.skip(f"{VECTORS_FILE} is not on this machine")
    return json.loads(VECTORS_FILE.read_text())["vectors"]
