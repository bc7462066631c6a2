"""The real OS keyring (the Secret Service that scripts/test.sh starts) for one test.

Usage: `from tests.helpers.keyring_store import throwaway_secret_store`.
"""

from __future__ import annotations

import uuid

import pytest

from cocoon_desktop.wallet.secret_store import SecretStore


def throwaway_secret_store() -> SecretStore:
    """The session keyring under a service name of this test's own (so nothing it stores can
    meet another test's or the user's secrets); skips where no usable keyring runs."""
    store = SecretStore(service=f"cocoon-desktop-test-{uuid.uuid4().hex}",
                        prompt_to_unlock=False)
    status = store.status()
    if not status.usable:
        pytest.skip(f"needs the Secret Service keyring (run scripts/test.sh): {status.problem}")
    return store
