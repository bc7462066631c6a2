"""Turn NVML answers into snapshots: one `GpuReader` per GPU, every query through `Nvml.call`."""

from __future__ import annotations

import time
from typing import Any

import pynvml

from cocoon_desktop.hardware.gpu.nvml import Nvml
from cocoon_desktop.hardware.snapshots import (
    ClocksEventReason,
    GpuProcess,
    GpuProcessKind,
    GpuSample,
    GpuStatic,
)

BRANDS: dict[int, str] = {
    pynvml.NVML_BRAND_QUADRO: "Quadro",
    pynvml.NVML_BRAND_TESLA: "Tesla",
    pynvml.NVML_BRAND_NVS: "NVS",
    pynvml.NVML_BRAND_GEFORCE: "GeForce",
    pynvml.NVML_BRAND_TITAN: "Titan",
    pynvml.NVML_BRAND_NVIDIA_VCS: "NVIDIA vGPU for Compute",
    pynvml.NVML_BRAND_QUADRO_RTX: "Quadro RTX",
    pynvml.NVML_BRAND_NVIDIA_RTX: "NVIDIA RTX",
    pynvml.NVML_BRAND_NVIDIA: "NVIDIA",
    pynvml.NVML_BRAND_GEFORCE_RTX: "GeForce RTX",
    pynvml.NVML_BRAND_TITAN_RTX: "Titan RTX",
}
ARCHITECTURES: dict[int, str] = {
    pynvml.NVML_DEVICE_ARCH_KEPLER: "Kepler",
    pynvml.NVML_DEVICE_ARCH_MAXWELL: "Maxwell",
    pynvml.NVML_DEVICE_ARCH_PASCAL: "Pascal",
    pynvml.NVML_DEVICE_ARCH_VOLTA: "Volta",
    pynvml.NVML_DEVICE_ARCH_TURING: "Turing",
    pynvml.NVML_DEVICE_ARCH_AMPERE: "Ampere",
    pynvml.NVML_DEVICE_ARCH_ADA: "Ada Lovelace",
    pynvml.NVML_DEVICE_ARCH_HOPPER: "Hopper",
    pynvml.NVML_DEVICE_ARCH_BLACKWELL: "Blackwell",
}


def _watts(milliwatts: int | None) -> float | None:
    return None if milliwatts is None else milliwatts / 1000.0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def cuda_version_text(version: int | None) -> str | None:
    """NVML's 12040 -> "12.4"."""
    if not version:
        return None
    return f"{version // 1000}.{(version % 1000) // 10}"


