"""The doctor's probes: each finds one fact about this machine and never raises.

Everything that touches the machine can be redirected for tests: `root` for files (TDX device,
configfs-tsm, /proc/cpuinfo, sysfs), an `Nvml` for the driver, callables for llama.cpp, the
keyring and the VM's modes (the command line passes `vm.host.known_modes`: the doctor sits below
`vm` and does not import it). No probe reads a secret: the keyring probe only looks at which
backend would be used.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pynvml

from cocoon_desktop.engine.attestation.providers import detect_quote_providers
from cocoon_desktop.hardware.gpu.monitor import NvmlGpuMonitor
from cocoon_desktop.hardware.gpu.nvml import Nvml, NvmlStatus, nvidia_pci_devices

CONSUMER_BRANDS = frozenset({"GeForce", "GeForce RTX", "Titan", "Titan RTX"})
CC_ARCHITECTURES = frozenset({"Hopper", "Blackwell"})


@dataclass(frozen=True)
class GpuFacts:
    name: str
    memory_total_bytes: int | None
    brand: str | None
    architecture: str | None
    cc_capable: bool  # can run in NVIDIA confidential-computing mode


@dataclass(frozen=True)
class NvidiaFacts:
    status: NvmlStatus
    gpus: tuple[GpuFacts, ...]
    pci_devices: tuple[str, ...]  # NVIDIA cards seen on the PCI bus (even with no driver)
    driver_version: str | None
    cuda_driver_version: str | None


@dataclass(frozen=True)
class ConfidentialGpuFacts:
    mode: str  # "on", "off", "devtools", "simulated", "unknown"
    ready: bool | None  # the GPUs accept work (`nvidia-smi conf-compute -srs 1`)
    gpus_capable: bool | None  # what NVML says; None where it cannot tell


@dataclass(frozen=True)
class TdxFacts:
    guest: bool  # this is an Intel TDX confidential VM
    quote_interface: bool  # configfs-tsm can produce quotes
    detail: str


@dataclass(frozen=True)
class VmModeFacts:
    """One way this host could run the confidential VM (`vm.modes`), found without booting
    one: "tdx", "kvm" or "tcg", whether it can, and why (not)."""

    mode: str
    available: bool
    label: str
    reason: str


@dataclass(frozen=True)
class KeyringFacts:
    usable: bool
    backend: str
    detail: str


@dataclass(frozen=True)
class Endpoint:
    role: str  # "proxy" or "liteserver"
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class EndpointResult:
    endpoint: Endpoint
    reachable: bool
    latency_ms: float | None
    error: str | None


def probe_nvidia(nvml: Nvml, root: Path = Path("/")) -> NvidiaFacts:
    status = nvml.status()
    pci = tuple(nvidia_pci_devices(root / "sys"))
    if not status.ready:
        return NvidiaFacts(status, (), pci, None, None)
    monitor = NvmlGpuMonitor(nvml)
    statics = monitor.static()
    caps = nvml.call("cc.capabilities", pynvml.nvmlSystemGetConfComputeCapabilities)
    nvml_says = None if caps is None else (
        int(caps.gpusCaps) == pynvml.NVML_CC_SYSTEM_GPUS_CC_CAPABLE)
    gpus = tuple(
        GpuFacts(s.name, s.memory_total_bytes, s.brand, s.architecture,
                 nvml_says if nvml_says is not None else _looks_cc_capable(s.brand, s.architecture))
        for s in statics
    )
    first = statics[0] if statics else None
    return NvidiaFacts(status, gpus, pci, first.driver_version if first else None,
                       first.cuda_driver_version if first else None)


def _looks_cc_capable(brand: str | None, architecture: str | None) -> bool:
    """Hopper and Blackwell data-centre cards have confidential computing; GeForce cards not."""
    return architecture in CC_ARCHITECTURES and brand not in CONSUMER_BRANDS


def probe_confidential_gpu(nvml: Nvml) -> ConfidentialGpuFacts:
    """The GPU's confidential-computing mode, from whichever NVML call this driver has."""
    if not nvml.status().ready:
        return ConfidentialGpuFacts("unknown", None, None)
    settings = pynvml.c_nvmlSystemConfComputeSettings_v1_t()
    code = nvml.call("cc.settings",
                     lambda: pynvml.nvmlSystemGetConfComputeSettings(ctypes.byref(settings)))
    state: object | None = settings if code == pynvml.NVML_SUCCESS else None
    if state is None:
        state = nvml.call("cc.state", pynvml.nvmlSystemGetConfComputeState)
    ready = nvml.call("cc.ready", pynvml.nvmlSystemGetConfComputeGpusReadyState)
    caps = nvml.call("cc.capabilities", pynvml.nvmlSystemGetConfComputeCapabilities)
    capable = None if caps is None else (
        int(caps.gpusCaps) == pynvml.NVML_CC_SYSTEM_GPUS_CC_CAPABLE)
    return ConfidentialGpuFacts(_cc_mode(state), None if ready is None else bool(ready), capable)


