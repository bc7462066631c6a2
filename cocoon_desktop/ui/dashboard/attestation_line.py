"""The serving panel's attestation line: what attests the engine that runs, and for which
networks that is enough ("Fake TDX (software): Test networks and private deployments only.").

It follows the engine's launches and the network the node serves; each launch is measured once
on the blocking pool (`engine_attestation`: the engine's code, llama.cpp, the model and the
settings, plus one quote). The desktop app always lets the network choose the quote kind
("auto"); a rig file may name another, but the headless service has no dashboard. When the
node serves from the confidential VM, the VM attests it: the line says its mode (TDX, or KVM
and TCG with what they are good for) and the tooltip its image hash and measured config.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from cocoon_desktop.core.tasks import run_blocking, spawn
from cocoon_desktop.engine.attestation.measurement import MeasurementError, engine_attestation
from cocoon_desktop.engine.attestation.providers import quote_kind_for
from cocoon_desktop.engine.types import EngineSettings, EngineState
from cocoon_desktop.protocol.tdx_quote import QuoteError
from cocoon_desktop.ui.controllers.engine import EngineController
from cocoon_desktop.ui.controllers.node import NodeController
from cocoon_desktop.ui.widgets import StateLabel
from cocoon_desktop.ui_logic.status_text import attestation_line, vm_attestation_line

NOT_RUNNING = "Measured when the engine runs."
RUNNING = (EngineState.LOADING, EngineState.READY)


class AttestationLine(StateLabel):
    def __init__(self, engine: EngineController, node: NodeController,
                 parent: QWidget | None = None) -> None:
        super().__init__(NOT_RUNNING, parent)
        self.engine = engine
        self.node = node
        self.measured: tuple[EngineSettings, str] | None = None  # what the line shows
        engine.status_changed.connect(self.refresh)
        node.status_changed.connect(self.refresh)
        self.refresh()

    def refresh(self, _status: object = None) -> None:
        vm = self.node.status.vm
        if vm is not None:
            self.measured = None
            line, level, details = vm_attestation_line(vm)
            self.set_state(line, level)
            self.setToolTip(details)
            return
        status = self.engine.status
        if status.state not in RUNNING or status.settings is None:
            self.measured = None
            self.set_state(NOT_RUNNING)
            self.setToolTip("")
            return
        wanted = (status.settings, quote_kind_for(self.node.status.network))
        if wanted != self.measured:
            self.measured = wanted
            self.set_state("Measuring the engine…")
            spawn(self._measure(wanted), name="engine.attestation")

    async def _measure(self, wanted: tuple[EngineSettings, str]) -> None:
        try:
            status = await run_blocking(engine_attestation, *wanted)
        except (QuoteError, MeasurementError, ValueError) as exc:
            if wanted == self.measured:
                self.set_state(f"Cannot be shown: {exc}", "bad")
            return
        if wanted == self.measured:  # not another launch or network meanwhile
            line, level, details = attestation_line(status)
            self.set_state(line, level)
            self.setToolTip(details)
