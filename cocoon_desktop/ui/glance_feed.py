"""Collects the tray's facts from the adapters and pushes them to the tray when they change."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.hardware.snapshots import HealthTick
from cocoon_desktop.node.status import NEEDS_USER, NodeStatus
from cocoon_desktop.ui.controllers.wallet import WalletView
from cocoon_desktop.ui_logic.glance import GlanceFacts
from cocoon_desktop.ui_logic.rate import EarningRate
from cocoon_desktop.wallet.chain_types import AccountReading


class GlanceFeed(QObject):
    facts_changed = Signal(object)  # GlanceFacts

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.facts = GlanceFacts()
        self._engine_problem = ""
        self._serving_problem = ""
        self._node_address = ""

    def _set(self, **changes: object) -> None:
        facts = replace(self.facts, **changes)  # type: ignore[arg-type]
        attention = self._serving_problem or self._engine_problem
        facts = replace(facts, attention=attention)
        if facts != self.facts:
            self.facts = facts
            self.facts_changed.emit(facts)

    def on_node_status_changed(self, status: NodeStatus) -> None:
        self._serving_problem = status.headline if status.state in NEEDS_USER else ""
        # A pause is protection's (a hot card, a game): the user's own stop is "Not serving".
        reason = "; ".join(status.paused_reasons) if status.wanted else ""
        active = status.worker.active_requests if status.worker is not None else None
        e = status.earnings  # one network's ledger; None (unknown) right after a switch
        self._set(serving=status.accepting, wanted=status.wanted, pause_reason=reason,
                  active_jobs=active,
                  earnings_network=status.earnings_network,
                  rate=EarningRate.of(e) if e else None,
                  earned_today_nanoton=e.today.earned_nanoton if e else None,
                  earned_total_nanoton=e.all_time.earned_nanoton if e else None,
                  pending_payout_nanoton=e.pending_nanoton if e else None)

    def on_engine_status_changed(self, status: EngineStatus) -> None:
        gave_up = status.state is EngineState.CRASHED and status.gave_up
        self._engine_problem = status.detail if gave_up else ""
        self._set()

    def on_wallet_changed(self, view: WalletView) -> None:
        node = view.node_wallet
        address = node.address or "" if node is not None else ""
        if address != self._node_address:  # another wallet (or network): its balance is unknown
            self._node_address = address
            self._set(node_balance_nanoton=None)

    def on_balance_updated(self, address: str, reading: AccountReading) -> None:
        if address == self._node_address and reading.snapshot is not None:
            self._set(node_balance_nanoton=reading.snapshot.balance_nano)

    def on_snapshot_updated(self, tick: HealthTick) -> None:
        temps = [g.temperature_c for g in tick.gpus if g.temperature_c is not None]
        self._set(gpu_temperature_c=float(max(temps)) if temps else None)