def _cc_mode(state: object | None) -> str:
    if state is None:
        return "unknown"
    if int(getattr(state, "ccFeature", 0)) != pynvml.NVML_CC_SYSTEM_FEATURE_ENABLED:
        return "off"
    if int(getattr(state, "devToolsMode", 0)) == pynvml.NVML_CC_SYSTEM_DEVTOOLS_MODE_ON:
        return "devtools"
    if int(getattr(state, "environment", 0)) == pynvml.NVML_CC_SYSTEM_ENVIRONMENT_SIM:
        return "simulated"
    return "on"


def probe_tdx(root: Path = Path("/")) -> TdxFacts:
    """Intel TDX guest (/dev/tdx_guest or the CPU flag); quotes as the engine would make them.

    Whether a quote can be made is the engine's own detection (`detect_quote_providers`), so the
    doctor and the worker never disagree.
    """
    device = root / "dev" / "tdx_guest"
    try:
        cpuinfo = (root / "proc" / "cpuinfo").read_text(errors="replace")
    except OSError:
        cpuinfo = ""
    guest = device.exists() or " tdx_guest" in cpuinfo
    tdx = next(p for p in detect_quote_providers(root / "sys" / "kernel" / "config" / "tsm",
                                                 device) if p.kind == "tdx")
    if not guest:
        return TdxFacts(False, False, "Not an Intel TDX confidential VM.")
    if tdx.available:
        return TdxFacts(True, True, "Intel TDX guest; quotes available through configfs-tsm.")
    if not device.exists():
        return TdxFacts(True, False, f"Intel TDX guest, but {device} is missing: load the "
                        "`tdx_guest` kernel module (`sudo modprobe tdx_guest`).")
    return TdxFacts(True, False, tdx.reason)


def probe_llama_offload() -> tuple[bool | None, str]:
    """Can this llama.cpp build put layers on a GPU? (None: llama.cpp itself is missing.)"""
    try:
        import llama_cpp
    except Exception as error:  # an import of a native library can fail in many ways
        return None, f"llama-cpp-python could not be loaded ({error})."
    try:
        supported = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception as error:
        return None, f"llama-cpp-python {llama_cpp.__version__} did not answer ({error})."
    kind = "with GPU offload" if supported else "for the CPU only"
    return supported, f"llama-cpp-python {llama_cpp.__version__}, built {kind}."


def probe_keyring() -> KeyringFacts:
    """Which keyring backend would hold secrets, judged by the wallet's own rules (the OS
    keyring inside keyring's chainer; never a plaintext or fail backend); reads no secret."""
    try:
        import keyring

        from cocoon_desktop.wallet.secret_store import backend_refusal, os_backend_of

        backend = os_backend_of(keyring.get_keyring())
    except Exception as error:
        return KeyringFacts(False, "none", f"The keyring library failed: {error}")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    refusal = backend_refusal(backend)
    if refusal is None:
        return KeyringFacts(True, name, f"Secrets are kept by {type(backend).__name__}.")
    if name.startswith("keyrings.alt") or "plaintext" in name.lower():
        return KeyringFacts(False, name, "The only keyring found stores secrets unencrypted.")
    detail = f"No system keyring (Secret Service, KWallet) found: {refusal}."
    return KeyringFacts(False, name, detail)


def probe_disk(path: Path) -> tuple[Path, int | None]:
    """Free bytes on the disk that holds `path` (its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return probe, shutil.disk_usage(probe).free
    except OSError:
        return probe, None


def probe_endpoint(endpoint: Endpoint, timeout_s: float) -> EndpointResult:
    started = time.perf_counter()
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s):
            pass
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else (
            error.strerror or str(error))
        return EndpointResult(endpoint, False, None, reason)
    return EndpointResult(endpoint, True, (time.perf_counter() - started) * 1000, None)


def probe_endpoints(endpoints: tuple[Endpoint, ...], timeout_s: float) -> tuple[
        EndpointResult, ...]:
    """TCP-connect to each endpoint at once (a dead one costs `timeout_s`, not a queue)."""
    if not endpoints:
        return ()
    workers = min(16, len(endpoints))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="doctor") as pool:
        return tuple(pool.map(lambda e: probe_endpoint(e, timeout_s), endpoints))
