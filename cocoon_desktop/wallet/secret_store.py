"""The one place secrets live: the OS keyring, through `keyring`, with explicit errors.

Only real OS keyrings are accepted (Secret Service/libsecret on Linux, KWallet, macOS Keychain,
Windows Credential Locker). keyring's `fail` and `null` backends and every `keyrings.alt`-style
backend (plaintext or home-made encrypted files) are refused with `SecretStoreUnavailable`:
there is no fallback that writes a secret anywhere else.

Every call blocks (D-Bus, maybe an unlock prompt): call it off the UI thread. Errors carry fixed
sentences and the backend's error class, never a value.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import keyring
import keyring.core
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from cocoon_desktop.core.logs import register_secret
from cocoon_desktop.wallet.errors import WalletError

log = logging.getLogger(__name__)

SERVICE_NAME = "cocoon-desktop"
_MAX_COPIES = 8
T = TypeVar("T")
_ALLOWED_MODULES = (
    "keyring.backends.SecretService",
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
)


def profile_service_name() -> str:
    """The keyring service of this app profile: several workers on one machine (each with its
    own COCOON_HOME) keep separate secrets."""
    home = os.environ.get("COCOON_HOME")
    return f"{SERVICE_NAME}@{Path(home).resolve()}" if home else SERVICE_NAME


class SecretStoreError(WalletError):
    """The keyring could not do what was asked; `detail` names the backend's error class."""

    def __init__(self, what: str, what_to_do: str, detail: str = "") -> None:
        self.detail = detail
        super().__init__(what, what_to_do)


class SecretStoreUnavailable(SecretStoreError):
    """No acceptable OS keyring can be reached."""


class SecretStoreLocked(SecretStoreError):
    """The keyring is locked and was not unlocked."""


class SecretNotFound(SecretStoreError):
    """The keyring has no such secret."""


class SecretAccessDenied(SecretStoreError):
    """The keyring refused (a dismissed prompt, a denied permission)."""


def _unavailable(
    detail: str, why: str = "No OS keyring could be reached."
) -> SecretStoreUnavailable:
    return SecretStoreUnavailable(
        why,
        "Cocoon Desktop keeps secrets only in the OS keyring: start your desktop's keyring "
        "(GNOME Keyring, KWallet, Keychain) and retry; on a headless rig run the app inside a "
        "D-Bus session with an unlocked gnome-keyring.",
        detail,
    )


def _locked(detail: str) -> SecretStoreLocked:
    return SecretStoreLocked(
        "The OS keyring is locked.",
        "Unlock it (log in to your desktop session, or open your keyring app and unlock the "
        "login keyring), then retry.",
        detail,
    )


def _denied(detail: str) -> SecretAccessDenied:
    return SecretAccessDenied(
        "The OS keyring refused access (the prompt was dismissed or permission was denied).",
        "Retry and allow Cocoon Desktop when your keyring asks.",
        detail,
    )


class SecretKind(StrEnum):
    MNEMONIC = "mnemonic"
    NODE_WALLET_KEY = "node-wallet-key"


@dataclass(frozen=True)
class SecretRef:
    """Names one secret in the keyring; contains no secret itself."""

    kind: SecretKind
    wallet_id: str

    @property
    def username(self) -> str:
        return f"{self.kind.value}/{self.wallet_id}"


@dataclass(frozen=True)
class SecretStoreStatus:
    """What the UI shows about the keyring, without raising."""

    usable: bool
    backend_name: str
    problem: str | None = None  # the error's sentence when not usable


def backend_refusal(backend: KeyringBackend) -> str | None:
    """Why `backend` is not an acceptable OS keyring, or None when it is. keyring's chainer is
    never accepted as such: `os_backend_of` picks the OS keyring inside it."""
    module = type(backend).__module__
    if isinstance(backend, ChainerBackend):
        return "keyring's chainer falls back to other backends"
    if module.startswith(_ALLOWED_MODULES):
        return None
    if module in ("keyring.backends.fail", "keyring.backends.null"):
        return "no OS keyring backend is available"
    return f"the keyring backend {type(backend).__name__} ({module}) is not an OS keyring"


def os_backend_of(backend: KeyringBackend) -> KeyringBackend:
    """The first OS keyring inside keyring's chainer (which would otherwise fall back to the
    next backend, maybe a plaintext file, whenever the OS keyring fails); else `backend`."""
    if not isinstance(backend, ChainerBackend):
        return backend
    inner = list(getattr(backend, "backends", []))
    return next((b for b in inner if backend_refusal(b) is None), backend)


