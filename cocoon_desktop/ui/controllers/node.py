"""NodeController: the Qt face of the node (`cocoon_desktop.node.Node`), the same orchestrator
the headless service runs: engine, GPU protection, worker, ledger and payouts.

Every `NodeStatus` becomes `status_changed`; protection's and the engine's notices become
`notification_raised`; worker events (a request served, a proxy connected) become
`worker_event_received`. The Serve toggle, quit and new settings go through here.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.hardware.protection.policy import Notification
from cocoon_desktop.network.worker.types import WorkerEvent
from cocoon_desktop.node.config import from_app_settings
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.settings import AppSettings

log = logging.getLogger(__name__)


class NodeController(QObject):
    status_changed = Signal(object)  # NodeStatus
    notification_raised = Signal(str, str, bool)  # title, message, critical
    worker_event_received = Signal(object)  # WorkerEvent
    node_opened = Signal()

    def __init__(self, node: Node, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.node = node
        self.status: NodeStatus = node.status
        node.add_listener(self._on_node_status)
        node.add_notification_listener(self._on_node_notification)
        node.add_worker_listener(self._on_node_worker_event)

    async def open(self) -> NodeStatus:
        status = await self.node.open()
        self.node_opened.emit()
        return status

    async def start_serving(self) -> NodeStatus:
        return await self.node.start_serving()

    async def stop_serving(self, drain_timeout_s: float | None = None) -> bool:
        return await self.node.stop_serving(drain_timeout_s)

    async def close(self, drain_timeout_s: float | None = None) -> bool:
        return await self.node.close(drain_timeout_s)

    async def cancel_engine_load(self) -> bool:
        """Cancel beside the engine's load progress (serving stops too)."""
        return await self.node.cancel_engine_load()

    async def ensure_engine(self) -> EngineEndpoint:
        return await self.node.ensure_engine()

    def apply_settings(self, settings: AppSettings) -> None:
        self.node.apply_live_settings(from_app_settings(settings, self.node.config.instance))

    def _on_node_status(self, status: NodeStatus) -> None:
        self.status = status
        self.status_changed.emit(status)

    def _on_node_notification(self, notification: Notification) -> None:
        self.notification_raised.emit(notification.title, notification.message,
                                      notification.severity == "critical")

    def _on_node_worker_event(self, event: WorkerEvent) -> None:
        self.worker_event_received.emit(event)
