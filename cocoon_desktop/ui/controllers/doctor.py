"""DoctorController: the eligibility report, from `cocoon-desktop-cli doctor --json` run as a
child process (it loads NVML and llama.cpp: kept out of the app's own memory)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

from cocoon_desktop.ui_logic.eligibility import DoctorReportError, eligibility_from_report
from cocoon_desktop.ui_logic.wizard import EligibilityView

DOCTOR_TIMEOUT_S = 90.0


def cli_command(*args: str) -> list[str]:
    """How to run one of the app's commands: the frozen executable, or this interpreter."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "cocoon_desktop", *args]


class DoctorController(QObject):
    report_ready = Signal(object)  # EligibilityView
    report_failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.report: dict[str, Any] | None = None

    async def run(self, timeout_s: float = DOCTOR_TIMEOUT_S) -> EligibilityView:
        try:
            process = await asyncio.create_subprocess_exec(
                *cli_command("doctor", "--json"), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            try:
                out, err = await asyncio.wait_for(process.communicate(), timeout_s)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise DoctorReportError(f"The eligibility check did not finish within "
                                        f"{timeout_s:.0f} s; try again.") from None
            try:
                self.report = json.loads(out)
            except ValueError:
                tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise DoctorReportError(f"The eligibility check failed ({tail[0]}); run "
                                        "`cocoon-desktop-cli doctor` in a terminal.") from None
            view = eligibility_from_report(self.report)
        except (DoctorReportError, OSError) as exc:
            self.report_failed.emit(str(exc))
            raise
        self.report_ready.emit(view)
        return view
