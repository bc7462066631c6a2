"""The GPU monitor: one small interface, an NVML implementation, and a Null one that says why.

    monitor = open_gpu_monitor()          # never raises
    monitor.availability()                # GpuAvailability: available, or why not and what to do
    monitor.static()                      # tuple[GpuStatic, ...]  (read once, cached)
    monitor.sample()                      # tuple[GpuSample, ...]  (one tick)
    monitor.start_events(callback)        # Xid / ECC events on a background thread
    monitor.close()

All methods block for a few milliseconds at most (NVML is a local library call): run them off
the UI thread (the app's `run_blocking`, or `HealthService`, which does it for you).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import pynvml

from cocoon_desktop.hardware.gpu.nvml import Nvml, NvmlState, NvmlStatus, nvidia_pci_devices
from cocoon_desktop.hardware.gpu.nvml_readers import GpuReader
from cocoon_desktop.hardware.gpu.xid import XidWatcher
from cocoon_desktop.hardware.snapshots import GpuAvailability, GpuEvent, GpuSample, GpuStatic

log = logging.getLogger(__name__)
EventCallback = Callable[[GpuEvent], None]


class GpuMonitor(ABC):
    """What the rest of the app may ask about the GPUs."""

    # Whether a read may wait on a driver (NVML can stall for seconds on a wedged GPU):
    # `HealthService` then reads off the event loop's thread.
    reads_block: bool = True

    @abstractmethod
    def availability(self) -> GpuAvailability: ...

    @abstractmethod
    def static(self) -> tuple[GpuStatic, ...]: ...

    @abstractmethod
    def sample(self) -> tuple[GpuSample, ...]: ...

    @abstractmethod
    def read_energy(self) -> tuple[float | None, float | None]:
        """(energy counter summed over GPUs in J, power summed in W); None where unknown."""

    @abstractmethod
    def start_events(self, on_event: EventCallback) -> str | None:
        """Start delivering GPU error events; return None, or why they are not available."""

    @abstractmethod
    def close(self) -> None: ...


class NullGpuMonitor(GpuMonitor):
    """No usable NVIDIA GPU: every answer is empty and `availability()` explains why."""

    reads_block = False

    def __init__(self, availability: GpuAvailability) -> None:
        self._availability = availability

    def availability(self) -> GpuAvailability:
        return self._availability

    def static(self) -> tuple[GpuStatic, ...]:
        return ()

    def sample(self) -> tuple[GpuSample, ...]:
        return ()

    def read_energy(self) -> tuple[float | None, float | None]:
        return None, None

    def start_events(self, on_event: EventCallback) -> str | None:
        return self._availability.summary

    def close(self) -> None:
        return None


class NvmlGpuMonitor(GpuMonitor):
    """Every NVIDIA GPU the driver lists, through the `Nvml` helper."""

    def __init__(self, nvml: Nvml) -> None:
        status = nvml.status()
        if not status.ready:
            raise ValueError(f"NVML is not ready: {status.summary}")
        self._nvml = nvml
        self._readers: list[GpuReader] = []
        for index in range(nvml.device_count()):
            handle = nvml.call(f"gpu{index}.handle",
                               lambda i=index: pynvml.nvmlDeviceGetHandleByIndex(i))
            if handle is None:
                continue
            uuid = nvml.call(f"gpu{index}.uuid", lambda h=handle: pynvml.nvmlDeviceGetUUID(h))
            reader_uuid = uuid.decode() if isinstance(uuid, bytes) else (uuid or f"GPU-{index}")
            self._readers.append(GpuReader(nvml, index, handle, reader_uuid))
        self._static: tuple[GpuStatic, ...] | None = None
        self._events: XidWatcher | None = None

    @property
    def nvml(self) -> Nvml:
        return self._nvml

    def availability(self) -> GpuAvailability:
        if self._nvml.gpu_lost:
            return _availability(
                NvmlStatus(NvmlState.GPU_LOST, "The NVIDIA GPU stopped answering.",
                           "Save your work and reboot; check the card's power and cooling.")
            )
        if not self._readers:
            return GpuAvailability(False, NvmlState.NO_DEVICES.value,
                                   "The NVIDIA driver lists GPUs but none could be opened.",
                                   "Run `nvidia-smi` to see what the driver reports.")
        names = ", ".join(s.name for s in self.static())
        return GpuAvailability(True, NvmlState.READY.value, names, "")

    def static(self) -> tuple[GpuStatic, ...]:
        if self._static is None:
            self._static = tuple(reader.read_static() for reader in self._readers)
        return self._static

    def sample(self) -> tuple[GpuSample, ...]:
        return tuple(reader.read_sample() for reader in self._readers)

    def read_energy(self) -> tuple[float | None, float | None]:
        readings = [reader.read_energy() for reader in self._readers]
        return _sum_all([e for e, _ in readings]), _sum_all([p for _, p in readings])

    def start_events(self, on_event: EventCallback) -> str | None:
        if self._events is not None and self._events.running:
            return None
        gpus = [(r.index, r.uuid, r.handle) for r in self._readers]
        self._events = XidWatcher(self._nvml, gpus, on_event)
        why_not = self._events.start()
        if why_not is not None:
            log.info("GPU error events unavailable: %s", why_not)
            self._events = None
        return why_not

    def close(self) -> None:
        if self._events is not None:
            self._events.stop()
            self._events = None
        self._nvml.shutdown()


def _sum_all(values: list[float | None]) -> float | None:
    """The sum, or None when any part is unknown (a partial sum would mislead)."""
    known = [v for v in values if v is not None]
    return sum(known) if values and len(known) == len(values) else None


def _availability(status: NvmlStatus, sys_root: Path = Path("/sys")) -> GpuAvailability:
    summary = status.summary
    if status.state in (NvmlState.LIBRARY_MISSING, NvmlState.FAILED):
        present = nvidia_pci_devices(sys_root)
        if present:
            summary = f"An NVIDIA GPU is present (PCI {present[0]}), but: {summary}"
        elif status.state is NvmlState.LIBRARY_MISSING:
            return GpuAvailability(
                False, status.state.value, "No NVIDIA GPU found: the app serves from the CPU.",
                "Nothing to do if this machine has no NVIDIA card. If it has one, install the "
                "NVIDIA driver for it and reboot.", expected=True,
            )
    return GpuAvailability(status.ready, status.state.value, summary, status.fix)


def open_gpu_monitor(nvml: Nvml | None = None, sys_root: Path = Path("/sys")) -> GpuMonitor:
    """The NVML monitor when a driver and a GPU answer, else a Null monitor saying why."""
    nvml = nvml or Nvml()
    status = nvml.status()
    if not status.ready:
        log.info("No GPU monitoring: %s", status.summary)
        nvml.shutdown()
        return NullGpuMonitor(_availability(status, sys_root))
    return NvmlGpuMonitor(nvml)