class GpuReader:
    """Reads one GPU. Keeps the per-process load cursor between ticks."""

    def __init__(self, nvml: Nvml, index: int, handle: Any, uuid: str) -> None:
        self.nvml = nvml
        self.index = index
        self.handle = handle
        self.uuid = uuid
        self._load_since_us = 0

    def _q(self, metric: str, query: Any, *args: Any) -> Any:
        """Call `pynvml.<query>(handle, *args)` for `metric`, looking the function up now."""
        handle = self.handle
        return self.nvml.call(
            f"gpu{self.index}.{metric}", lambda: getattr(pynvml, query)(handle, *args)
        )

    def read_static(self) -> GpuStatic:
        nvml = self.nvml
        pci = self._q("pci_info", "nvmlDeviceGetPciInfo")
        capability = self._q("compute_capability", "nvmlDeviceGetCudaComputeCapability")
        memory = self._q("memory", "nvmlDeviceGetMemoryInfo")
        brand = self._q("brand", "nvmlDeviceGetBrand")
        arch = self._q("architecture", "nvmlDeviceGetArchitecture")
        thresholds = (pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN,
                      pynvml.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN)
        slowdown, shutdown = (
            self._q(f"temperature_threshold_{t}", "nvmlDeviceGetTemperatureThreshold", t)
            for t in thresholds
        )
        return GpuStatic(
            index=self.index,
            name=_text(self._q("name", "nvmlDeviceGetName")) or f"NVIDIA GPU {self.index}",
            uuid=self.uuid,
            pci_bus_id=_text(pci.busId) if pci is not None else "",
            brand=None if brand is None else BRANDS.get(brand, f"brand {brand}"),
            architecture=None if arch is None else ARCHITECTURES.get(arch, f"architecture {arch}"),
            compute_capability=None if capability is None else "{}.{}".format(*capability),
            driver_version=_text(nvml.call("system.driver", pynvml.nvmlSystemGetDriverVersion)),
            cuda_driver_version=cuda_version_text(
                nvml.call("system.cuda", pynvml.nvmlSystemGetCudaDriverVersion)
            ),
            nvml_version=_text(nvml.call("system.nvml", pynvml.nvmlSystemGetNVMLVersion)),
            memory_total_bytes=None if memory is None else int(memory.total),
            power_limit_default_w=_watts(
                self._q("power_limit_default", "nvmlDeviceGetPowerManagementDefaultLimit")
            ),
            max_pcie_generation=self._q("pcie_max_gen", "nvmlDeviceGetMaxPcieLinkGeneration"),
            max_pcie_width=self._q("pcie_max_width", "nvmlDeviceGetMaxPcieLinkWidth"),
            temperature_slowdown_c=slowdown,
            temperature_shutdown_c=shutdown,
        )

    def read_sample(self) -> GpuSample:
        q = self._q
        memory = q("memory", "nvmlDeviceGetMemoryInfo")
        utilization = q("utilization", "nvmlDeviceGetUtilizationRates")
        energy_mj = q("energy", "nvmlDeviceGetTotalEnergyConsumption")
        reasons = q("clocks_event_reasons", "nvmlDeviceGetCurrentClocksEventReasons")
        ecc = pynvml.NVML_VOLATILE_ECC
        return GpuSample(
            index=self.index,
            uuid=self.uuid,
            temperature_c=q("temperature", "nvmlDeviceGetTemperature", pynvml.NVML_TEMPERATURE_GPU),
            utilization_gpu_percent=None if utilization is None else int(utilization.gpu),
            utilization_memory_percent=None if utilization is None else int(utilization.memory),
            memory_total_bytes=None if memory is None else int(memory.total),
            memory_used_bytes=None if memory is None else int(memory.used),
            memory_free_bytes=None if memory is None else int(memory.free),
            power_w=_watts(q("power", "nvmlDeviceGetPowerUsage")),
            power_limit_w=_watts(q("power_limit", "nvmlDeviceGetEnforcedPowerLimit")),
            energy_total_j=None if energy_mj is None else energy_mj / 1000.0,
            sm_clock_mhz=q("sm_clock", "nvmlDeviceGetClockInfo", pynvml.NVML_CLOCK_SM),
            memory_clock_mhz=q("memory_clock", "nvmlDeviceGetClockInfo", pynvml.NVML_CLOCK_MEM),
            fan_speed_percent=q("fan_speed", "nvmlDeviceGetFanSpeed"),
            performance_state=_pstate(q("performance_state", "nvmlDeviceGetPerformanceState")),
            clocks_event_reasons=None if reasons is None else ClocksEventReason(reasons),
            pcie_generation=q("pcie_generation", "nvmlDeviceGetCurrPcieLinkGeneration"),
            pcie_width=q("pcie_width", "nvmlDeviceGetCurrPcieLinkWidth"),
            ecc_corrected_errors=q("ecc_corrected", "nvmlDeviceGetTotalEccErrors",
                                   pynvml.NVML_MEMORY_ERROR_TYPE_CORRECTED, ecc),
            ecc_uncorrected_errors=q("ecc_uncorrected", "nvmlDeviceGetTotalEccErrors",
                                     pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, ecc),
            processes=self.read_processes(),
            lost=self.nvml.is_lost(self.index),
        )

    def read_energy(self) -> tuple[float | None, float | None]:
        """(energy counter in J, power in W), each None where not reported."""
        energy_mj = self._q("energy", "nvmlDeviceGetTotalEnergyConsumption")
        power = _watts(self._q("power", "nvmlDeviceGetPowerUsage"))
        return (None if energy_mj is None else energy_mj / 1000.0), power

    def read_processes(self) -> tuple[GpuProcess, ...] | None:
        """Compute and graphics contexts, merged by pid, with per-process load where reported."""
        compute = self._versioned("compute_processes", "nvmlDeviceGetComputeRunningProcesses")
        graphics = self._versioned("graphics_processes", "nvmlDeviceGetGraphicsRunningProcesses")
        if compute is None and graphics is None:
            return None
        found: dict[int, tuple[GpuProcessKind, int | None]] = {}
        lists = ((GpuProcessKind.GRAPHICS, graphics), (GpuProcessKind.COMPUTE, compute))
        for kind, listed in lists:
            for info in listed or ():
                memory = getattr(info, "usedGpuMemory", None)
                found[int(info.pid)] = (kind, None if memory is None else int(memory))
        load = self._read_process_load()
        return tuple(
            GpuProcess(pid, kind, memory, load.get(pid, 0) if load is not None else None)
            for pid, (kind, memory) in sorted(found.items())
        )

    def _versioned(self, metric: str, query: str) -> Any:
        """The newest variant of `query` this driver has: pynvml's default (`_v3`), else `_v2`."""
        for suffix in ("", "_v2"):
            if self.nvml.supports(f"gpu{self.index}.{metric}{suffix}"):
                result = self._q(metric + suffix, query + suffix)
                if result is not None or self.nvml.supports(f"gpu{self.index}.{metric}{suffix}"):
                    return result
        return None

    def _read_process_load(self) -> dict[int, int] | None:
        """SM load per pid over the last second (a pid without samples was idle: 0); None where
        the card does not report per-process load."""
        since = self._load_since_us
        handle = self.handle
        samples = self.nvml.call(
            f"gpu{self.index}.process_load",
            lambda: pynvml.nvmlDeviceGetProcessUtilization(handle, since),
            not_found=[],
        )
        if samples is None:
            return None
        self._load_since_us = int(time.time() * 1_000_000) - 1_000_000
        load: dict[int, int] = {}
        for sample in samples:
            load[int(sample.pid)] = max(load.get(int(sample.pid), 0), int(sample.smUtil))
        return load


def _pstate(value: int | None) -> int | None:
    if value is None or value == pynvml.NVML_PSTATE_UNKNOWN:
        return None
    return int(value)
