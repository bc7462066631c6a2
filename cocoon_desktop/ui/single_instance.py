"""One app per user (per data folder): a second launch raises the first window and exits.

The first instance listens on a `QLocalServer` (a Unix socket only this user can open); a later
launch connects, sends `activate` and quits. A stale socket left by a crash is removed.
"""

from __future__ import annotations

import getpass
import hashlib
import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
ACTIVATE = b"activate\n"


def server_name(data_dir: str) -> str:
    """A socket name unique to this user and data folder (several COCOON_HOMEs may coexist)."""
    digest = hashlib.sha256(f"{getpass.getuser()}|{data_dir}".encode()).hexdigest()[:16]
    return f"cocoon-desktop-{digest}"


def notify_running_instance(name: str, timeout_ms: int = 1000) -> bool:
    """Ask an instance already listening on `name` to show itself; False if none answers."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(ACTIVATE)
    socket.flush()
    socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """The first instance's listener; `activation_requested` fires when a second launch asks."""

    activation_requested = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_server_new_connection)

    def listen(self) -> bool:
        """Start listening; remove a stale socket from a crashed run first."""
        if self._server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        log.warning("single-instance listener failed: %s", self._server.errorString())
        return False

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            # No Python closure keeps the socket: Qt owns it until deleteLater.
            socket.readyRead.connect(self._on_socket_ready_read)
            socket.disconnected.connect(socket.deleteLater)

    def _on_socket_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket) and bytes(socket.readAll().data()).startswith(
                ACTIVATE.strip()):
            self.activation_requested.emit()
