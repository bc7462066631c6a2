"""Mode detection against fakes at the boundary: sysfs files, QEMU's object list, firmware,
the image's kernel, and a probe boot that works, exits or stalls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cocoon_desktop.vm.modes import (
    HostFacts,
    ModeAvailability,
    VmMode,
    choose_mode,
    detect_kvm,
    detect_modes,
    detect_tdx,
    probe_boot,
)


def tdx_host(tmp_path: Path, **changes: object) -> HostFacts:
    (tmp_path / "tdx").write_text("Y\n")
    (tmp_path / "OVMF.inteltdx.fd").write_bytes(b"fw")
    values: dict[str, object] = {
        "qemu_binary": "sh", "kvm_intel_tdx": tmp_path / "tdx",
        "tdx_firmware": (tmp_path / "OVMF.inteltdx.fd",), "dev_kvm": tmp_path / "kvm",
        "qemu_object_types": lambda qemu: "memory-backend-ram\ntdx-guest\n"}
    return HostFacts(**{**values, **changes})  # type: ignore[arg-type]


def test_tdx_available_when_everything_is_there(tmp_path: Path) -> None:
    found = detect_tdx(tdx_host(tmp_path), ())
    assert found.available and "encrypted" in found.reason


@pytest.mark.parametrize(("change", "missing", "reason"), [
    ({"kvm_intel_tdx": Path("/nonexistent/tdx")}, (), "KVM has no TDX"),
    ({"qemu_object_types": lambda q: "memory-backend-ram\n"}, (), "no tdx-guest object"),
    ({"tdx_firmware": (Path("/nonexistent.fd"),)}, (), "no TDX-enabled OVMF"),
    ({}, ("CONFIG_INTEL_TDX_GUEST",), "cannot be a TDX guest"),
])
def test_tdx_unavailable_names_the_reason(tmp_path: Path, change: dict[str, object],
                                          missing: tuple[str, ...], reason: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCOON_VM_TDX_FIRMWARE", raising=False)
    found = detect_tdx(tdx_host(tmp_path, **change), missing)
    assert not found.available and reason in found.reason


async def test_kvm_needs_the_device_and_a_guest_that_boots(tmp_path: Path) -> None:
    facts = tdx_host(tmp_path)
    assert "is missing" in (await detect_kvm(facts, None)).reason
    (tmp_path / "kvm").write_bytes(b"")
    os.chmod(tmp_path / "kvm", 0o600)

    async def stalls() -> tuple[bool, str]:
        return False, "nothing within 20 s"

    async def boots() -> tuple[bool, str]:
        return True, "it booted"

    stalled = await detect_kvm(facts, stalls)
    assert not stalled.available and "does not boot with it here (nothing within 20 s)" \
        in stalled.reason
    assert (await detect_kvm(facts, boots)).available


async def test_the_best_available_mode_is_chosen_and_a_request_is_checked(
        tmp_path: Path) -> None:
    modes = await detect_modes(tdx_host(tmp_path, kvm_intel_tdx=tmp_path / "no"), (), None)
    assert [m.mode for m in modes] == [VmMode.TDX, VmMode.KVM, VmMode.TCG]
    assert choose_mode(modes) is VmMode.TCG
    assert "emulated, slow" in modes[2].label
    with pytest.raises(ValueError, match="KVM is not available"):
        choose_mode(modes, VmMode.KVM)
    nothing = (ModeAvailability(VmMode.TCG, False, "qemu is not installed"),)
    with pytest.raises(ValueError, match="No way to run the VM here: qemu is not installed"):
        choose_mode(nothing)


async def test_probe_boot_reads_the_console_and_times_out(tmp_path: Path) -> None:
    ok = await probe_boot(["sh", "-c", "echo noise; echo 'cocoon-boot: probe ok: x'; sleep 30"])
    assert ok == (True, "it booted")
    exited = await probe_boot(["sh", "-c", "echo 'failed to set MSR'; exit 1"])
    assert exited[0] is False and "failed to set MSR" in exited[1]
    stalled = await probe_boot(["sh", "-c", "sleep 30"], timeout_s=1)
    assert stalled == (False, "nothing within 1 s")
