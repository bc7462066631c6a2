"""What to do when the keyring cannot give the node its wallet key, on a desktop or on a rig.

A rig often has no desktop session, so no Secret Service on a session bus: the wallet area
raises `SecretStoreUnavailable`. Cocoon Desktop never falls back to a file; the node says
exactly how to give the service a keyring instead.
"""

from __future__ import annotations

from cocoon_desktop.node.status import NodeProblem
from cocoon_desktop.wallet.errors import WalletError
from cocoon_desktop.wallet.secret_store import (
    SecretAccessDenied,
    SecretNotFound,
    SecretStoreLocked,
    SecretStoreUnavailable,
)

HEADLESS_UNAVAILABLE = (
    "This service has no OS keyring: no D-Bus session with a Secret Service is reachable, and "
    "the node wallet key is kept only in the OS keyring (never in a file). Either run the node "
    "as a systemd user service next to an unlocked gnome-keyring (installers/systemd: "
    "`loginctl enable-linger $USER`, then `systemctl --user enable --now cocoon-keyring "
    "cocoon-desktop@0`), or start it by hand inside a session bus: `dbus-run-session -- sh -c "
    "'read -rs pw; printf %s \"$pw\" | gnome-keyring-daemon --unlock --components=secrets "
    ">/dev/null; exec cocoon-desktop serve --config rig.toml'` (the password opens, or on "
    "first use creates, the login keyring)."
)
HEADLESS_LOCKED = (
    "The keyring is running but locked, and a service cannot show an unlock prompt. Start "
    "gnome-keyring with `--unlock` and its password on standard input (cocoon-keyring.service "
    "in installers/systemd does this), or unlock it once from a desktop session."
)
MISSING_KEY = (
    "Import the key from an upstream worker.conf (`cocoon-desktop serve --import-worker-conf "
    "worker.conf`), import an exported key (`cocoon-desktop wallet node-key import`), or create "
    "a new node wallet (`cocoon-desktop wallet node-key create`). Use the same --instance or "
    "COCOON_HOME as the node."
)


def keyring_problem(error: WalletError, headless: bool, service: str) -> NodeProblem:
    """The node's problem for a wallet/keyring error met while reading the node wallet key."""
    where = f" (keyring service {service!r})"
    if isinstance(error, SecretStoreUnavailable):
        return NodeProblem("The node wallet key cannot be read: no OS keyring is reachable.",
                           HEADLESS_UNAVAILABLE if headless else error.what_to_do)
    if isinstance(error, SecretStoreLocked):
        return NodeProblem("The node wallet key cannot be read: the OS keyring is locked.",
                           HEADLESS_LOCKED if headless else error.what_to_do)
    if isinstance(error, SecretNotFound):
        return NodeProblem(f"The node wallet key is missing from the keyring{where}.",
                           MISSING_KEY)
    if isinstance(error, SecretAccessDenied):
        return NodeProblem("The OS keyring refused to give out the node wallet key.",
                           error.what_to_do)
    return NodeProblem(error.what, error.what_to_do)


def no_node_wallet(service: str) -> NodeProblem:
    return NodeProblem(
        f"This node has no node wallet yet (keyring service {service!r}): payouts are sent "
        "from it, so it cannot serve a network that pays.", MISSING_KEY)
