"""What the tray icon, tooltip and menu say."""

from __future__ import annotations

from cocoon_desktop.ui_logic.glance import GlanceFacts, TrayState, glance_lines, tooltip, tray_state


def test_state_priority() -> None:
    assert tray_state(GlanceFacts()) is TrayState.PAUSED
    assert tray_state(GlanceFacts(serving=True)) is TrayState.SERVING
    assert tray_state(GlanceFacts(serving=True, attention="engine crashed")) is TrayState.ATTENTION


def test_lines_show_unknown_as_dash_never_zero() -> None:
    lines = glance_lines(GlanceFacts(pause_reason="GPU at 86 °C"))
    assert lines[0] == "Paused: GPU at 86 °C"
    assert "Earned today: —" in lines and "GPU: — · active jobs: —" in lines


def test_tooltip_with_figures() -> None:
    facts = GlanceFacts(serving=True, earned_today_nanoton=1_500_000_000,
                        earned_total_nanoton=12_000_000_000, pending_payout_nanoton=0,
                        node_balance_nanoton=2_100_000_000, gpu_temperature_c=64.4,
                        active_jobs=2)
    text = tooltip(facts)
    assert text.startswith("Cocoon Desktop\nServing")
    assert "Earned today: 1.50 TON" in text and "Pending payout: 0.00 TON" in text
    assert "Earnings: not read yet" in text  # which network's figures: not known yet
    assert "GPU: 64 °C · active jobs: 2" in text
