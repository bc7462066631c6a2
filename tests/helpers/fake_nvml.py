"""A fake NVML at the `pynvml` boundary, for machines without an NVIDIA GPU (like CI).

`FakeNvml.install(monkeypatch)` replaces the `pynvml` functions the app calls with fakes that
return real pynvml types (`c_nvmlMemory_t`, `c_nvmlUtilization_t`, `nvmlPciInfo_t`,
`c_nvmlEventData_t`, handles of type `c_nvmlDevice_t`, ...) and raise real `pynvml.NVMLError`
subclasses (`NVMLError_NotSupported`, `NVMLError_FunctionNotFound`, ...). Tests script the card:

    fake = FakeNvml([FakeGpu.rtx_4090()]).install(monkeypatch)
    fake.gpus[0].temperature_c = 86                 # heating up
    fake.gpus[0].grab_vram(pid=4242, used_bytes=6 * GiB, kind="graphics")  # a game starts
    fake.raise_xid(0, 79)                           # the card falls off the bus
    fake.gpus[0].unsupported.add("nvmlDeviceGetFanSpeed")   # NotSupported from now on

The UI tests reuse it. Nothing here touches a real driver.
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pynvml

GiB = 1024**3
_HANDLE_BASE = 0x1000
_EVENT_SET_BASE = 0x8000


@dataclass
class FakeProcess:
    pid: int
    used_bytes: int | None
    kind: str = "compute"  # or "graphics"
    sm_percent: int | None = None  # per-process load; None: not reported for this process


@dataclass
class FakeGpu:
    name: str = "NVIDIA GeForce RTX 4090"
    uuid: str = "GPU-4090-0000"
    pci_bus_id: str = "00000000:01:00.0"
    brand: int = pynvml.NVML_BRAND_GEFORCE
    architecture: int = pynvml.NVML_DEVICE_ARCH_ADA
    compute_capability: tuple[int, int] = (8, 9)
    memory_total_bytes: int = 24 * GiB
    memory_reserved_bytes: int = 300 * 1024**2  # the driver's own share, always "used"
    temperature_c: int = 45
    utilization_gpu_percent: int = 0
    utilization_memory_percent: int = 0
    power_mw: int = 30_000
    power_limit_mw: int = 450_000
    default_power_limit_mw: int = 450_000
    energy_mj: int = 5_000_000
    sm_clock_mhz: int = 210
    memory_clock_mhz: int = 405
    fan_speed_percent: int = 30
    performance_state: int = 8
    clocks_event_reasons: int = pynvml.nvmlClocksEventReasonGpuIdle
    pcie_generation: int = 4
    pcie_width: int = 16
    max_pcie_generation: int = 4
    max_pcie_width: int = 16
    ecc_corrected: int = 0
    ecc_uncorrected: int = 0
    slowdown_c: int = 90
    shutdown_c: int = 95
    supported_events: int = (
        pynvml.nvmlEventTypeXidCriticalError | pynvml.nvmlEventTypeDoubleBitEccError
    )
    processes: dict[int, FakeProcess] = field(default_factory=dict)
    unsupported: set[str] = field(default_factory=set)  # function names -> NotSupported
    missing: set[str] = field(default_factory=set)  # function names -> FunctionNotFound
    lost: bool = False  # every call raises GpuIsLost
    cc_capable: bool = False  # has an NVIDIA confidential-computing mode (H100 class)

    @classmethod
    def rtx_4090(cls, **changes: Any) -> FakeGpu:
        """A GeForce card: no ECC, no confidential computing."""
        return cls(unsupported={"nvmlDeviceGetTotalEccErrors"}, **changes)

    @classmethod
    def h100(cls, **changes: Any) -> FakeGpu:
        """A data-centre Hopper card: ECC, no fan reading (passively cooled)."""
        base = dict(
            name="NVIDIA H100 80GB HBM3", uuid="GPU-H100-0000", brand=pynvml.NVML_BRAND_NVIDIA,
            architecture=pynvml.NVML_DEVICE_ARCH_HOPPER, compute_capability=(9, 0),
            memory_total_bytes=80 * GiB, power_limit_mw=700_000, default_power_limit_mw=700_000,
            pcie_generation=5, max_pcie_generation=5, unsupported={"nvmlDeviceGetFanSpeed"},
            cc_capable=True,
            supported_events=pynvml.nvmlEventTypeXidCriticalError
            | pynvml.nvmlEventTypeDoubleBitEccError | pynvml.nvmlEventTypeGpuUnavailableError,
        )
        base.update(changes)
        return cls(**base)  # type: ignore[arg-type]

    @property
    def memory_used_bytes(self) -> int:
        return self.memory_reserved_bytes + sum(p.used_bytes or 0 for p in self.processes.values())

    def grab_vram(self, pid: int, used_bytes: int, kind: str = "graphics",
                  sm_percent: int | None = None) -> None:
        """Another process (or ours) takes GPU memory (and maybe load)."""
        self.processes[pid] = FakeProcess(pid, used_bytes, kind, sm_percent)

    def release(self, pid: int) -> None:
        self.processes.pop(pid, None)

    def draw(self, watts: float, seconds: float) -> None:
        """Run at `watts` for `seconds`: the power reading and the energy counter move."""
        self.power_mw = int(watts * 1000)
        self.energy_mj += int(watts * seconds * 1000)


class FakeNvml:
    """The fake library. `calls` counts each function's calls (to prove memoisation)."""

    def __init__(self, gpus: list[FakeGpu] | None = None, *, init_error: int | None = None,
                 driver_version: str = "550.54.14", cuda_version: int = 12040) -> None:
        self.gpus = list(gpus if gpus is not None else [FakeGpu()])
        self.init_error = init_error
        self.driver_version = driver_version
        self.cuda_version = cuda_version
        self.system_unsupported: set[str] = set()
        self.system_missing: set[str] = set()
        # Confidential computing (system-wide in NVML): off by default.
        self.cc_environment = pynvml.NVML_CC_SYSTEM_ENVIRONMENT_UNAVAILABLE
        self.cc_feature = pynvml.NVML_CC_SYSTEM_FEATURE_DISABLED
        self.cc_devtools = pynvml.NVML_CC_SYSTEM_DEVTOOLS_MODE_OFF
        self.cc_cpu_caps = pynvml.NVML_CC_SYSTEM_CPU_CAPS_NONE
        self.cc_ready = 0
        self.calls: Counter[str] = Counter()
        self.initialised = False
        self._events: list[tuple[int, int, int]] = []  # (gpu index, event type, data)
        self._registered: dict[int, int] = {}  # gpu index -> mask
        self._event_sets = 0
        self._wakeup = threading.Condition()

    # -- scripting -------------------------------------------------------------------------
    def set_confidential_computing(self, on: bool = True, cpu: int = 2, ready: bool = True) -> None:
        """Put the machine in CC mode (cpu 2 = Intel TDX) with a production environment."""
        self.cc_environment = pynvml.NVML_CC_SYSTEM_ENVIRONMENT_PROD if on else (
            pynvml.NVML_CC_SYSTEM_ENVIRONMENT_UNAVAILABLE)
        self.cc_feature = int(on)
        self.cc_cpu_caps = cpu
        self.cc_ready = int(ready and on)

    def raise_xid(self, gpu_index: int, xid: int,
                  event_type: int = pynvml.nvmlEventTypeXidCriticalError) -> None:
        with self._wakeup:
            self._events.append((gpu_index, event_type, xid))
            self._wakeup.notify_all()

    # -- plumbing --------------------------------------------------------------------------
    def install(self, monkeypatch: Any) -> FakeNvml:
        """Replace each pynvml function the app calls (monkeypatch: pytest's, or a context)."""
        for name in dir(self):
            if name.startswith("nvml"):
                monkeypatch.setattr(pynvml, name, getattr(self, name))
        return self

    @staticmethod
    def handle_of(index: int) -> Any:
        return ctypes.cast(ctypes.c_void_p(_HANDLE_BASE + index), pynvml.c_nvmlDevice_t)

    def _gpu(self, name: str, handle: Any) -> FakeGpu:
        self._enter(name)
        index = ctypes.cast(handle, ctypes.c_void_p).value - _HANDLE_BASE
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[index]
        if gpu.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        if name in gpu.missing:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        if name in gpu.unsupported:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return gpu

    def _enter(self, name: str) -> None:
        self.calls[name] += 1
        if not self.initialised:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        if name in self.system_missing:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        if name in self.system_unsupported:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

    # -- the library -----------------------------------------------------------------------
    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.handle_of(index)

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return self.driver_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion")
        return self.cuda_version

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._enter("nvmlSystemGetNVMLVersion")
        return "12." + self.driver_version

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return self._gpu("nvmlDeviceGetName", handle).name

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return self._gpu("nvmlDeviceGetUUID", handle).uuid

    def nvmlDeviceGetPciInfo(self, handle: Any) -> pynvml.nvmlPciInfo_t:
        gpu = self._gpu("nvmlDeviceGetPciInfo", handle)
        return pynvml.nvmlPciInfo_t(busId=gpu.pci_bus_id.encode(), pciDeviceId=0x268410DE)

    def nvmlDeviceGetBrand(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetBrand", handle).brand

    def nvmlDeviceGetArchitecture(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetArchitecture", handle).architecture

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        return self._gpu("nvmlDeviceGetCudaComputeCapability", handle).compute_capability

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: Any = None) -> pynvml.c_nvmlMemory_t:
        gpu = self._gpu("nvmlDeviceGetMemoryInfo", handle)
        used = min(gpu.memory_used_bytes, gpu.memory_total_bytes)
        total = gpu.memory_total_bytes
        return pynvml.c_nvmlMemory_t(total=total, free=total - used, used=used)

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        return self._gpu("nvmlDeviceGetTemperature", handle).temperature_c

    def nvmlDeviceGetTemperatureThreshold(self, handle: Any, threshold: int) -> int:
        gpu = self._gpu("nvmlDeviceGetTemperatureThreshold", handle)
        if threshold == pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN:
            return gpu.slowdown_c
        return gpu.shutdown_c

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> pynvml.c_nvmlUtilization_t:
        gpu = self._gpu("nvmlDeviceGetUtilizationRates", handle)
        return pynvml.c_nvmlUtilization_t(gpu=gpu.utilization_gpu_percent,
                                          memory=gpu.utilization_memory_percent)

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetPowerUsage", handle).power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetEnforcedPowerLimit", handle).power_limit_mw

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetPowerManagementDefaultLimit", handle).default_power_limit_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetTotalEnergyConsumption", handle).energy_mj

    def nvmlDeviceGetClockInfo(self, handle: Any, clock: int) -> int:
        gpu = self._gpu("nvmlDeviceGetClockInfo", handle)
        return gpu.sm_clock_mhz if clock == pynvml.NVML_CLOCK_SM else gpu.memory_clock_mhz

    def nvmlDeviceGetFanSpeed(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetFanSpeed", handle).fan_speed_percent

    def nvmlDeviceGetPerformanceState(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetPerformanceState", handle).performance_state

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetCurrentClocksEventReasons", handle).clocks_event_reasons

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetCurrPcieLinkGeneration", handle).pcie_generation

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetCurrPcieLinkWidth", handle).pcie_width

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetMaxPcieLinkGeneration", handle).max_pcie_generation

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetMaxPcieLinkWidth", handle).max_pcie_width

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, error_type: int, counter: int) -> int:
        gpu = self._gpu("nvmlDeviceGetTotalEccErrors", handle)
        corrected = error_type == pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED
        return gpu.ecc_corrected if corrected else gpu.ecc_uncorrected

    def _processes(self, name: str, handle: Any, kind: str) -> list[Any]:
        gpu = self._gpu(name, handle)
        not_available = pynvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value
        listed = []
        for process in gpu.processes.values():
            if process.kind != kind:
                continue
            used = not_available if process.used_bytes is None else process.used_bytes
            info = pynvml.c_nvmlProcessInfo_v3_t(pid=process.pid, usedGpuMemory=used,
                                                 gpuInstanceId=0xFFFFFFFF,
                                                 computeInstanceId=0xFFFFFFFF)
            friendly = pynvml.nvmlStructToFriendlyObject(info)
            if friendly.usedGpuMemory == not_available:
                friendly.usedGpuMemory = None
            listed.append(friendly)
        return listed

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:
        return self._unversioned("nvmlDeviceGetComputeRunningProcesses", handle, "compute")

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: Any) -> list[Any]:
        return self._unversioned("nvmlDeviceGetGraphicsRunningProcesses", handle, "graphics")

    def nvmlDeviceGetComputeRunningProcesses_v2(self, handle: Any) -> list[Any]:
        return self._processes("nvmlDeviceGetComputeRunningProcesses_v2", handle, "compute")

    def nvmlDeviceGetGraphicsRunningProcesses_v2(self, handle: Any) -> list[Any]:
        return self._processes("nvmlDeviceGetGraphicsRunningProcesses_v2", handle, "graphics")

    def _unversioned(self, name: str, handle: Any, kind: str) -> list[Any]:
        """Like pynvml's `@throwOnVersionMismatch` wrappers over the `_v3` functions."""
        try:
            return self._processes(name, handle, kind)
        except pynvml.NVMLError_FunctionNotFound:
            raise pynvml.NVMLLibraryMismatchError(f"{name}: use a versioned function") from None

    def nvmlDeviceGetProcessUtilization(self, handle: Any, since_us: int) -> list[Any]:
        gpu = self._gpu("nvmlDeviceGetProcessUtilization", handle)
        samples = [
            pynvml.c_nvmlProcessUtilizationSample_t(pid=p.pid, timeStamp=since_us + 1,
                                                    smUtil=p.sm_percent, memUtil=0)
            for p in gpu.processes.values() if p.sm_percent is not None
        ]
        if not samples:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return samples

    # -- events ----------------------------------------------------------------------------
    def nvmlEventSetCreate(self) -> Any:
        self._enter("nvmlEventSetCreate")
        self._event_sets += 1
        return ctypes.cast(ctypes.c_void_p(_EVENT_SET_BASE + self._event_sets),
                           pynvml.c_nvmlEventSet_t)

    def nvmlDeviceGetSupportedEventTypes(self, handle: Any) -> int:
        return self._gpu("nvmlDeviceGetSupportedEventTypes", handle).supported_events

    def nvmlDeviceRegisterEvents(self, handle: Any, mask: int, event_set: Any) -> None:
        gpu = self._gpu("nvmlDeviceRegisterEvents", handle)
        if mask & ~gpu.supported_events:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._registered[self.gpus.index(gpu)] = mask

    def nvmlEventSetWait(self, event_set: Any, timeout_ms: int) -> pynvml.c_nvmlEventData_t:
        self._enter("nvmlEventSetWait")
        with self._wakeup:
            if not self._deliverable():
                self._wakeup.wait(timeout_ms / 1000)
            ready = self._deliverable()
            if not ready:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)
            self._events.remove(ready[0])
        index, event_type, data = ready[0]
        return pynvml.c_nvmlEventData_t(device=self.handle_of(index), eventType=event_type,
                                        eventData=data)

    def _deliverable(self) -> list[tuple[int, int, int]]:
        return [e for e in self._events if self._registered.get(e[0], 0) & e[1]]

    def nvmlEventSetFree(self, event_set: Any) -> None:
        self._enter("nvmlEventSetFree")
        self._registered.clear()

    # -- confidential computing ------------------------------------------------------------
    def nvmlSystemGetConfComputeState(self) -> Any:
        self._enter("nvmlSystemGetConfComputeState")
        return pynvml.c_nvmlConfComputeSystemState_t(
            environment=self.cc_environment, ccFeature=self.cc_feature,
            devToolsMode=self.cc_devtools)

    def nvmlSystemGetConfComputeSettings(self, settings: Any) -> int:
        self._enter("nvmlSystemGetConfComputeSettings")
        target = getattr(settings, "_obj", settings)
        target.environment = self.cc_environment
        target.ccFeature = self.cc_feature
        target.devToolsMode = self.cc_devtools
        target.multiGpuMode = pynvml.NVML_CC_SYSTEM_MULTIGPU_NONE
        return pynvml.NVML_SUCCESS

    def nvmlSystemGetConfComputeCapabilities(self) -> Any:
        self._enter("nvmlSystemGetConfComputeCapabilities")
        capable = bool(self.gpus) and all(gpu.cc_capable for gpu in self.gpus)
        return pynvml.c_nvmlConfComputeSystemCaps_t(
            cpuCaps=self.cc_cpu_caps,
            gpusCaps=pynvml.NVML_CC_SYSTEM_GPUS_CC_CAPABLE if capable
            else pynvml.NVML_CC_SYSTEM_GPUS_CC_NOT_CAPABLE)

    def nvmlSystemGetConfComputeGpusReadyState(self) -> int:
        self._enter("nvmlSystemGetConfComputeGpusReadyState")
        return self.cc_ready
