"""Xid classification and the words for clock-event (throttle) reasons."""

from __future__ import annotations

import pynvml

from cocoon_desktop.hardware.gpu.xid import classify_xid, make_event
from cocoon_desktop.hardware.snapshots import (
    ClocksEventReason,
    GpuEventSeverity,
    describe_clocks_event_reasons,
)


def test_our_reason_bits_are_nvmls() -> None:
    for flag in ClocksEventReason:
        assert flag.name is not None
        nvml_name = "nvmlClocksEventReason" + "".join(
            word.capitalize() for word in flag.name.split("_"))
        assert int(flag) == getattr(pynvml, nvml_name), nvml_name


def test_reasons_in_words_including_unknown_bits() -> None:
    assert describe_clocks_event_reasons(0) == ()
    assert describe_clocks_event_reasons(0x1 | 0x4) == ("idle", "power cap")
    assert describe_clocks_event_reasons(0x40 | 0x800) == (
        "hardware thermal slowdown", "other (0x800)")


def test_hardware_faults_are_critical_program_faults_are_not() -> None:
    assert classify_xid(79)[1] is GpuEventSeverity.CRITICAL
    assert classify_xid(48)[1] is GpuEventSeverity.CRITICAL
    assert classify_xid(45)[1] is GpuEventSeverity.APPLICATION  # every killed CUDA program
    assert classify_xid(13)[1] is GpuEventSeverity.APPLICATION
    assert classify_xid(63)[1] is GpuEventSeverity.WARNING  # a row remapped: repaired


def test_unknown_xid_is_treated_as_critical() -> None:
    description, severity = classify_xid(999)
    assert severity is GpuEventSeverity.CRITICAL and "999" in description


def test_events_from_nvml_bits() -> None:
    xid = make_event(pynvml.nvmlEventTypeXidCriticalError, 31, 0, "GPU-a")
    assert (xid.kind, xid.xid, xid.severity) == ("xid", 31, GpuEventSeverity.APPLICATION)
    ecc = make_event(pynvml.nvmlEventTypeDoubleBitEccError, 0, 1, "GPU-b")
    assert (ecc.kind, ecc.xid, ecc.severity) == (
        "double-bit ECC error", None, GpuEventSeverity.CRITICAL)
    gone = make_event(pynvml.nvmlEventTypeGpuUnavailableError, 0, None, None)
    assert gone.severity is GpuEventSeverity.CRITICAL
