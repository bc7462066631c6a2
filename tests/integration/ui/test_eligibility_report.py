"""The wizard's eligibility step reads the real doctor's JSON report (run as the app runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cocoon_desktop.ui_logic.eligibility import DoctorReportError, eligibility_from_report


def test_eligibility_from_the_doctors_real_json_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cocoon_desktop", "doctor", "--json", "--timeout", "1"],
        capture_output=True, text=True, env={"COCOON_HOME": str(tmp_path), "PATH": "/usr/bin"},
        timeout=120,
    )
    view = eligibility_from_report(json.loads(done.stdout))
    assert view.headline.startswith("This machine can serve")
    assert view.reasons and view.checks
    assert any(title == "NVIDIA driver" for title, _, _ in view.checks)
    assert not view.mainnet_eligible  # no TDX on a test machine


def test_incomplete_report_is_explained() -> None:
    with pytest.raises(DoctorReportError, match="incomplete"):
        eligibility_from_report({"verdict": {}})
