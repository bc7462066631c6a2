"""The one query helper around NVML (nvidia-ml-py's `pynvml`).

Every NVML call in the app goes through `Nvml`: it initialises the library on first use, turns a
failed start into a clear state (`NvmlStatus`: no driver, driver not loaded, driver updated but not
reloaded, ...), and turns a failed query into None ("not available") logged once per metric. A
metric the card cannot report (NotSupported, FunctionNotFound on an older driver, NoPermission) is
remembered and never asked again, so a tick costs only the calls that can answer.

Calls look `pynvml` attributes up at call time (`pynvml.nvmlDeviceGetTemperature(...)` inside a
lambda), which is also how tests put a fake NVML in place: they replace those module attributes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import pynvml

log = logging.getLogger(__name__)
T = TypeVar("T")

NVIDIA_PCI_VENDOR = "0x10de"
# Codes after which asking again is pointless for the rest of the session.
_PERMANENT_CODES = frozenset(
    {
        pynvml.NVML_ERROR_NOT_SUPPORTED,
        pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
        pynvml.NVML_ERROR_NO_PERMISSION,
    }
)


class NvmlState(StrEnum):
    READY = "ready"
    LIBRARY_MISSING = "library-missing"  # libnvidia-ml.so.1 not found: no NVIDIA driver
    DRIVER_NOT_LOADED = "driver-not-loaded"
    VERSION_MISMATCH = "version-mismatch"  # driver updated, the old kernel module still runs
    NO_PERMISSION = "no-permission"
    NO_DEVICES = "no-devices"
    GPU_LOST = "gpu-lost"
    FAILED = "failed"


@dataclass(frozen=True)
class NvmlStatus:
    state: NvmlState
    summary: str  # what is the case
    fix: str  # what to do next ("" when ready)

    @property
    def ready(self) -> bool:
        return self.state is NvmlState.READY


_INIT_FAILURES: dict[int, tuple[NvmlState, str, str]] = {
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND: (
        NvmlState.LIBRARY_MISSING,
        "No NVIDIA driver found (its NVML library, libnvidia-ml.so.1, is missing).",
        "Install the NVIDIA driver for your GPU (on Debian: `sudo apt install nvidia-driver`), "
        "reboot, then check again. Until then the app serves from the CPU.",
    ),
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED: (
        NvmlState.DRIVER_NOT_LOADED,
        "The NVIDIA driver is installed but not running.",
        "Reboot. If it persists, run `sudo dmesg | grep -i nvidia`: with Secure Boot on, the "
        "driver module must be signed (or Secure Boot turned off).",
    ),
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH: (
        NvmlState.VERSION_MISMATCH,
        "The NVIDIA driver was updated, but the old version is still loaded.",
        "Reboot so the new driver loads, then check again.",
    ),
    pynvml.NVML_ERROR_NO_PERMISSION: (
        NvmlState.NO_PERMISSION,
        "This user may not access the NVIDIA GPU.",
        "Add your user to the group that owns /dev/nvidia* (often `video`), then log in again.",
    ),
    pynvml.NVML_ERROR_GPU_IS_LOST: (
        NvmlState.GPU_LOST,
        "The NVIDIA GPU stopped answering (it fell off the bus).",
        "Save your work and reboot. If it happens again, check the card's power cables and "
        "seating, and its temperature under load.",
    ),
}


def nvidia_pci_devices(sys_root: Path = Path("/sys")) -> list[str]:
    """PCI addresses of NVIDIA display/3D controllers, read from sysfs (works with no driver)."""
    devices = sys_root / "bus" / "pci" / "devices"
    found = []
    try:
        entries = sorted(devices.iterdir())
    except OSError:
        return []
    for entry in entries:
        try:
            vendor = (entry / "vendor").read_text().strip().lower()
            device_class = (entry / "class").read_text().strip().lower()
        except OSError:
            continue
        if vendor == NVIDIA_PCI_VENDOR and device_class.startswith("0x03"):
            found.append(entry.name)
    return found


def error_code(error: pynvml.NVMLError) -> int:
    return int(getattr(error, "value", pynvml.NVML_ERROR_UNKNOWN))


class Nvml:
    """Lazy NVML session. Thread-safe: the monitor thread and the Xid thread share it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: NvmlStatus | None = None
        self._initialised = False
        self._unsupported: set[str] = set()
        self._logged: set[tuple[str, int]] = set()
        self._lost: set[str] = set()  # "gpu<i>" prefixes of keys that said the GPU is lost

    def status(self) -> NvmlStatus:
        """Initialise NVML on first call; later calls return the same answer."""
        with self._lock:
            if self._status is None:
                self._status = self._start()
            return self._status

    @property
    def gpu_lost(self) -> bool:
        """True once any call said a GPU is lost (Xid 79 and the like)."""
        return bool(self._lost)

    def is_lost(self, index: int) -> bool:
        """True once a query about GPU `index` (keys `gpu<index>.…`) said it is lost."""
        return f"gpu{index}" in self._lost

    def _start(self) -> NvmlStatus:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            return _failed_start(error)
        self._initialised = True
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as error:
            return _failed_start(error)
        if count == 0:
            return NvmlStatus(
                NvmlState.NO_DEVICES,
                "The NVIDIA driver is running but reports no GPU.",
                "Check that the card is seated and powered and that `nvidia-smi` lists it.",
            )
        return NvmlStatus(NvmlState.READY, f"{count} NVIDIA GPU(s) found.", "")

    def device_count(self) -> int:
        if not self.status().ready:
            return 0
        return self.call("system.device_count", pynvml.nvmlDeviceGetCount) or 0

    def call(self, key: str, query: Callable[[], T], *, not_found: T | None = None) -> T | None:
        """Run one NVML query; None when it cannot answer. `key` names the metric, per GPU.

        `not_found` is returned, silently, when NVML answers "not found": for some queries
        (per-process load) that only means "nothing to report since last time".
        """
        if key in self._unsupported:
            return None
        try:
            return query()
        except pynvml.NVMLError as error:
            if error_code(error) == pynvml.NVML_ERROR_NOT_FOUND and not_found is not None:
                return not_found
            self._note_failure(key, error)
            return None
        except pynvml.NVMLLibraryMismatchError:
            # pynvml's unversioned wrappers say so when the driver lacks the newest variant.
            self._note_failure(key, pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND))
            return None

    def supports(self, key: str) -> bool:
        """False once `key` failed for good (not supported, no such function, no permission)."""
        return key not in self._unsupported

    def _note_failure(self, key: str, error: pynvml.NVMLError) -> None:
        code = error_code(error)
        if code in _PERMANENT_CODES:
            self._unsupported.add(key)
        if code == pynvml.NVML_ERROR_GPU_IS_LOST:
            self._lost.add(key.partition(".")[0])
        if (key, code) in self._logged:
            return
        self._logged.add((key, code))
        level = logging.INFO if code in _PERMANENT_CODES else logging.WARNING
        log.log(level, "NVML: %s is not available (%s); shown as n/a", key, _describe(error))

    def shutdown(self) -> None:
        """Release NVML if this session started it; a later call starts it again."""
        with self._lock:
            initialised, self._initialised, self._status = self._initialised, False, None
        if initialised:
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError as error:
                log.debug("NVML shutdown failed: %s", _describe(error))


def _describe(error: Any) -> str:
    try:
        return str(error)
    except Exception:  # pynvml's __str__ may itself call into a missing library
        return f"NVML error {error_code(error)}"


def _failed_start(error: pynvml.NVMLError) -> NvmlStatus:
    code = error_code(error)
    if code in _INIT_FAILURES:
        state, summary, fix = _INIT_FAILURES[code]
        return NvmlStatus(state, summary, fix)
    return NvmlStatus(
        NvmlState.FAILED,
        f"The NVIDIA driver did not start ({_describe(error)}).",
        "Run `nvidia-smi`: if it fails too, reinstall the NVIDIA driver and reboot.",
    )
