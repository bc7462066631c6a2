"""The doctor's checklist: one line per fact, with a status and, where useful, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cocoon_desktop.doctor.verdict import MachineFacts
from cocoon_desktop.engine.types import REBUILD_WITH_CUDA
from cocoon_desktop.hardware.gpu.nvml import NvmlState
from cocoon_desktop.hardware.units import GiB, format_bytes

LOW_DISK_BYTES = 20 * GiB  # room for a mid-size model and its download
CRITICAL_DISK_BYTES = 2 * GiB
SMALL_VRAM_BYTES = 6 * GiB


class CheckStatus(StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    status: CheckStatus
    summary: str
    fix: str = ""


def _driver(facts: MachineFacts) -> Check:
    nvidia = facts.nvidia
    status = nvidia.status
    if status.ready:
        cuda = f", CUDA {nvidia.cuda_driver_version}" if nvidia.cuda_driver_version else ""
        return Check("driver", "NVIDIA driver", CheckStatus.OK,
                     f"Driver {nvidia.driver_version or 'version unknown'}{cuda}.")
    no_card = status.state is NvmlState.LIBRARY_MISSING and not nvidia.pci_devices
    if no_card:
        return Check("driver", "NVIDIA driver", CheckStatus.INFO,
                     "No NVIDIA GPU and no NVIDIA driver: the app uses the CPU.")
    where = f" (card at PCI {nvidia.pci_devices[0]})" if nvidia.pci_devices else ""
    return Check("driver", "NVIDIA driver", CheckStatus.PROBLEM, status.summary + where,
                 status.fix)


def _gpus(facts: MachineFacts) -> list[Check]:
    checks = []
    for index, gpu in enumerate(facts.nvidia.gpus):
        small = gpu.memory_total_bytes is not None and gpu.memory_total_bytes < SMALL_VRAM_BYTES
        cc = "confidential-computing capable" if gpu.cc_capable else "no confidential computing"
        checks.append(Check(
            f"gpu{index}", f"GPU {index}", CheckStatus.WARNING if small else CheckStatus.OK,
            f"{gpu.name}, {format_bytes(gpu.memory_total_bytes)} ({cc}).",
            "Little GPU memory: only small models fit (or part of a model, the rest on the CPU)."
            if small else "",
        ))
    return checks


def _llama(facts: MachineFacts) -> Check:
    has_gpu = bool(facts.nvidia.gpus)
    if facts.llama_offload is None:
        return Check("llama", "llama.cpp", CheckStatus.PROBLEM, facts.llama_detail,
                     "Reinstall the app (`./scripts/run-app.sh` builds llama.cpp).")
    if facts.llama_offload:
        return Check("llama", "llama.cpp", CheckStatus.OK, facts.llama_detail)
    if has_gpu:
        return Check("llama", "llama.cpp", CheckStatus.WARNING, facts.llama_detail,
                     REBUILD_WITH_CUDA)
    return Check("llama", "llama.cpp", CheckStatus.OK, facts.llama_detail)


CC_ON_FIX = ("Turn the GPU's confidential-computing mode on from the host (NVIDIA "
             "gpu-admin-tools: `--set-cc-mode on`, then reset the card); inside the TDX guest "
             "run `sudo nvidia-smi conf-compute -srs 1` to mark it ready.")
VM_TITLES = {"tdx": "VM: Intel TDX", "kvm": "VM: KVM", "tcg": "VM: emulated (TCG)"}


def _confidential(facts: MachineFacts) -> list[Check]:
    tdx, cc = facts.tdx, facts.confidential_gpu
    tdx_status = CheckStatus.OK if tdx.guest and tdx.quote_interface else (
        CheckStatus.WARNING if tdx.guest else CheckStatus.INFO)
    checks = [Check("tdx", "Intel TDX", tdx_status, tdx.detail)]
    capable = [gpu for gpu in facts.nvidia.gpus if gpu.cc_capable]
    if capable:
        ready = {True: ", ready", False: ", not ready", None: ""}[cc.ready]
        if cc.mode == "on" and cc.ready is not False:
            checks.append(Check("gpu-cc", "GPU confidential computing", CheckStatus.OK,
                                f"{capable[0].name}: confidential-computing mode is on{ready}."))
        else:
            state = "unknown (the driver does not say)" if cc.mode == "unknown" else cc.mode
            checks.append(Check("gpu-cc", "GPU confidential computing", CheckStatus.INFO,
                                f"{capable[0].name} has a confidential-computing mode; it is "
                                f"{state}{ready}. Cocoon mainnet needs it on.", CC_ON_FIX))
    elif facts.nvidia.gpus:
        checks.append(Check("gpu-cc", "GPU confidential computing", CheckStatus.INFO,
                            "No GPU here has a confidential-computing mode (H100 class and "
                            "newer data-centre cards have one)."))
    return checks


def _vm(facts: MachineFacts) -> list[Check]:
    """Which ways this host can run the confidential VM ("Serve from: a confidential VM")."""
    if not facts.vm_modes:
        return [Check("vm", "Confidential VM", CheckStatus.INFO,
                      "Not checked: this report was made without the VM's part.")]
    return [Check(f"vm-{m.mode}", VM_TITLES.get(m.mode, f"VM: {m.mode}"),
                  CheckStatus.OK if m.available else CheckStatus.INFO, m.reason)
            for m in facts.vm_modes]


def _disk(facts: MachineFacts) -> Check:
    free = facts.disk_free_bytes
    if free is None:
        return Check("disk", "Free disk", CheckStatus.WARNING,
                     f"Could not read the free space at {facts.disk_path}.")
    summary = f"{format_bytes(free)} free at {facts.disk_path}."
    if free < CRITICAL_DISK_BYTES:
        return Check("disk", "Free disk", CheckStatus.PROBLEM, summary,
                     "Free some space: models need several GiB each.")
    if free < LOW_DISK_BYTES:
        return Check("disk", "Free disk", CheckStatus.WARNING, summary,
                     "Enough for small models only; free space for larger ones.")
    return Check("disk", "Free disk", CheckStatus.OK, summary)


def _keyring(facts: MachineFacts) -> Check:
    keyring = facts.keyring
    if keyring.usable:
        return Check("keyring", "Keyring", CheckStatus.OK, keyring.detail)
    return Check("keyring", "Keyring", CheckStatus.PROBLEM, keyring.detail,
                 "Install and unlock a system keyring (Debian: `sudo apt install gnome-keyring`, "
                 "then log in to your desktop again).")


def _endpoints(facts: MachineFacts) -> list[Check]:
    checks = []
    for result in facts.endpoints:
        endpoint = result.endpoint
        if result.reachable:
            checks.append(Check(f"{endpoint.role}:{endpoint.address}", f"Cocoon {endpoint.role}",
                                CheckStatus.OK,
                                f"{endpoint.address} answered in {result.latency_ms:.0f} ms."))
        else:
            checks.append(Check(f"{endpoint.role}:{endpoint.address}", f"Cocoon {endpoint.role}",
                                CheckStatus.PROBLEM,
                                f"{endpoint.address} did not answer ({result.error}).",
                                "Check the internet connection, a firewall or VPN, and the "
                                "address in the settings."))
    return checks


def build_checks(facts: MachineFacts) -> tuple[Check, ...]:
    return (
        _driver(facts), *_gpus(facts), _llama(facts), *_confidential(facts), *_vm(facts),
        _disk(facts), _keyring(facts), *_endpoints(facts),
    )
