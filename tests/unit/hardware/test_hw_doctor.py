"""The doctor's conclusion for each hardware case, over the fake NVML and a fake TDX tree."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pynvml
import pytest

from cocoon_desktop.doctor.checks import CheckStatus, build_checks
from cocoon_desktop.doctor.probes import KeyringFacts
from cocoon_desktop.doctor.report import DoctorInputs, DoctorReport, render_text, run_doctor
from cocoon_desktop.doctor.verdict import HardwareCase, ServeTier
from cocoon_desktop.hardware.gpu.nvml import Nvml
from cocoon_desktop.hardware.units import GiB
from tests.helpers.fake_nvml import FakeGpu, FakeNvml

GOOD_KEYRING = KeyringFacts(True, "keyring.backends.SecretService.Keyring", "Secrets are kept.")
CUDA_BUILD = (True, "llama-cpp-python 0.3.36, built with GPU offload.")
CPU_BUILD = (False, "llama-cpp-python 0.3.36, built for the CPU only.")


def machine(root: Path, *, tdx: bool = False, pci: bool = False, cpu_flag: bool = False) -> Path:
    """A fake / with what the probes look at."""
    (root / "proc").mkdir(parents=True)
    flags = "flags\t\t: fpu vme tsc" + (" tdx_guest" if cpu_flag or tdx else "")
    (root / "proc" / "cpuinfo").write_text(flags + "\n")
    if tdx:
        (root / "dev").mkdir()
        (root / "dev" / "tdx_guest").write_text("")
        (root / "sys" / "kernel" / "config" / "tsm" / "report").mkdir(parents=True)
    if pci:
        entry = root / "sys" / "bus" / "pci" / "devices" / "0000:01:00.0"
        entry.mkdir(parents=True)
        (entry / "vendor").write_text("0x10de\n")
        (entry / "class").write_text("0x030000\n")
    return root


def doctor(root: Path, llama: tuple[bool | None, str] = CUDA_BUILD,
           keyring: KeyringFacts = GOOD_KEYRING) -> DoctorReport:
    return run_doctor(DoctorInputs(disk_path=root, root=root, llama_offload=lambda: llama,
                                   keyring=lambda: keyring, timeout_s=1.0))


def test_no_gpu_serves_test_networks_from_the_cpu(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    report = doctor(machine(tmp_path), llama=CPU_BUILD)
    assert (report.verdict.tier, report.verdict.case) == (ServeTier.TEST_NETWORKS,
                                                          HardwareCase.NO_GPU)
    assert "no NVIDIA GPU" in report.verdict.reasons[0]
    assert "Intel TDX confidential VM" in report.verdict.reasons[0]
    driver = next(c for c in report.checks if c.key == "driver")
    assert driver.status is CheckStatus.INFO  # no card: nothing is broken
    assert report.problems == ()


def test_a_card_without_a_driver_is_a_broken_driver(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    report = doctor(machine(tmp_path, pci=True))
    assert report.verdict.case is HardwareCase.BROKEN_DRIVER
    assert report.verdict.tier is ServeTier.TEST_NETWORKS
    assert any("Install the NVIDIA driver" in step for step in report.verdict.next_steps)
    assert [c.key for c in report.problems] == ["driver"]
    assert "PCI 0000:01:00.0" in report.problems[0].summary


def test_driver_updated_but_not_reloaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH).install(monkeypatch)
    report = doctor(machine(tmp_path, pci=True))
    assert report.verdict.case is HardwareCase.BROKEN_DRIVER
    assert "still loaded" in report.verdict.reasons[0]
    assert report.verdict.next_steps[0].startswith("Reboot")


def test_geforce_is_a_consumer_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    report = doctor(machine(tmp_path, pci=True))
    assert (report.verdict.tier, report.verdict.case) == (ServeTier.TEST_NETWORKS,
                                                          HardwareCase.CONSUMER_GPU)
    assert "NVIDIA GeForce RTX 4090 is a consumer GPU" in report.verdict.reasons[0]
    gpu = next(c for c in report.checks if c.key == "gpu0")
    assert "24.0 GiB" in gpu.summary and gpu.status is CheckStatus.OK


def test_a_data_centre_card_without_cc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    a100 = FakeGpu.h100(name="NVIDIA A100-SXM4-80GB", architecture=pynvml.NVML_DEVICE_ARCH_AMPERE,
                        cc_capable=False)
    FakeNvml([a100]).install(monkeypatch)
    assert doctor(machine(tmp_path)).verdict.case is HardwareCase.GPU_WITHOUT_CC


@pytest.mark.parametrize(("name", "architecture", "brand", "capable"), [
    ("NVIDIA H200", pynvml.NVML_DEVICE_ARCH_HOPPER, pynvml.NVML_BRAND_NVIDIA, True),
    ("NVIDIA B200", pynvml.NVML_DEVICE_ARCH_BLACKWELL, pynvml.NVML_BRAND_NVIDIA, True),
    ("NVIDIA GeForce RTX 5090", pynvml.NVML_DEVICE_ARCH_BLACKWELL, pynvml.NVML_BRAND_GEFORCE,
     False),
    ("NVIDIA L40S", pynvml.NVML_DEVICE_ARCH_ADA, pynvml.NVML_BRAND_NVIDIA, False),
])
def test_cc_capability_is_guessed_where_the_driver_cannot_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, architecture: int, brand: int,
    capable: bool,
) -> None:
    fake = FakeNvml([FakeGpu(name=name, architecture=architecture, brand=brand)])
    fake.install(monkeypatch).system_unsupported.add("nvmlSystemGetConfComputeCapabilities")
    report = doctor(machine(tmp_path))
    assert report.facts.nvidia.gpus[0].cc_capable is capable


def test_h100_outside_tdx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    report = doctor(machine(tmp_path))
    assert (report.verdict.tier, report.verdict.case) == (ServeTier.TEST_NETWORKS,
                                                          HardwareCase.CC_GPU_WITHOUT_TDX)
    assert "not an Intel TDX confidential VM" in report.verdict.reasons[0]
    assert "TDX guest" in report.verdict.next_steps[0]


def test_tdx_guest_with_cc_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    report = doctor(machine(tmp_path, tdx=True))
    assert report.verdict.case is HardwareCase.TDX_GPU_CC_OFF
    assert "confidential-computing mode is off" in report.verdict.reasons[0]
    assert "conf-compute -srs 1" in report.verdict.next_steps[0]


def test_tdx_and_a_cc_gpu_serve_mainnet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    fake.set_confidential_computing(on=True)
    report = doctor(machine(tmp_path, tdx=True))
    verdict = report.verdict
    assert (verdict.tier, verdict.case) == (ServeTier.MAINNET, HardwareCase.MAINNET_HARDWARE)
    assert verdict.headline.startswith("This machine can serve Cocoon mainnet")
    assert "published on-chain" in verdict.reasons[0]
    assert verdict.next_steps == ()
    statuses = {c.key: c.status for c in report.checks}
    assert statuses["tdx"] is statuses["gpu-cc"] is CheckStatus.OK


@pytest.mark.parametrize("problem", ["not-ready", "devtools", "simulated"])
def test_cc_that_is_not_production_is_not_mainnet(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path, problem: str) -> None:
    fake = FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    fake.set_confidential_computing(on=True, ready=problem != "not-ready")
    if problem == "devtools":
        fake.cc_devtools = pynvml.NVML_CC_SYSTEM_DEVTOOLS_MODE_ON
    if problem == "simulated":
        fake.cc_environment = pynvml.NVML_CC_SYSTEM_ENVIRONMENT_SIM
    report = doctor(machine(tmp_path, tdx=True))
    assert report.verdict.case is HardwareCase.TDX_GPU_CC_OFF
    expected = {"not-ready": "on, not ready", "devtools": "devtools", "simulated": "simulated"}
    assert f"mode is {expected[problem]}" in report.verdict.reasons[0]


def test_an_older_driver_without_cc_settings_uses_cc_state(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    fake = FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    fake.set_confidential_computing(on=True)
    fake.system_missing.add("nvmlSystemGetConfComputeSettings")
    report = doctor(machine(tmp_path, tdx=True))
    assert report.facts.confidential_gpu.mode == "on"
    assert report.verdict.tier is ServeTier.MAINNET


def test_a_cpu_only_llama_build_keeps_mainnet_hardware_off_mainnet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch).set_confidential_computing(on=True)
    report = doctor(machine(tmp_path, tdx=True), llama=CPU_BUILD)
    assert report.verdict.tier is ServeTier.TEST_NETWORKS
    assert "CUDA toolkit" in report.verdict.next_steps[-1]
    assert "COCOON_CUDA" not in report.verdict.next_steps[-1]  # words, not a shell command
    llama = next(c for c in report.checks if c.key == "llama")
    assert llama.status is CheckStatus.WARNING


def test_no_keyring_means_local_chat_only(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch).set_confidential_computing(on=True)
    no_keyring = KeyringFacts(False, "keyring.backends.fail.Keyring", "No system keyring found.")
    report = doctor(machine(tmp_path, tdx=True), keyring=no_keyring)
    assert report.verdict.tier is ServeTier.LOCAL_CHAT
    assert "node wallet's key" in report.verdict.reasons[0]
    assert "gnome-keyring" in report.verdict.next_steps[0]
    assert [c.key for c in report.problems] == ["keyring"]


def test_a_tdx_cpu_without_the_guest_device(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    FakeNvml([FakeGpu.h100()]).install(monkeypatch)
    report = doctor(machine(tmp_path, cpu_flag=True))
    assert report.facts.tdx.guest and not report.facts.tdx.quote_interface
    assert "modprobe tdx_guest" in report.facts.tdx.detail


def test_disk_and_small_vram_warnings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml([FakeGpu.rtx_4090(memory_total_bytes=4 * GiB)]).install(monkeypatch)
    report = doctor(machine(tmp_path))
    gpu = next(c for c in report.checks if c.key == "gpu0")
    assert gpu.status is CheckStatus.WARNING and "small models" in gpu.fix
    for free, status in [(1 * GiB, CheckStatus.PROBLEM), (10 * GiB, CheckStatus.WARNING),
                         (100 * GiB, CheckStatus.OK)]:
        facts = dataclasses.replace(report.facts, disk_free_bytes=free)
        disk = next(c for c in build_checks(facts) if c.key == "disk")
        assert disk.status is status


def test_report_text_and_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    report = doctor(machine(tmp_path))
    text = render_text(report)
    assert report.verdict.headline in text
    assert all(check.title in text for check in report.checks)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"]["tier"] == "test-networks"
    assert data["facts"]["nvidia"]["gpus"][0]["name"] == "NVIDIA GeForce RTX 4090"


def test_a_session_passed_in_is_left_running(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    shared = Nvml()
    run_doctor(DoctorInputs(disk_path=tmp_path, root=machine(tmp_path), nvml=shared,
                            llama_offload=lambda: CUDA_BUILD, keyring=lambda: GOOD_KEYRING))
    assert fake.initialised and shared.status().ready
    doctor(tmp_path)  # its own session: started and shut down again
    assert fake.calls["nvmlShutdown"] == 1
