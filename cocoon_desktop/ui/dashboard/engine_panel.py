"""The serving panel: the Serve toggle and the node's state, the engine, model, throughput,
and while the model loads a progress bar with Cancel.

It shows one `NodeStatus` at a time, the engine's status inside it included, so the node's
headline and the engine's line always come from the same moment.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.engine.host.supervisor import EngineStartError, EngineStatus
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NEEDS_USER, NodeState, NodeStatus
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.dashboard.attestation_line import AttestationLine
from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.widgets import Card, StateLabel, key_value_row, restyle, set_button_icon
from cocoon_desktop.ui_logic.status_text import (
    engine_line,
    live_stats,
    panel_headline,
    panel_rows,
    serve_action,
    throughput_tooltip,
)

log = logging.getLogger(__name__)
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
        self.serve_button = QPushButton(serve_action(False))
        self.serve_button.setCheckable(True)
        self.serve_button.setMinimumHeight(36)
        self.serving_state = StateLabel()
        self.what_to_do = StateLabel()
        self.engine_state = StateLabel()
        self.engine_button = QPushButton("Start engine")
        self.model_button = QPushButton(icon("model"), "Model…")
        self.values: dict[str, QLabel] = {}
        row = QHBoxLayout()
        row.addWidget(self.serve_button)
        row.addStretch(1)
        row.addWidget(self.model_button)
        row.addWidget(self.engine_button)
        self.body.addLayout(row)
        self.body.addWidget(self.serving_state)
        self.body.addWidget(self.what_to_do)
        self.body.addWidget(self.engine_state)
        self.body.addLayout(self._load_row())
        for name in ("Model", "GPU offload", "Throughput", "Speculation", "Engine load",
                     "Network jobs", "Capacity", "Isolation"):
            label = QLabel("—")
            label.setWordWrap(True)
            self.values[name] = label
            self.body.addWidget(key_value_row(name, label))
        self.attestation = AttestationLine(engine, node)
        self.body.addWidget(key_value_row("Attestation", self.attestation))
        self.warnings = StateLabel()
        self.body.addWidget(self.warnings)
        self.serve_button.clicked.connect(self._on_serve_clicked)
        self.engine_button.clicked.connect(self._on_engine_clicked)
        node.status_changed.connect(self.show_status)
        self.show_status(node.status)

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

    def show_status(self, status: NodeStatus) -> None:
        """The node's state and its engine's, as of this status."""
        self._show_serving(status)
        # In the VM the bar is the whole start: the boot's steps, then the model's load.
        self.load_bar.setFormat("Starting the VM: %p %" if status.vm is not None
                                else "Loading the model: %p %")
        self._show_engine(status.engine, gpu_fault=status.protection.stopped_because is not None)

    def _show_serving(self, status: NodeStatus) -> None:
        self.serve_button.setChecked(status.wanted)
        self.serve_button.setText(serve_action(status.wanted))
        # The primary action stands out by its colour; stopping is a plain button with its icon.
        set_button_icon(self.serve_button, icon("stop") if status.wanted else QIcon())
        restyle(self.serve_button, "" if status.wanted else "primary")
        self.serve_button.setEnabled(status.state is not NodeState.STOPPING)
        level = "bad" if status.state in NEEDS_USER else NODE_LEVEL.get(status.state, "")
        self.serving_state.set_state(panel_headline(status), level)
        self.what_to_do.set_state(status.what_to_do, "warn" if status.what_to_do else "")
        self.what_to_do.setVisible(bool(status.what_to_do))
        for name, text in panel_rows(status).items():
            self.values[name].setText(text)
        stats = status.engine.stats
        self.values["Model"].setToolTip(stats.model_name if stats is not None else "")
        self.values["Throughput"].setToolTip(throughput_tooltip(live_stats(status)))

    def _show_engine(self, status: EngineStatus, *, gpu_fault: bool) -> None:
        self.engine_state.set_state(engine_line(status.state, status.detail),
                                    STATE_LEVEL[status.state])
        running = status.state in (EngineState.LOADING, EngineState.READY)
        self._show_load(status.load_fraction, loading=status.state is EngineState.LOADING)
        self.engine_button.setText("Stop engine" if running else "Start engine")
        # After a GPU fault only serving again (the user's word the card is fine) may start it.
        self.engine_button.setEnabled(status.state is not EngineState.STOPPING
                                      and (running or not gpu_fault))
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
            spawn(self._start_engine(), name="engine.start")

    async def _start_engine(self) -> None:
        try:
            await self.engine.start()
        except EngineStartError as exc:  # the status shows why, with what to do
            log.warning("the engine was not started: %s", exc)
