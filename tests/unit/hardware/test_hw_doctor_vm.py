"""The doctor says which ways this host can run the confidential VM (TDX / KVM / TCG) and why
not, without booting one (a KVM probe's answer counts only if one was remembered since this
host started), and for confidential-computing GPUs whether that mode is on. Host facts are fake
files and a fake QEMU; NVML is the fake one (this machine has no GPU, no TDX)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pynvml
import pytest

from cocoon_desktop.cli.doctor import vm_modes
from cocoon_desktop.doctor.checks import CheckStatus
from cocoon_desktop.doctor.probes import KeyringFacts, VmModeFacts
from cocoon_desktop.doctor.report import DoctorInputs, DoctorReport, run_doctor
from cocoon_desktop.doctor.verdict import HardwareCase
from cocoon_desktop.vm import host
from cocoon_desktop.vm.modes import HostFacts, VmMode
from tests.helpers.fake_nvml import FakeGpu, FakeNvml
from tests.helpers.vm_image import fake_manifest

BOOT_ID = "0e5b6a2c-boot"
GOOD_KEYRING = KeyringFacts(True, "keyring.backends.SecretService.Keyring", "Secrets are kept.")
CUDA_BUILD = (True, "llama-cpp-python 0.3.36, built with GPU offload.")


def machine(root: Path) -> Path:
    """A fake / that is no TDX guest."""
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text("flags\t\t: fpu vme tsc\n")
    return root


@pytest.fixture
def kvm_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HostFacts:
    """A host with /dev/kvm, a QEMU without tdx-guest, no TDX in KVM, this boot's id."""
    monkeypatch.delenv("COCOON_VM_TDX_FIRMWARE", raising=False)
    qemu = tmp_path / "bin" / "qemu-system-x86_64"
    qemu.parent.mkdir()
    qemu.write_text("#!/bin/sh\nexit 0\n")
    qemu.chmod(0o755)
    (tmp_path / "kvm").write_bytes(b"")
    os.chmod(tmp_path / "kvm", 0o600)
    (tmp_path / "boot_id").write_text(BOOT_ID + "\n")
    monkeypatch.setattr(host, "BOOT_ID", tmp_path / "boot_id")
    return HostFacts(qemu_binary=str(qemu), dev_kvm=tmp_path / "kvm",
                     kvm_intel_tdx=tmp_path / "no-tdx", tdx_firmware=(),
                     qemu_object_types=lambda _q: "memory-backend-ram\n")


def remember_probe(cache: Path, facts: HostFacts, booted: bool, boot_id: str = BOOT_ID) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "kvm-probe.json").write_text(json.dumps({
        "key": f"{boot_id}/{'ab' * 32}/{facts.qemu_path()}", "booted": booted,
        "detail": "it booted" if booted else "nothing within 20 s"}))


def test_without_a_remembered_probe_kvm_is_not_known_yet(kvm_host: HostFacts,
                                                         tmp_path: Path) -> None:
    tdx, kvm, tcg = host.known_modes(kvm_host, tmp_path / "cache")
    assert [tdx.mode, kvm.mode, tcg.mode] == [VmMode.TDX, VmMode.KVM, VmMode.TCG]
    assert not tdx.available and "KVM has no TDX" in tdx.reason
    assert not kvm.available and "not known yet" in kvm.reason
    assert tcg.available


