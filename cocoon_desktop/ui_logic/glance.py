"""The tray's earnings glance: which icon to show and what the tooltip and menu say.

Built from plain facts the adapters collect, so the rules are tested without a tray. The menu
leads with the current rate (what serving earns now), beside today's total.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cocoon_desktop.earnings.labels import money_note
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.ui_logic.rate import EarningRate, tray_rate_line


class TrayState(StrEnum):
    SERVING = "serving"  # taking network jobs
    PAUSED = "paused"  # not taking jobs: not serving, paused by protection, engine stopped
    ATTENTION = "attention"  # something needs the user: a crash, an Xid error, a wallet problem


@dataclass(frozen=True)
class GlanceFacts:
    """Everything the tray shows; None means "not known yet" and shows as a dash."""

    serving: bool = False  # taking network jobs now
    wanted: bool = False  # the user asked to serve (the tray's action stops it)
    pause_reason: str = ""  # why serving is paused though wanted, e.g. "GPU at 85 °C"
    attention: str = ""  # non-empty puts the icon in the attention state
    earnings_network: NetworkKind | None = None  # whose ledger the figures below come from
    rate: EarningRate | None = None
    earned_today_nanoton: int | None = None
    earned_total_nanoton: int | None = None
    pending_payout_nanoton: int | None = None
    node_balance_nanoton: int | None = None
    gpu_temperature_c: float | None = None
    active_jobs: int | None = None


def tray_state(facts: GlanceFacts) -> TrayState:
    if facts.attention:
        return TrayState.ATTENTION
    return TrayState.SERVING if facts.serving else TrayState.PAUSED


def status_line(facts: GlanceFacts) -> str:
    match tray_state(facts):
        case TrayState.ATTENTION:
            return f"Needs attention: {facts.attention}"
        case TrayState.SERVING:
            return "Serving"
    return f"Paused: {facts.pause_reason}" if facts.pause_reason else "Not serving"


def glance_lines(facts: GlanceFacts) -> list[str]:
    """The menu's information lines, in order: state, whose money, the rate now, totals."""
    temperature = (
        "—" if facts.gpu_temperature_c is None else f"{facts.gpu_temperature_c:.0f} °C"
    )
    jobs = "—" if facts.active_jobs is None else str(facts.active_jobs)
    network = facts.earnings_network
    return [
        status_line(facts),
        money_note(network) if network is not None else "Earnings: not read yet",
        tray_rate_line(facts.rate),
        f"Earned today: {format_ton(facts.earned_today_nanoton)}",
        f"Earned all time: {format_ton(facts.earned_total_nanoton)}",
        f"Pending payout: {format_ton(facts.pending_payout_nanoton)}",
        f"Node wallet: {format_ton(facts.node_balance_nanoton)}",
        f"GPU: {temperature} · active jobs: {jobs}",
    ]


def tooltip(facts: GlanceFacts) -> str:
    return "Cocoon Desktop\n" + "\n".join(glance_lines(facts))


def close_notice(serving: bool) -> tuple[str, str]:
    """What the app says the first time its window closes to the tray: the truth about
    serving, whichever it is."""
    if serving:
        return ("Cocoon Desktop keeps serving",
                "It runs on in the tray and keeps taking network jobs. Quit from the tray menu.")
    return ("Cocoon Desktop is in the tray",
            "It is not serving now; start serving or quit from the tray menu.")
