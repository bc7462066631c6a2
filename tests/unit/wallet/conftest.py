"""Shared data for the wallet unit tests: the known-answer vectors (read, never copied)."""

from __future__ import annotations

from tests.helpers.ton_vectors import ton_vectors  # noqa: F401  (a fixture for this folder)
