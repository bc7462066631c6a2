"""The local devnet, made visible: "Send test jobs" (a few prompts a second through the devnet's
client, stoppable), and the devnet's OpenAI endpoint and token to copy into any OpenAI client.
Shown while the app is set to serve on the devnet."""

from __future__ import annotations

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QWidget

from cocoon_desktop.core.tasks import spawn
from cocoon_desktop.network.devnet.load import DevnetEndpoint, LoadCounts
from cocoon_desktop.node.status import NodeStatus
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui.controllers.devnet_load import JOBS_PER_SECOND, DevnetLoadController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.icons import icon
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import AddressLine, Card, StateLabel, muted, restyle, set_button_icon

SEND = "Send test jobs"
STOP = "Stop test jobs"


def counts_text(counts: LoadCounts) -> str:
    state = (f"Sending about {JOBS_PER_SECOND:g} jobs a second" if counts.running
             else "Stopped" if counts.sent else "No test jobs sent yet")
    if not counts.sent:
        return state + "."
    failed = f" · {counts.failed} failed ({counts.last_error})" if counts.failed else ""
    return f"{state}: {counts.sent} sent · {counts.answered} answered{failed}."


class DevnetCard(Card):
    def __init__(self, load: DevnetLoadController, node: NodeController,
                 parent: QWidget | None = None) -> None:
        super().__init__("Local devnet: see the whole path work", parent)
        self.load = load
        self.send_button = QPushButton(SEND)
        self.send_button.setObjectName("primary")
        self.counts = StateLabel(counts_text(LoadCounts()))
        row = QHBoxLayout()
        row.setSpacing(Space.M)
        row.addWidget(self.send_button)
        row.addWidget(self.counts, 1)
        self.body.addLayout(row)
        self.endpoint = AddressLine()
        self.token = AddressLine()
        grid = QGridLayout()
        grid.setHorizontalSpacing(Space.M)
        grid.addWidget(muted("OpenAI endpoint", wrap=False), 0, 0)
        grid.addWidget(self.endpoint, 0, 1)
        grid.addWidget(muted("API key (token)", wrap=False), 1, 0)
        grid.addWidget(self.token, 1, 1)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self.hint = muted("")
        self.body.addWidget(self.hint)
        self.send_button.clicked.connect(self._on_send_clicked)
        load.endpoint_changed.connect(lambda _e: self.show_endpoint(load.endpoint))
        load.progressed.connect(self.show_counts)
        node.status_changed.connect(self._on_node_status_changed)
        self._on_node_status_changed(node.status)
        self.show_endpoint(load.endpoint)

    def _on_node_status_changed(self, status: NodeStatus) -> None:
        self.setVisible(status.network is NetworkKind.DEVNET)

    def show_endpoint(self, endpoint: DevnetEndpoint | None) -> None:
        self.send_button.setEnabled(self.load.available or self.load.running)
        if endpoint is None:
            self.endpoint.set_text("Opens when you start serving.", "")
            self.token.set_text("—", "")
            self.hint.setText("Start serving: the devnet's proxy and client start on this "
                              "computer, then test jobs can go and any OpenAI client can ask.")
            return
        self.endpoint.set_text(endpoint.base_url)
        self.token.set_text(endpoint.token)
        model = self.load.model or "the served model"
        self.hint.setText(f"Any OpenAI client works: base URL above, the token as its API key, "
                          f"model \"{model}\". Answers come from your engine through the "
                          "devnet's proxy and earn test tokens.")

    def show_counts(self, counts: LoadCounts) -> None:
        self.counts.set_state(counts_text(counts), "bad" if counts.failed and not
                              counts.answered else "")
        self.send_button.setText(STOP if counts.running else SEND)
        set_button_icon(self.send_button, icon("stop") if counts.running else QIcon())
        restyle(self.send_button, "" if counts.running else "primary")
        self.send_button.setEnabled(self.load.available or counts.running)

    def _on_send_clicked(self) -> None:
        if self.load.running:
            spawn(self.load.stop(), name="devnet.test-jobs.stop")
        else:
            self.load.start()
