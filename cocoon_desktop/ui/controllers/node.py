"""NodeController: the Qt face of the node (`cocoon_desktop.node.Node`), the same orchestrator
the headless service runs: engine, GPU protection, worker, ledger and payouts.

The UI reaches the node only through here. Every `NodeStatus` that says something new becomes
`status_changed` (the node publishes one each second: a repeat that differs only in its time
is not sent to every screen again); protection's and the engine's notices become
`notification_raised`; the node's switch to another ledger and its (re)opened wallet become
`ledger_switched` and `wallet_reopened`, so the earnings and wallet adapters follow at once.
The Serve toggle, the engine button, quit and new settings go through here.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.hardware.protection.policy import Notification
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.network.devnet.load import DevnetEndpoint
from cocoon_desktop.node.config import from_app_settings
from cocoon_desktop.node.events import LedgerSwitched
from cocoon_desktop.node.node import Node
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.node.wallet_host import NodeWallet
from cocoon_desktop.settings import AppSettings, NetworkKind

log = logging.getLogger(__name__)


class NodeController(QObject):
    status_changed = Signal(object)  # NodeStatus
    notification_raised = Signal(str, str, bool)  # title, message, critical
    ledger_switched = Signal(object)  # LedgerSwitched
    wallet_reopened = Signal(object)  # NodeWallet

    def __init__(self, node: Node, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._node = node
        self.status: NodeStatus = node.status
        self.ledger: LedgerSwitched | None = None  # the ledger the node records into
        self.wallet: NodeWallet | None = None  # the wallet of the network the node serves
        node.status_changed.add(self._on_node_status)
        node.notification_raised.add(self._on_node_notification)
        node.ledger_switched.add(self._on_node_ledger_switched)
        node.wallet_reopened.add(self._on_node_wallet_reopened)

    @property
    def health(self) -> HealthService | None:
        """The node's monitoring, for the GPU adapter (None until the node is open)."""
        return self._node.health.service

    async def open(self) -> NodeStatus:
        return await self._node.open()

    async def start_serving(self) -> NodeStatus:
        return await self._node.start_serving()

    async def stop_serving(self, drain_timeout_s: float | None = None) -> bool:
        return await self._node.stop_serving(drain_timeout_s)

    async def close(self, drain_timeout_s: float | None = None) -> bool:
        return await self._node.close(drain_timeout_s)

    async def start_engine(self) -> None:
        """The engine alone (EngineStartError: not after a GPU fault, nor before opening)."""
        await self._node.start_engine()

    async def stop_engine(self, drain_timeout_s: float = 10.0) -> None:
        await self._node.stop_engine(drain_timeout_s)

    async def cancel_engine_load(self) -> bool:
        """Cancel beside the engine's load progress (serving stops too)."""
        return await self._node.cancel_engine_load()

    async def ensure_engine(self) -> EngineEndpoint:
        return await self._node.ensure_engine()

    def devnet_endpoint(self) -> DevnetEndpoint | None:
        """The in-app devnet's OpenAI endpoint and token, while serving on the devnet."""
        return self._node.worker.devnet_endpoint

    def wallet_for(self, network: NetworkKind) -> NodeWallet:
        """`network`'s wallet, from the node's registry and keyring (the wizard's choice)."""
        return self._node.wallets.for_network(network, self._node.config.ton_config_file)

    def apply_settings(self, settings: AppSettings) -> None:
        self._node.apply_live_settings(from_app_settings(settings, self._node.config.instance))

    def _on_node_status(self, status: NodeStatus) -> None:
        repeated = replace(status, updated_at_unix=self.status.updated_at_unix) == self.status
        self.status = status
        if not repeated:
            self.status_changed.emit(status)

    def _on_node_notification(self, notification: Notification) -> None:
        self.notification_raised.emit(notification.title, notification.message,
                                      notification.severity == "critical")

    def _on_node_ledger_switched(self, event: LedgerSwitched) -> None:
        self.ledger = event
        self.ledger_switched.emit(event)

    def _on_node_wallet_reopened(self, wallet: NodeWallet) -> None:
        self.wallet = wallet
        self.wallet_reopened.emit(wallet)
