"""The serving panel: the Serve toggle and the node's state, the engine, model, throughput,
and while the model loads a progress bar with Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from cocoon_desktop.engine.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineState, base_model_name
from cocoon_desktop.node.status import NEEDS_USER, NodeState, NodeStatus
from cocoon_desktop.ui.aio import spawn
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.widgets import Card, StateLabel, key_value_row
from cocoon_desktop.ui_logic.status_text import engine_line, panel_headline, speculation_line

STATE_LEVEL = {EngineState.READY: "good", EngineState.LOADING: "", EngineState.STOPPING: "",
               EngineState.STOPPED: "", EngineState.CRASHED: "bad"}
LOAD_STEPS = 1000  # the bar's range: tenths of a per cent
NODE_LEVEL = {NodeState.SERVING: "good", NodeState.PAUSED: "warn", NodeState.RETRYING: "warn",
              NodeState.STARTING: "", NodeState.STOPPING: "", NodeState.STOPPED: ""}


class EnginePanel(Card):
    def __init__(self, engine: EngineController, node: NodeController,
                 parent: QWidget | None = None) -> None:
        super().__init__("Serving", parent)
        self.engine = engine
        self.node = node
        self.serve_button = QPushButton("Serve")
        self.serve_button.setCheckable(True)
        self.serve_button.setMinimumHeight(36)
        self.serving_state = StateLabel()
        self.what_to_do = StateLabel()
        self.engine_state = StateLabel()
        self.engine_button = QPushButton("Start engine")
        self.model_button = QPushButton("Model…")
        self.values: dict[str, QLabel] = {}
        row = QHBoxLayout()
        row.addWidget(self.serve_button)
        row.addWidget(self.serving_state, 1)
        self.body.addLayout(row)
        self.body.addWidget(self.what_to_do)
        engine_row = QHBoxLayout()
        engine_row.addWidget(self.engine_state, 1)
        engine_row.addWidget(self.model_button)
        engine_row.addWidget(self.engine_button)
        self.body.addLayout(engine_row)
        self.body.addLayout(self._load_row())
        for name in ("Model", "GPU offload", "Throughput", "Speculation", "Engine load",
                     "Network jobs", "Capacity", "Isolation"):
            label = QLabel("—")
            label.setWordWrap(True)
            self.values[name] = label
            self.body.addWidget(key_value_row(name, label))
        self.warnings = StateLabel()
        self.body.addWidget(self.warnings)
        self.serve_button.clicked.connect(self._on_serve_clicked)
        self.engine_button.clicked.connect(self._on_engine_clicked)
        engine.status_changed.connect(self.show_engine)
        node.status_changed.connect(self.show_node)
        self.show_engine(engine.status)
        self.show_node(node.status)

    def _load_row(self) -> QHBoxLayout:
        self.load_bar = QProgressBar()
        self.load_bar.setRange(0, 0)  # busy until the weights start loading
        self.load_bar.setFormat("Loading the model: %p %")
        self.load_bar.setToolTip("Share of the model's weights in memory")
        self.cancel_load_button = QPushButton("Cancel")
        self.cancel_load_button.setToolTip("Stop loading the model (serving stops too)")
        self.cancel_load_button.clicked.connect(self._on_cancel_load_clicked)
        row = QHBoxLayout()
        row.addWidget(self.load_bar, 1)
        row.addWidget(self.cancel_load_button)
        self._show_load(None, loading=False)
        return row

    def _show_load(self, fraction: float | None, *, loading: bool) -> None:
        self.load_bar.setVisible(loading)
        self.cancel_load_button.setVisible(loading)
        if not loading:
            self.cancel_load_button.setEnabled(True)
            return
        if fraction is None:
            self.load_bar.setRange(0, 0)
        else:
            self.load_bar.setRange(0, LOAD_STEPS)
            self.load_bar.setValue(round(fraction * LOAD_STEPS))

    def show_node(self, status: NodeStatus) -> None:
        self.serve_button.setChecked(status.wanted)
        self.serve_button.setText("Stop serving" if status.wanted else "Serve")
        self.serve_button.setEnabled(status.state is not NodeState.STOPPING)
        level = "bad" if status.state in NEEDS_USER else NODE_LEVEL.get(status.state, "")
        self.serving_state.set_state(panel_headline(status), level)
        self.what_to_do.set_state(status.what_to_do, "warn" if status.what_to_do else "")
        self.what_to_do.setVisible(bool(status.what_to_do))
        if status.engine_capacity_note:
            self.values["Capacity"].setText(status.engine_capacity_note)
        if status.worker is not None:
            w = status.worker
            self.values["Network jobs"].setText(
                f"{w.active_requests} of {w.max_active_requests} running · "
                f"{w.connected_proxies} {'proxy' if w.connected_proxies == 1 else 'proxies'} "
                "connected")

    def show_engine(self, status: EngineStatus) -> None:
        self.engine_state.set_state(engine_line(status.state, status.detail),
                                    STATE_LEVEL[status.state])
        running = status.state in (EngineState.LOADING, EngineState.READY)
        self._show_load(status.load_fraction, loading=status.state is EngineState.LOADING)
        self.engine_button.setText("Stop engine" if running else "Start engine")
        self.engine_button.setEnabled(status.state is not EngineState.STOPPING)
        stats = status.stats
        if stats is not None:
            self.values["Model"].setText(base_model_name(stats.model_name))
            self.values["Model"].setToolTip(stats.model_name)
            if stats.supports_gpu_offload:
                offload = f"{stats.gpu_layers_offloaded} layers on the GPU"
            else:
                offload = "CPU only (this llama.cpp build cannot offload)"
            self.values["GPU offload"].setText(offload)
            self.values["Throughput"].setText(f"{stats.tokens_per_second_recent:.1f} tokens/s "
                                              "(last 10 s)")
            self.values["Speculation"].setText(speculation_line(stats))
            self.values["Engine load"].setText(
                f"{stats.active_requests} running · {stats.queued_requests} queued "
                f"(of {stats.capacity} at once)")
        if status.sandbox is not None:
            self.values["Isolation"].setText(status.sandbox.detail)
        self.warnings.set_state("\n".join(status.warnings), "warn" if status.warnings else "")

    def _on_serve_clicked(self, checked: bool) -> None:
        if checked:
            spawn(self.node.start_serving(), name="serving.start")
        else:
            spawn(self.node.stop_serving(), name="serving.stop")

    def _on_cancel_load_clicked(self) -> None:
        self.cancel_load_button.setEnabled(False)  # once; shown again for the next load
        spawn(self.node.cancel_engine_load(), name="engine.cancel-load")

    def _on_engine_clicked(self) -> None:
        if self.engine.status.state in (EngineState.LOADING, EngineState.READY):
            spawn(self.engine.stop(), name="engine.stop")
        else:
            spawn(self.engine.start(), name="engine.start")
