"""What earnings figures say about themselves: which network they belong to, whether they are
real TON, and which parts are unknown.

Each network has its own ledger (`earnings.ledger_files`). Devnet and testnet amounts are test
tokens: every place that shows figures (earnings page, dashboard glance, tray, CSV file name,
the headless log) names the network and says so plainly.

Energy: the ledger stores an unmeasured request's energy as NULL (shown "—"), but its period
sums (`PeriodFigures.energy_j`, `energy_cost_nano`) add NULL as 0. A period with requests and
0 J was not measured, so its energy and its net of electricity are unknown, never "0 J" and
never "net = gross".
"""

from __future__ import annotations

from datetime import date

from cocoon_desktop.earnings.figures import PeriodFigures
from cocoon_desktop.protocol.money import format_ton
from cocoon_desktop.settings import NetworkKind

NETWORK_NAMES = {NetworkKind.DEVNET: "Devnet", NetworkKind.TESTNET: "Testnet",
                 NetworkKind.MAINNET: "Mainnet"}
TEST_NETWORKS = frozenset({NetworkKind.DEVNET, NetworkKind.TESTNET})


def is_test_money(network: NetworkKind) -> bool:
    """Devnet and testnet amounts are worth nothing."""
    return network in TEST_NETWORKS


def money_note(network: NetworkKind) -> str:
    """"Devnet: test tokens, not real TON" / "Mainnet: real TON"."""
    name = NETWORK_NAMES[network]
    return f"{name}: test tokens, not real TON" if is_test_money(network) else f"{name}: real TON"


def export_file_name(network: NetworkKind, day: date) -> str:
    """The CSV's suggested name says whose figures it holds, e.g.
    cocoon-earnings-devnet-2026-11-28.csv."""
    return f"cocoon-earnings-{network.value}-{day.isoformat()}.csv"


def known_energy_j(figures: PeriodFigures) -> float | None:
    """The period's measured GPU energy, or None when it was not measured."""
    if figures.requests and figures.energy_j <= 0:
        return None
    return figures.energy_j


def known_net_nanoton(figures: PeriodFigures) -> int | None:
    """Earned minus electricity, or None when it cannot be known: no TON price, energy not
    measured, or no tariff (electricity not priced)."""
    if figures.net_nanoton is None:
        return None
    if figures.requests and (known_energy_j(figures) is None or figures.energy_cost_nano <= 0):
        return None
    return figures.net_nanoton


def energy_text(joules: float | None) -> str:
    """One request's energy: "—" when not measured, else "0.4 J", "37 J", "1,250 J"."""
    if joules is None:
        return "—"
    return f"{joules:.1f} J" if joules < 10 else f"{joules:,.0f} J"


def net_figure(figures: PeriodFigures, currency: str | None) -> tuple[str, str]:
    """(value, caption) for "net of electricity": the net when known, else why not."""
    net = known_net_nanoton(figures)
    if net is not None:
        return format_ton(net), "earned minus electricity"
    if figures.requests and known_energy_j(figures) is None:
        return "—", "electricity not measured (no GPU energy reading)"
    if figures.energy_cost_nano and currency:
        return (f"{figures.energy_cost_nano / 1e9:.2f} {currency}",
                "electricity; set the price of one TON in Settings for the net")
    if figures.requests and not figures.energy_cost_nano:
        return "—", "set an electricity price in Settings for the net"
    return "—", "earned minus electricity"
