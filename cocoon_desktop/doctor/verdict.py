"""What this machine can serve, and why, from the doctor's facts.

Three answers: Cocoon mainnet (also serves everything below), test networks and private
deployments (software attestation), or local chat only. Mainnet admits only workers inside an
Intel TDX confidential VM with an NVIDIA GPU in confidential-computing mode (H100 class); the
hardware case says which step is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cocoon_desktop.doctor.probes import (
    ConfidentialGpuFacts,
    EndpointResult,
    KeyringFacts,
    NvidiaFacts,
    TdxFacts,
    VmModeFacts,
)
from cocoon_desktop.engine.types import REBUILD_WITH_CUDA
from cocoon_desktop.hardware.gpu.nvml import NvmlState


class ServeTier(StrEnum):
    MAINNET = "cocoon-mainnet"
    TEST_NETWORKS = "test-networks"
    LOCAL_CHAT = "local-chat-only"


class HardwareCase(StrEnum):
    NO_GPU = "no-gpu"
    BROKEN_DRIVER = "broken-driver"
    CONSUMER_GPU = "consumer-gpu"
    GPU_WITHOUT_CC = "gpu-without-confidential-computing"
    CC_GPU_WITHOUT_TDX = "cc-gpu-without-tdx"
    TDX_GPU_CC_OFF = "tdx-gpu-cc-off"
    MAINNET_HARDWARE = "tdx-and-cc-gpu"


TIER_HEADLINES = {
    ServeTier.MAINNET: "This machine can serve Cocoon mainnet, test networks and private "
    "deployments, and local chat.",
    ServeTier.TEST_NETWORKS: "This machine can serve Cocoon test networks and private "
    "deployments, and local chat, but not Cocoon mainnet.",
    ServeTier.LOCAL_CHAT: "This machine can serve local chat only, for now.",
}
MAINNET_RULE = (
    "Cocoon mainnet admits only workers inside an Intel TDX confidential VM with an NVIDIA GPU "
    "in confidential-computing mode (H100 class or newer)."
)


@dataclass(frozen=True)
class MachineFacts:
    nvidia: NvidiaFacts
    confidential_gpu: ConfidentialGpuFacts
    tdx: TdxFacts
    llama_offload: bool | None
    llama_detail: str
    disk_path: str
    disk_free_bytes: int | None
    keyring: KeyringFacts
    endpoints: tuple[EndpointResult, ...]
    vm_modes: tuple[VmModeFacts, ...] = ()  # empty: not checked


@dataclass(frozen=True)
class Verdict:
    tier: ServeTier
    case: HardwareCase
    headline: str
    reasons: tuple[str, ...]  # why, in plain words
    next_steps: tuple[str, ...]  # what would unlock more, if anything


_BROKEN = frozenset({NvmlState.DRIVER_NOT_LOADED, NvmlState.VERSION_MISMATCH,
                     NvmlState.NO_PERMISSION, NvmlState.GPU_LOST, NvmlState.FAILED})


def hardware_case(facts: MachineFacts) -> HardwareCase:
    nvidia = facts.nvidia
    state = nvidia.status.state
    if state in _BROKEN or (state is NvmlState.LIBRARY_MISSING and nvidia.pci_devices):
        return HardwareCase.BROKEN_DRIVER
    if not nvidia.gpus:
        return HardwareCase.NO_GPU
    if not any(g.cc_capable for g in nvidia.gpus):
        consumer = all(g.brand in ("GeForce", "GeForce RTX", "Titan", "Titan RTX")
                       for g in nvidia.gpus)
        return HardwareCase.CONSUMER_GPU if consumer else HardwareCase.GPU_WITHOUT_CC
    if not facts.tdx.guest:
        return HardwareCase.CC_GPU_WITHOUT_TDX
    if facts.confidential_gpu.mode != "on" or facts.confidential_gpu.ready is False:
        return HardwareCase.TDX_GPU_CC_OFF
    return HardwareCase.MAINNET_HARDWARE


def _gpu_name(facts: MachineFacts) -> str:
    return facts.nvidia.gpus[0].name if facts.nvidia.gpus else "the GPU"


def _case_reasons(case: HardwareCase, facts: MachineFacts) -> tuple[list[str], list[str]]:
    """(why, what to do) for the hardware case."""
    name, status, cc, tdx = _gpu_name(facts), facts.nvidia.status, facts.confidential_gpu, facts.tdx
    if case is HardwareCase.BROKEN_DRIVER:
        return ([f"The NVIDIA driver is not working: {status.summary} Until it is fixed the "
                 "app can only use the CPU, which is slow."], [status.fix])
    if case is HardwareCase.NO_GPU:
        return (["There is no NVIDIA GPU, so the app serves from the CPU: fine for test "
                 f"networks and chat, but slow. {MAINNET_RULE}"], [])
    if case is HardwareCase.CONSUMER_GPU:
        return ([f"{name} is a consumer GPU: it has no confidential-computing mode. "
                 f"{MAINNET_RULE}"], [])
    if case is HardwareCase.GPU_WITHOUT_CC:
        return ([f"{name} has no confidential-computing mode. {MAINNET_RULE}"], [])
    if case is HardwareCase.CC_GPU_WITHOUT_TDX:
        return ([f"{name} can run in confidential-computing mode (now {cc.mode}), but this "
                 f"machine is not an Intel TDX confidential VM. {MAINNET_RULE}"],
                [_tdx_vm_step(facts)])
    if case is HardwareCase.TDX_GPU_CC_OFF:
        mode = f"{cc.mode}" + (", not ready" if cc.ready is False else "")
        return ([f"This is an Intel TDX guest, but {name}'s confidential-computing mode is "
                 f"{mode}. {MAINNET_RULE}"],
                ["On the host, turn the GPU's CC mode on (NVIDIA gpu-admin-tools: "
                 "`--set-cc-mode on`), pass it to this VM, then here run "
                 "`sudo nvidia-smi conf-compute -srs 1` to mark it ready."])
    reasons = [f"This is an Intel TDX guest with {name} in confidential-computing mode: the "
               "hardware qualifies for Cocoon mainnet. Mainnet proxies also check that the "
               "worker runs an image whose hash is published on-chain."]
    steps = [] if tdx.quote_interface else [tdx.detail]
    return reasons, steps


def _tdx_vm_step(facts: MachineFacts) -> str:
    """How this host gets a TDX guest: the app's own confidential VM where it can run one."""
    tdx_vm = next((m for m in facts.vm_modes if m.mode == "tdx"), None)
    if tdx_vm is not None and tdx_vm.available:
        return ("This host can run the app's Intel TDX VM: choose \"Serve from: a confidential "
                "VM\" (a rig file's `engine.serve_from = \"vm\"`) with this GPU passed through, "
                "its confidential-computing mode on.")
    why = f" The app's own TDX VM cannot run here yet: {tdx_vm.reason}" if tdx_vm else ""
    return ("Run the app inside a TDX guest with this GPU passed through (see Cocoon's "
            "docs/gpu.md and its TDX host set-up)." + why)


