"""The keyring gate: only OS keyrings pass; plaintext, fail and null backends are refused."""

from __future__ import annotations

from collections.abc import Iterator

import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from cocoon_desktop.wallet.secret_store import (
    SecretAccessDenied,
    SecretKind,
    SecretRef,
    SecretStore,
    SecretStoreLocked,
    SecretStoreUnavailable,
    backend_refusal,
    os_backend_of,
    translate_error,
)

REF = SecretRef(SecretKind.NODE_WALLET_KEY, "node")


class PlaintextKeyring(KeyringBackend):
    """Stands for keyrings.alt's file backends (not installed here): judged by its module."""

    priority = 1  # type: ignore[assignment]
    stored: dict[tuple[str, str], str] = {}  # noqa: RUF012

    def get_password(self, service: str, username: str) -> str | None:
        return self.stored.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.stored[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.stored.pop((service, username), None)


PlaintextKeyring.__module__ = "keyrings.alt.file"


class OsLikeKeyring(PlaintextKeyring):
    """Stands for an OS keyring inside keyring's chainer: judged by its module."""


OsLikeKeyring.__module__ = "keyring.backends.SecretService"


@pytest.fixture(autouse=True)
def _unregister_fake_backends() -> Iterator[None]:
    """keyring registers every backend subclass; keep these two out of its later choices."""
    yield
    for fake in (PlaintextKeyring, OsLikeKeyring):
        KeyringBackend._classes.discard(fake)  # type: ignore[attr-defined]


def test_refused_backends() -> None:
    assert backend_refusal(fail.Keyring()) == "no OS keyring backend is available"
    assert backend_refusal(null.Keyring()) == "no OS keyring backend is available"
    assert "not an OS keyring" in (backend_refusal(PlaintextKeyring()) or "")


def test_a_plaintext_backend_is_never_written_to() -> None:
    store = SecretStore(PlaintextKeyring())
    with pytest.raises(SecretStoreUnavailable) as info:
        store.store(REF, "secret-value-123")
    assert PlaintextKeyring.stored == {}
    assert "secret-value-123" not in str(info.value)
    assert not store.status().usable


def test_the_fail_backend_is_unavailable_with_what_to_do() -> None:
    store = SecretStore(fail.Keyring())
    with pytest.raises(SecretStoreUnavailable) as info:
        store.load(REF)
    assert "OS keyring" in str(info.value) and info.value.what_to_do


class Chain(chainer.ChainerBackend):
    def __init__(self, backends: list[KeyringBackend]) -> None:
        self._backends = backends

    @property
    def backends(self) -> list[KeyringBackend]:  # type: ignore[override]
        return self._backends


def test_only_the_os_keyring_inside_a_chainer_is_used() -> None:
    """With keyrings.alt installed, keyring chains it after the OS keyring: a failure of the
    OS keyring would then write to the file. The store uses the OS keyring alone."""
    plaintext, os_keyring = PlaintextKeyring(), OsLikeKeyring()
    assert os_backend_of(Chain([plaintext, os_keyring])) is os_keyring
    assert backend_refusal(os_backend_of(Chain([plaintext]))) is not None
    assert backend_refusal(os_backend_of(Chain([]))) is not None


def test_error_translation() -> None:
    assert isinstance(translate_error(keyring.errors.KeyringLocked("x")), SecretStoreLocked)
    assert isinstance(translate_error(keyring.errors.NoKeyringError()), SecretStoreUnavailable)
    assert isinstance(translate_error(keyring.errors.InitError("x")), SecretStoreUnavailable)

    class PromptDismissedException(Exception):
        pass

    class DBusErrorResponse(Exception):
        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.name = name

    assert isinstance(translate_error(PromptDismissedException()), SecretAccessDenied)
    denied = DBusErrorResponse("org.freedesktop.DBus.Error.AccessDenied")
    assert isinstance(translate_error(denied), SecretAccessDenied)
    locked = DBusErrorResponse("org.freedesktop.Secret.Error.IsLocked")
    assert isinstance(translate_error(locked), SecretStoreLocked)
    assert isinstance(translate_error(keyring.errors.KeyringError("User canceled")),
                      SecretAccessDenied)
    assert isinstance(translate_error(OSError("socket")), SecretStoreUnavailable)
