"""The doctor's report: what this machine can serve, and why (`cocoon-desktop-cli doctor`).

Python API (the UI's first-run wizard shows the same report):

    report = run_doctor(DoctorInputs(disk_path=paths.data_dir, endpoints=(...)))
    report.verdict.tier / .headline / .reasons / .next_steps
    report.checks                   # one line per fact, with a status and a fix
    report.to_dict()                # JSON-ready
    render_text(report)             # what the command prints
    write_support_bundle(report, dest, log_dir)   # doctor/bundle.py

It blocks for up to `timeout_s` (network probes) plus the NVML and llama.cpp start-up: run it
off the UI thread.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocoon_desktop import __version__
from cocoon_desktop.doctor.checks import Check, CheckStatus, build_checks
from cocoon_desktop.doctor.probes import (
    Endpoint,
    KeyringFacts,
    VmModeFacts,
    probe_confidential_gpu,
    probe_disk,
    probe_endpoints,
    probe_keyring,
    probe_llama_offload,
    probe_nvidia,
    probe_tdx,
)
from cocoon_desktop.doctor.verdict import MachineFacts, Verdict, conclude
from cocoon_desktop.hardware.gpu.nvml import Nvml


@dataclass(frozen=True)
class DoctorInputs:
    disk_path: Path
    endpoints: tuple[Endpoint, ...] = ()
    timeout_s: float = 3.0
    root: Path = Path("/")  # where /dev, /proc and /sys are (tests point it elsewhere)
    nvml: Nvml | None = None
    llama_offload: Callable[[], tuple[bool | None, str]] = probe_llama_offload
    keyring: Callable[[], KeyringFacts] = probe_keyring
    # The VM's modes (TDX / KVM / TCG); none given: the report says they were not checked.
    vm_modes: Callable[[], tuple[VmModeFacts, ...]] = lambda: ()


@dataclass(frozen=True)
class DoctorReport:
    created_at: float
    app_version: str
    facts: MachineFacts
    checks: tuple[Check, ...]
    verdict: Verdict
    problems: tuple[Check, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    """Make `asdict` output JSON-ready (enums to their values, paths to text)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def run_doctor(inputs: DoctorInputs) -> DoctorReport:
    nvml = inputs.nvml or Nvml()
    try:
        nvidia = probe_nvidia(nvml, inputs.root)
        confidential = probe_confidential_gpu(nvml)
    finally:
        if inputs.nvml is None:  # a session the caller passed in stays theirs
            nvml.shutdown()
    offload, llama_detail = inputs.llama_offload()
    disk_path, disk_free = probe_disk(inputs.disk_path)
    facts = MachineFacts(
        nvidia=nvidia,
        confidential_gpu=confidential,
        tdx=probe_tdx(inputs.root),
        llama_offload=offload,
        llama_detail=llama_detail,
        disk_path=str(disk_path),
        disk_free_bytes=disk_free,
        keyring=inputs.keyring(),
        endpoints=probe_endpoints(inputs.endpoints, inputs.timeout_s),
        vm_modes=inputs.vm_modes(),
    )
    checks = build_checks(facts)
    problems = tuple(c for c in checks if c.status is CheckStatus.PROBLEM)
    return DoctorReport(time.time(), __version__, facts, checks, conclude(facts), problems)


_MARKS = {CheckStatus.OK: "ok", CheckStatus.INFO: "--", CheckStatus.WARNING: "!!",
          CheckStatus.PROBLEM: "XX"}


def render_text(report: DoctorReport) -> str:
    lines = ["Cocoon Desktop doctor", ""]
    width = max(len(c.title) for c in report.checks)
    for check in report.checks:
        lines.append(f"[{_MARKS[check.status]}] {check.title:<{width}}  {check.summary}")
        if check.fix:
            lines.append(f"     {'':<{width}}  -> {check.fix}")
    verdict = report.verdict
    lines += ["", verdict.headline, ""]
    lines += [f"  Why: {reason}" for reason in verdict.reasons]
    lines += [f"  Next: {step}" for step in verdict.next_steps]
    return "\n".join(lines) + "\n"