def _blockers(facts: MachineFacts) -> tuple[list[str], list[str]]:
    """Reasons that rule out serving any network at all (local chat still works)."""
    reasons, steps = [], []
    if not facts.keyring.usable:
        reasons.append(f"There is no safe place for the node wallet's key. {facts.keyring.detail}"
                       " Without one the app cannot be paid, so it serves no network.")
        steps.append("Install and unlock a system keyring (Debian: `sudo apt install "
                     "gnome-keyring`, then log in to your desktop again).")
    proxies = [r for r in facts.endpoints if r.endpoint.role == "proxy"]
    if proxies and not any(r.reachable for r in proxies):
        reasons.append("No configured Cocoon proxy answered ("
                       + ", ".join(f"{r.endpoint.address}: {r.error}" for r in proxies) + ").")
        steps.append("Check the internet connection, a firewall or VPN, and the proxy address "
                     "in the settings, then run the check again.")
    return reasons, steps


def conclude(facts: MachineFacts) -> Verdict:
    case = hardware_case(facts)
    reasons, steps = _case_reasons(case, facts)
    gpu_idle = facts.llama_offload is False and case not in (
        HardwareCase.NO_GPU, HardwareCase.BROKEN_DRIVER)
    if gpu_idle:
        reasons.append(f"This llama.cpp build runs on the CPU only ({facts.llama_detail}), so "
                       "the GPU would sit idle.")
        steps.append(REBUILD_WITH_CUDA)
    blocking, fixes = _blockers(facts)
    if blocking:
        tier = ServeTier.LOCAL_CHAT
        reasons, steps = blocking + reasons, fixes + steps
    elif case is HardwareCase.MAINNET_HARDWARE and not gpu_idle:
        tier = ServeTier.MAINNET
    else:
        tier = ServeTier.TEST_NETWORKS
    return Verdict(tier, case, TIER_HEADLINES[tier], tuple(reasons),
                   tuple(s for s in steps if s))