def test_a_probe_remembered_since_this_host_started_counts(kvm_host: HostFacts,
                                                           tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    remember_probe(cache, kvm_host, booted=False)
    kvm = host.known_modes(kvm_host, cache)[1]
    assert not kvm.available and "does not boot with it here (nothing within 20 s)" in kvm.reason
    remember_probe(cache, kvm_host, booted=True)
    assert host.known_modes(kvm_host, cache)[1].available
    remember_probe(cache, kvm_host, booted=True, boot_id="an-earlier-boot")
    assert "not known yet" in host.known_modes(kvm_host, cache)[1].reason


def test_the_newest_images_kernel_decides_whether_tdx_could_run(
        kvm_host: HostFacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tdx").write_text("Y\n")
    firmware = tmp_path / "OVMF.inteltdx.fd"
    firmware.write_bytes(b"")
    tdx_host = HostFacts(qemu_binary=kvm_host.qemu_binary, dev_kvm=kvm_host.dev_kvm,
                         kvm_intel_tdx=tmp_path / "tdx", tdx_firmware=(firmware,),
                         qemu_object_types=lambda _q: "tdx-guest\n")
    cache = tmp_path / "cache"
    tdx = host.known_modes(tdx_host, cache)[0]
    assert tdx.available and "checked once the image is built" in tdx.reason
    (cache / "images" / "abc").mkdir(parents=True)
    image = fake_manifest(cache / "images" / "abc", ("CONFIG_TSM_REPORTS",))
    image.write()
    tdx = host.known_modes(tdx_host, cache)[0]
    assert not tdx.available and "built without CONFIG_TSM_REPORTS" in tdx.reason


def doctor_with(root: Path, modes: tuple[VmModeFacts, ...]) -> DoctorReport:
    return run_doctor(DoctorInputs(disk_path=root, root=root, llama_offload=lambda: CUDA_BUILD,
                                   keyring=lambda: GOOD_KEYRING, timeout_s=1.0,
                                   vm_modes=lambda: modes))


TCG_ONLY = (VmModeFacts("tdx", False, "Intel TDX confidential VM", "Intel TDX is not "
                        "available: the host kernel's KVM has no TDX."),
            VmModeFacts("kvm", False, "KVM virtual machine", "KVM is not available."),
            VmModeFacts("tcg", True, "Emulated virtual machine (TCG)", "QEMU emulation."))


def test_the_report_has_a_line_per_vm_mode_and_its_json_carries_them(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    report = doctor_with(machine(tmp_path), TCG_ONLY)
    lines = {c.key: c for c in report.checks}
    assert lines["vm-tdx"].status is CheckStatus.INFO and "has no TDX" in lines["vm-tdx"].summary
    assert lines["vm-kvm"].status is CheckStatus.INFO
    assert lines["vm-tcg"].status is CheckStatus.OK and lines["vm-tcg"].title.endswith("(TCG)")
    modes = report.to_dict()["facts"]["vm_modes"]
    assert [(m["mode"], m["available"]) for m in modes] == [("tdx", False), ("kvm", False),
                                                            ("tcg", True)]
    unchecked = run_doctor(DoctorInputs(disk_path=tmp_path, root=tmp_path, timeout_s=1.0,
                                        llama_offload=lambda: CUDA_BUILD,
                                        keyring=lambda: GOOD_KEYRING))
    assert [c.summary for c in unchecked.checks if c.key == "vm"] == [
        "Not checked: this report was made without the VM's part."]


def test_the_command_lines_modes_come_from_the_vm_without_a_boot(
        kvm_host: HostFacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCOON_VM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(host, "HostFacts", lambda: kvm_host)

    def no_boot(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the doctor booted a probe VM")
    monkeypatch.setattr(host, "probe_boot", no_boot)
    assert [(m.mode, m.available) for m in vm_modes()] == [("tdx", False), ("kvm", False),
                                                           ("tcg", True)]


@pytest.mark.parametrize(("on", "status", "words"), [
    (True, CheckStatus.OK, "confidential-computing mode is on, ready"),
    (False, CheckStatus.INFO, "has a confidential-computing mode; it is off"),
])
def test_a_cc_gpu_says_whether_its_mode_is_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              on: bool, status: CheckStatus, words: str) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch).set_confidential_computing(on=on)
    check = next(c for c in doctor_with(machine(tmp_path), TCG_ONLY).checks
                 if c.key == "gpu-cc")
    assert check.status is status and words in check.summary
    assert ("--set-cc-mode on" in check.fix) is not on


def test_a_gpu_without_cc_is_not_given_a_mode(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    check = next(c for c in doctor_with(machine(tmp_path), TCG_ONLY).checks
                 if c.key == "gpu-cc")
    assert "No GPU here has a confidential-computing mode" in check.summary


def test_an_h100_host_that_can_run_the_tdx_vm_is_told_to_serve_from_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    tdx_ok = (VmModeFacts("tdx", True, "Intel TDX confidential VM", "Intel TDX."),
              *TCG_ONLY[1:])
    verdict = doctor_with(machine(tmp_path), tdx_ok).verdict
    assert verdict.case is HardwareCase.CC_GPU_WITHOUT_TDX
    assert "(now off)" in verdict.reasons[0]
    assert "Serve from: a confidential VM" in verdict.next_steps[0]
    blocked = doctor_with(machine(tmp_path / "other"), TCG_ONLY).verdict
    assert "cannot run here yet: Intel TDX is not available" in blocked.next_steps[0]
