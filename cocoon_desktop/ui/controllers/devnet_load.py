"""DevnetLoadController: the local devnet's endpoint and the user's test jobs, as signals.

While the node serves on the in-app devnet, its OpenAI endpoint and token are shown (any OpenAI
client can be pointed at them), and "Send test jobs" runs a `LoadGenerator` through that same
endpoint: jobs, throughput and test-token earnings then move on the dashboard and in the tray.
The load stops with serving, and when the user says so.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.network.devnet.load import DevnetEndpoint, LoadCounts, LoadGenerator
from cocoon_desktop.node.status import NodeState, NodeStatus
from cocoon_desktop.protocol.model_names import base_model_name
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.controllers.node import NodeController

JOBS_PER_SECOND = 2.0
MAX_TOKENS = 16


class DevnetLoadController(QObject):
    endpoint_changed = Signal(object)  # DevnetEndpoint | None (or the model became known)
    progressed = Signal(object)  # LoadCounts

    def __init__(self, node: NodeController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._node = node
        self.endpoint: DevnetEndpoint | None = None
        self.model = ""
        self.load: LoadGenerator | None = None
        self.counts = LoadCounts()
        node.status_changed.connect(self._on_node_status_changed)

    @property
    def running(self) -> bool:
        return self.load is not None and self.load.running

    @property
    def available(self) -> bool:
        """Serving on the devnet with a ready engine: test jobs can go."""
        return self.endpoint is not None and bool(self.model)

    def start(self) -> None:
        if self.running or not self.available:
            return
        assert self.endpoint is not None
        worker = self._node.status.worker
        at_once = worker.max_active_requests if worker is not None else 1
        self.load = LoadGenerator(self.endpoint, self.model, per_second=JOBS_PER_SECOND,
                                  max_in_flight=max(1, at_once), max_tokens=MAX_TOKENS,
                                  on_progress=self._on_load_progress)
        self.load.start()

    async def stop(self) -> None:
        if self.load is not None:
            await self.load.stop()

    def _on_load_progress(self, counts: LoadCounts) -> None:
        self.counts = counts
        self.progressed.emit(counts)

    def _on_node_status_changed(self, status: NodeStatus) -> None:
        on_devnet = status.network is NetworkKind.DEVNET and status.state in (
            NodeState.SERVING, NodeState.PAUSED, NodeState.STARTING)
        endpoint = self._node.devnet_endpoint() if on_devnet else None
        stats = status.engine.stats
        model = base_model_name(stats.model_name) if stats is not None else ""
        if (endpoint, model) != (self.endpoint, self.model):
            self.endpoint, self.model = endpoint, model
            self.endpoint_changed.emit(endpoint)
        if self.running and self.load is not None and self.load.endpoint != endpoint:
            spawn(self.stop(), name="devnet.test-jobs.stop")  # serving stopped (or moved)