class SecretStore:
    """Stores, reads and deletes the app's secrets in the OS keyring."""

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        service: str | None = None,
        prompt_to_unlock: bool = True,
    ) -> None:
        """`backend`: a keyring backend (default: keyring's choice, re-detected when it is not
        acceptable). `service`: default `profile_service_name()`. `prompt_to_unlock=False`
        reports a locked keyring instead of asking the user to unlock it (headless rigs,
        tests)."""
        self._backend = backend
        self._fixed = backend is not None
        self._service = service or profile_service_name()
        self._prompt_to_unlock = prompt_to_unlock
        self._lock = threading.Lock()

    # -- public API ------------------------------------------------------------------------
    def status(self) -> SecretStoreStatus:
        """Whether the keyring can be used now (never prompts)."""
        try:
            backend = self._usable_backend(passive=True)
        except SecretStoreError as err:
            return SecretStoreStatus(False, self._backend_name(), str(err))
        return SecretStoreStatus(True, type(backend).__name__)

    def store(self, ref: SecretRef, value: str) -> None:
        """Save (or replace) a secret."""
        register_secret(value)
        self._call(lambda b: b.set_password(self._service, ref.username, value))

    def load(self, ref: SecretRef) -> str:
        """Read a secret; SecretNotFound when the keyring has none."""
        value = self._call(lambda b: b.get_password(self._service, ref.username))
        if value is None:
            raise SecretNotFound(
                f"The keyring has no {ref.kind.value.replace('-', ' ')} for this wallet.",
                "Import it again (from your written words or your exported key).",
            )
        register_secret(value)
        return value

    def contains(self, ref: SecretRef) -> bool:
        try:
            self.load(ref)
        except SecretNotFound:
            return False
        return True

    def delete(self, ref: SecretRef, *, missing_ok: bool = True) -> bool:
        """Remove a secret (every copy, should the keyring hold several); return whether one
        was there."""
        found = False
        for _ in range(_MAX_COPIES):
            if not self.contains(ref):
                break
            self._call(lambda b: b.delete_password(self._service, ref.username))
            found = True
        if not found and not missing_ok:
            raise SecretNotFound("The keyring has no such secret.", "Nothing to remove.")
        return found

    # -- internals -------------------------------------------------------------------------
    def _backend_name(self) -> str:
        return type(self._backend).__name__ if self._backend is not None else "none"

    def _call(self, action: Callable[[KeyringBackend], T]) -> T:
        with self._lock:
            backend = self._usable_backend()
            try:
                return action(backend)
            except SecretStoreError:
                raise
            except Exception as exc:
                error = translate_error(exc)
                log.warning("keyring call failed: %s (%s)", type(error).__name__, error.detail)
                raise error from None

    def _usable_backend(self, passive: bool = False) -> KeyringBackend:
        backend = self._resolve_backend()
        try:
            type(backend).priority  # noqa: B018  (raises when the service is unreachable)
        except Exception as exc:
            raise _unavailable(type(exc).__name__) from None
        is_secret_service = type(backend).__module__ == "keyring.backends.SecretService"
        if is_secret_service and (passive or not self._prompt_to_unlock):
            self._check_secret_service_lock(backend)
        return backend

    def _resolve_backend(self) -> KeyringBackend:
        try:
            backend = self._backend or keyring.get_keyring()
            if backend_refusal(backend) and not self._fixed:
                keyring.core.init_backend()  # the user may have started a keyring since
                backend = keyring.get_keyring()
        except Exception as exc:  # backend detection itself failed (e.g. a dead D-Bus)
            raise _unavailable(type(exc).__name__) from None
        backend = os_backend_of(backend)
        refusal = backend_refusal(backend)
        if refusal:
            raise _unavailable(type(backend).__name__, f"No usable OS keyring: {refusal}.")
        self._backend = backend
        return backend

    def _check_secret_service_lock(self, backend: KeyringBackend) -> None:
        """Report a locked collection without triggering an unlock prompt."""
        import secretstorage

        try:
            with closing(secretstorage.dbus_init()) as connection:
                path = getattr(backend, "preferred_collection", None)
                collection = (
                    secretstorage.Collection(connection, path)
                    if path else secretstorage.get_default_collection(connection)
                )
                locked = collection.is_locked()
        except Exception as exc:
            raise translate_error(exc) from None
        if locked:
            raise _locked("collection locked")


def translate_error(exc: BaseException) -> SecretStoreError:
    """Map a keyring/secretstorage/D-Bus failure to one of the four explicit errors."""
    name = type(exc).__name__
    text = str(exc).lower()
    dbus_name = str(getattr(exc, "name", "") or "")
    if isinstance(exc, keyring.errors.KeyringLocked) or name in ("LockedException",):
        return _locked(name)
    if name == "PromptDismissedException" or "accessdenied" in dbus_name.lower():
        return _denied(name)
    if "islocked" in dbus_name.lower():
        return _locked(dbus_name)
    if isinstance(exc, keyring.errors.NoKeyringError | keyring.errors.InitError):
        return _unavailable(name)
    if any(w in text for w in ("denied", "not allowed", "canceled", "cancelled", "-128")):
        return _denied(name)
    return _unavailable(f"{name} {dbus_name}".strip())
