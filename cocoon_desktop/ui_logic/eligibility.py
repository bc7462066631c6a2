"""The doctor's JSON report (`cocoon-desktop-cli doctor --json`) as the wizard shows it."""

from __future__ import annotations

from typing import Any

from cocoon_desktop.ui_logic.wizard import EligibilityView

MAINNET_TIER = "cocoon-mainnet"
TEST_NETWORKS_TIER = "test-networks"


class DoctorReportError(ValueError):
    """The report could not be read; the text says what to do."""


def eligibility_from_report(report: Any) -> EligibilityView:
    try:
        verdict = report["verdict"]
        tier = str(verdict["tier"])
        checks = tuple(
            (str(c["title"]), str(c["status"]), str(c["summary"])) for c in report["checks"]
        )
        return EligibilityView(
            headline=str(verdict["headline"]),
            reasons=tuple(str(r) for r in verdict["reasons"]),
            mainnet_eligible=tier == MAINNET_TIER,
            test_networks_eligible=tier in (MAINNET_TIER, TEST_NETWORKS_TIER),
            next_steps=tuple(str(s) for s in verdict.get("next_steps", ())),
            checks=checks,
        )
    except (KeyError, TypeError) as exc:
        raise DoctorReportError(
            f"The eligibility report is incomplete ({exc}); run `cocoon-desktop-cli doctor` "
            "in a terminal to see it."
        ) from None
