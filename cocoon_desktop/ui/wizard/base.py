"""What every wizard page shares: the machine, the services, a title and a change signal."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cocoon_desktop.ui.controllers.doctor import DoctorController
from cocoon_desktop.ui.controllers.models import ModelController
from cocoon_desktop.ui.controllers.wallet import WalletController
from cocoon_desktop.ui.theme import Space
from cocoon_desktop.ui.widgets import StateLabel, muted
from cocoon_desktop.ui_logic.wizard import WizardError, WizardMachine


@dataclass
class WizardServices:
    doctor: DoctorController
    wallet: WalletController
    models: ModelController
    free_vram_bytes: int | None  # the largest GPU's free memory now; None without a GPU
    gpu_present: bool
    context_tokens: int

    def offload_supported(self) -> bool:
        """Whether llama.cpp can use the GPU here, as the doctor found (it loads llama.cpp in
        its own process); before its report, assume yes when there is a GPU."""
        facts = (self.doctor.report or {}).get("facts", {})
        found = facts.get("llama_offload") if isinstance(facts, dict) else None
        return bool(found) if found is not None else self.gpu_present


class WizardPage(QWidget):
    changed = Signal()  # the machine moved or can now advance: the window re-syncs

    title = ""
    subtitle = ""

    def __init__(self, machine: WizardMachine, services: WizardServices,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.machine = machine
        self.services = services
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(Space.XL, Space.L, Space.XL, Space.S)
        self.layout_.setSpacing(Space.S)
        heading = QLabel(self.title)
        heading.setObjectName("figure")
        self.layout_.addWidget(heading)
        if self.subtitle:
            self.layout_.addWidget(muted(self.subtitle))
        self.error = StateLabel()

    def finish_layout(self) -> None:
        """The error goes right under the page's content (next to what it is about), the
        empty space after it."""
        self.layout_.addWidget(self.error)
        self.layout_.addStretch(1)

    def enter(self) -> None:
        """Called each time the page is shown."""

    def leave(self) -> None:
        """Called when the wizard moves on or closes."""

    def act(self, action: object) -> bool:
        """Run a machine action; show a WizardError under the page instead of raising."""
        try:
            if callable(action):
                action()
        except WizardError as exc:
            self.error.set_state(str(exc), "bad")
            return False
        self.error.set_state("")
        self.changed.emit()
        return True
