"""What the monitor sees, as frozen snapshots with units in the names.

A field is None when the hardware or driver cannot report it ("not available"); the UI shows
"n/a" for it. Nothing here imports NVML or psutil: the snapshots are plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag, StrEnum


class ClocksEventReason(IntFlag):
    """Why the GPU runs below its top clocks (NVML's `nvmlClocksEventReason*` bits)."""

    GPU_IDLE = 0x1
    APPLICATIONS_CLOCKS_SETTING = 0x2
    SW_POWER_CAP = 0x4
    HW_SLOWDOWN = 0x8
    SYNC_BOOST = 0x10
    SW_THERMAL_SLOWDOWN = 0x20
    HW_THERMAL_SLOWDOWN = 0x40
    HW_POWER_BRAKE_SLOWDOWN = 0x80
    DISPLAY_CLOCK_SETTING = 0x100


CLOCKS_EVENT_WORDS: dict[ClocksEventReason, str] = {
    ClocksEventReason.GPU_IDLE: "idle",
    ClocksEventReason.APPLICATIONS_CLOCKS_SETTING: "application clock setting",
    ClocksEventReason.SW_POWER_CAP: "power cap",
    ClocksEventReason.HW_SLOWDOWN: "hardware slowdown",
    ClocksEventReason.SYNC_BOOST: "sync boost",
    ClocksEventReason.SW_THERMAL_SLOWDOWN: "software thermal slowdown",
    ClocksEventReason.HW_THERMAL_SLOWDOWN: "hardware thermal slowdown",
    ClocksEventReason.HW_POWER_BRAKE_SLOWDOWN: "hardware power brake",
    ClocksEventReason.DISPLAY_CLOCK_SETTING: "display clock setting",
}

# The reasons that mean the card is protecting itself (heat, power delivery), not just idling.
SLOWDOWN_REASONS = (
    ClocksEventReason.HW_SLOWDOWN
    | ClocksEventReason.SW_THERMAL_SLOWDOWN
    | ClocksEventReason.HW_THERMAL_SLOWDOWN
    | ClocksEventReason.HW_POWER_BRAKE_SLOWDOWN
)


def describe_clocks_event_reasons(reasons: ClocksEventReason | int) -> tuple[str, ...]:
    """Words for each set bit, in bit order; unknown bits become `other (0x...)`."""
    mask = int(reasons)
    words = [word for flag, word in CLOCKS_EVENT_WORDS.items() if mask & flag]
    unknown = mask & ~sum(CLOCKS_EVENT_WORDS)
    if unknown:
        words.append(f"other (0x{unknown:x})")
    return tuple(words)


class GpuProcessKind(StrEnum):
    COMPUTE = "compute"
    GRAPHICS = "graphics"


@dataclass(frozen=True)
class GpuProcess:
    """A process holding a context on the GPU."""

    pid: int
    kind: GpuProcessKind
    memory_used_bytes: int | None  # None where the driver hides it (WDDM, some containers)
    sm_utilization_percent: int | None = None  # None where per-process load is not reported
    name: str | None = None  # the program's name, filled in by the health service


@dataclass(frozen=True)
class GpuStatic:
    """What does not change while the app runs: identity, versions, limits."""

    index: int
    name: str
    uuid: str
    pci_bus_id: str
    brand: str | None
    architecture: str | None
    compute_capability: str | None  # "9.0"
    driver_version: str | None
    cuda_driver_version: str | None  # "12.4": the newest CUDA the driver supports
    nvml_version: str | None
    memory_total_bytes: int | None
    power_limit_default_w: float | None
    max_pcie_generation: int | None
    max_pcie_width: int | None
    temperature_slowdown_c: int | None  # where the card starts slowing itself down
    temperature_shutdown_c: int | None


@dataclass(frozen=True)
class GpuSample:
    """One reading of one GPU. `lost` means the GPU stopped answering (fell off the bus)."""

    index: int
    uuid: str
    temperature_c: int | None
    utilization_gpu_percent: int | None
    utilization_memory_percent: int | None
    memory_total_bytes: int | None
    memory_used_bytes: int | None
    memory_free_bytes: int | None
    power_w: float | None
    power_limit_w: float | None
    energy_total_j: float | None  # the driver's counter since it loaded (Volta and newer)
    sm_clock_mhz: int | None
    memory_clock_mhz: int | None
    fan_speed_percent: int | None
    performance_state: int | None  # 0 is P0, the fastest
    clocks_event_reasons: ClocksEventReason | None
    pcie_generation: int | None
    pcie_width: int | None
    ecc_corrected_errors: int | None  # volatile: since the last driver load
    ecc_uncorrected_errors: int | None
    processes: tuple[GpuProcess, ...] | None
    lost: bool = False

    @property
    def clocks_event_words(self) -> tuple[str, ...]:
        if self.clocks_event_reasons is None:
            return ()
        return describe_clocks_event_reasons(self.clocks_event_reasons)

    @property
    def slowdown_reasons(self) -> ClocksEventReason:
        """The protective slowdowns active now (heat, power brake); empty when none."""
        if self.clocks_event_reasons is None:
            return ClocksEventReason(0)
        return self.clocks_event_reasons & SLOWDOWN_REASONS


@dataclass(frozen=True)
class SystemSample:
    """The host: CPU, memory and the disk that holds the app's data."""

    cpu_percent: float  # of all cores together, 0..100
    cpu_count: int
    memory_total_bytes: int
    memory_used_bytes: int
    memory_available_bytes: int
    disk_path: str
    disk_total_bytes: int | None
    disk_free_bytes: int | None


@dataclass(frozen=True)
class ProcessSample:
    """The engine process's own use of the host. `running` False: the pid is gone."""

    pid: int
    running: bool
    cpu_percent: float | None  # of one core: 200 means two cores busy
    rss_bytes: int | None
    threads: int | None


@dataclass(frozen=True)
class HealthTick:
    """Everything one monitor tick saw. `monotonic_s` orders ticks; `wall_time_s` labels them."""

    monotonic_s: float
    wall_time_s: float
    gpus: tuple[GpuSample, ...]
    system: SystemSample
    engine: ProcessSample | None
    own_pids: frozenset[int]  # this app and its engine: their GPU use is not "another process"
    game_processes: tuple[str, ...] = ()  # the user's listed programs that are running


class GpuEventSeverity(StrEnum):
    CRITICAL = "critical"  # hardware or driver fault: stop serving, tell the user
    WARNING = "warning"  # degraded (e.g. memory row remapped): keep serving, tell the user
    APPLICATION = "application"  # a program's own fault (often a crash): log it


@dataclass(frozen=True)
class GpuEvent:
    """An error the driver reported on its event channel (an Xid, an ECC error)."""

    monotonic_s: float
    wall_time_s: float
    gpu_index: int | None
    gpu_uuid: str | None
    kind: str  # "xid", "double-bit ECC error", "GPU unavailable"
    xid: int | None
    description: str
    severity: GpuEventSeverity


@dataclass(frozen=True)
class GpuAvailability:
    """Whether NVIDIA GPUs can be used, and if not, why and what to do: a state the UI shows."""

    available: bool
    state: str  # an `NvmlState` value
    summary: str  # what is the case, in plain words
    fix: str  # what the user can do; empty when nothing is needed
    expected: bool = False  # no NVIDIA card at all: nothing is wrong, the CPU serves
