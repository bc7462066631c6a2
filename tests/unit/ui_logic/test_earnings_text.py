"""What earnings figures say about themselves: the network, test tokens, unknown energy."""

from __future__ import annotations

from datetime import date

import pytest

from cocoon_desktop.earnings.figures import PeriodFigures
from cocoon_desktop.earnings.labels import (
    energy_text,
    export_file_name,
    is_test_money,
    known_energy_j,
    known_net_nanoton,
    money_note,
    net_figure,
)
from cocoon_desktop.settings import NetworkKind


def figures(requests: int = 3, energy_j: float = 0.0, cost_nano: int = 0,
            net: int | None = None) -> PeriodFigures:
    return PeriodFigures(requests, 90, 30, 9_000, energy_j, cost_nano, 1_500, net)


def test_test_networks_say_their_amounts_are_not_real_ton() -> None:
    assert money_note(NetworkKind.DEVNET) == "Devnet: test tokens, not real TON"
    assert money_note(NetworkKind.TESTNET) == "Testnet: test tokens, not real TON"
    assert money_note(NetworkKind.MAINNET) == "Mainnet: real TON"
    assert is_test_money(NetworkKind.DEVNET) and is_test_money(NetworkKind.TESTNET)
    assert not is_test_money(NetworkKind.MAINNET)


def test_the_csv_name_carries_the_network() -> None:
    assert export_file_name(NetworkKind.DEVNET, date(2026, 11, 28)) == (
        "cocoon-earnings-devnet-2026-11-28.csv")
    assert "mainnet" in export_file_name(NetworkKind.MAINNET, date(2026, 1, 1))


def test_unmeasured_energy_is_unknown_not_zero() -> None:
    # The ledger sums an unmeasured request's NULL energy as 0 J.
    assert known_energy_j(figures(energy_j=0.0)) is None
    assert known_energy_j(figures(requests=0)) == 0.0  # nothing served: nothing drawn
    assert known_energy_j(figures(energy_j=42.5)) == 42.5
    assert energy_text(None) == "—"
    assert energy_text(0.42) == "0.4 J" and energy_text(37.2) == "37 J"
    assert energy_text(1250.0) == "1,250 J"


@pytest.mark.parametrize(("period", "value", "caption_part"), [
    (figures(energy_j=42.0, cost_nano=3_500_000, net=8_400), "0.0000084 TON", "earned minus"),
    # A TON price is set, but the energy was never measured: the net is unknown, not gross.
    (figures(energy_j=0.0, cost_nano=0, net=9_000), "—", "not measured"),
    # Measured energy but no electricity price: the net cannot be known either.
    (figures(energy_j=42.0, cost_nano=0, net=9_000), "—", "electricity price"),
    # Priced electricity, no TON price: the cost in the tariff's currency.
    (figures(energy_j=42.0, cost_nano=3_500_000, net=None), "0.00 EUR", "price of one TON"),
    (figures(requests=0, net=0), "0.00 TON", "earned minus"),
])
def test_net_of_electricity_only_when_known(period: PeriodFigures, value: str,
                                           caption_part: str) -> None:
    shown, caption = net_figure(period, "EUR")
    assert shown == value and caption_part in caption
    assert (known_net_nanoton(period) is None) == (value[0] not in "0123456789" or
                                                   value.endswith("EUR"))
