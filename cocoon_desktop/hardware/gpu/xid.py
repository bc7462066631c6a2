"""GPU error events: NVML's event set, read on a background thread, classified by Xid.

An Xid is the driver's number for a GPU error. Some are hardware or driver faults after which
the GPU's results cannot be trusted (stop serving); some are a program's own fault, often a crash
or a killed process (Xid 45 follows every killed CUDA program): those are only logged. Numbers
and meanings follow NVIDIA's public Xid catalogue; an Xid we do not know is treated as critical,
because stopping is the safe side and the user can restart with one click.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pynvml

from cocoon_desktop.hardware.gpu.nvml import Nvml, error_code
from cocoon_desktop.hardware.snapshots import GpuEvent, GpuEventSeverity

log = logging.getLogger(__name__)

CRITICAL, WARNING, APPLICATION = (
    GpuEventSeverity.CRITICAL,
    GpuEventSeverity.WARNING,
    GpuEventSeverity.APPLICATION,
)
XID_CATALOGUE: dict[int, tuple[str, GpuEventSeverity]] = {
    8: ("GPU stopped processing (a program's work timed out)", APPLICATION),
    13: ("graphics engine exception (usually a program's bug)", APPLICATION),
    31: ("GPU memory page fault (usually a program's bug)", APPLICATION),
    32: ("invalid or corrupted command stream (driver or PCIe fault)", CRITICAL),
    38: ("driver firmware error", CRITICAL),
    43: ("GPU stopped a program's work (the program faulted)", APPLICATION),
    45: ("a program's GPU work was cleaned up (it exited or was killed)", APPLICATION),
    48: ("double-bit ECC memory error", CRITICAL),
    56: ("display engine error", APPLICATION),
    61: ("internal micro-controller breakpoint", CRITICAL),
    62: ("internal micro-controller halt", CRITICAL),
    63: ("memory page retired or row remapped (repaired; reset the GPU when convenient)", WARNING),
    64: ("memory page retirement or row remapping failed", CRITICAL),
    68: ("video decoder exception", APPLICATION),
    69: ("graphics engine class error (usually a program's bug)", APPLICATION),
    74: ("NVLink error", CRITICAL),
    79: ("GPU has fallen off the bus", CRITICAL),
    92: ("high single-bit ECC error rate", WARNING),
    94: ("contained memory error (a program was stopped; reset the GPU)", CRITICAL),
    95: ("uncontained memory error", CRITICAL),
    109: ("context switch timeout", APPLICATION),
    119: ("GSP firmware did not answer in time", CRITICAL),
    120: ("GSP firmware error", CRITICAL),
    121: ("chip-to-chip link corrected error", WARNING),
    122: ("SPI PMU RPC read failure", CRITICAL),
    123: ("SPI PMU RPC write failure", CRITICAL),
    124: ("SPI PMU RPC erase failure", CRITICAL),
    140: ("unrecovered ECC memory error", CRITICAL),
    143: ("GPU initialisation failure", CRITICAL),
    154: ("the driver asks for a GPU recovery action (reset or reboot)", CRITICAL),
}

# Event bits we listen for: the Xid channel and the errors that make results untrustworthy.
WANTED_EVENTS = (
    pynvml.nvmlEventTypeXidCriticalError
    | pynvml.nvmlEventTypeDoubleBitEccError
    | pynvml.nvmlEventTypeGpuUnavailableError
)


def classify_xid(xid: int) -> tuple[str, GpuEventSeverity]:
    """(what it means, how serious); unknown numbers are critical (see the module docstring)."""
    return XID_CATALOGUE.get(xid, (f"Xid {xid}, not in our catalogue", CRITICAL))


def make_event(
    event_type: int, event_data: int, gpu_index: int | None, gpu_uuid: str | None
) -> GpuEvent:
    """Build a `GpuEvent` from NVML's event type bit and data (the Xid for Xid events)."""
    now_m, now_w = time.monotonic(), time.time()
    if event_type & pynvml.nvmlEventTypeXidCriticalError:
        description, severity = classify_xid(int(event_data))
        return GpuEvent(now_m, now_w, gpu_index, gpu_uuid, "xid", int(event_data),
                        description, severity)
    if event_type & pynvml.nvmlEventTypeDoubleBitEccError:
        return GpuEvent(now_m, now_w, gpu_index, gpu_uuid, "double-bit ECC error", None,
                        "uncorrectable memory error", CRITICAL)
    if event_type & pynvml.nvmlEventTypeGpuUnavailableError:
        return GpuEvent(now_m, now_w, gpu_index, gpu_uuid, "GPU unavailable", None,
                        "the GPU became unavailable", CRITICAL)
    return GpuEvent(now_m, now_w, gpu_index, gpu_uuid, f"event 0x{event_type:x}", None,
                    "unexpected GPU event", WARNING)


def _address(handle: Any) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value


class XidWatcher:
    """Waits on an NVML event set on a daemon thread and hands each event to `on_event`.

    `on_event` runs on the watcher thread: hand it on to the app's loop (call_soon_threadsafe).
    """

    def __init__(
        self,
        nvml: Nvml,
        gpus: Sequence[tuple[int, str, Any]],  # (index, uuid, handle)
        on_event: Callable[[GpuEvent], None],
        wait_ms: int = 500,
    ) -> None:
        self._nvml = nvml
        self._gpus = list(gpus)
        self._on_event = on_event
        self._wait_ms = wait_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._event_set: Any = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> str | None:
        """Start watching; return None, or why GPU error events are not available here."""
        event_set = self._nvml.call("events.create", pynvml.nvmlEventSetCreate)
        if event_set is None:
            return "This driver does not report GPU error events (as on Windows and WSL)."
        registered = [gpu for gpu in self._gpus if self._register(event_set, gpu)]
        if not registered:
            self._nvml.call("events.free", lambda: pynvml.nvmlEventSetFree(event_set))
            return "No GPU here reports error (Xid) events."
        self._event_set = event_set
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-xid-events", daemon=True)
        self._thread.start()
        return None

    def _register(self, event_set: Any, gpu: tuple[int, str, Any]) -> bool:
        index, _, handle = gpu
        supported = self._nvml.call(
            f"gpu{index}.event_types", lambda: pynvml.nvmlDeviceGetSupportedEventTypes(handle)
        )
        mask = (supported or 0) & WANTED_EVENTS
        if not mask:
            return False
        done = self._nvml.call(
            f"gpu{index}.register_events",
            lambda: pynvml.nvmlDeviceRegisterEvents(handle, mask, event_set) or True,
        )
        return bool(done)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = pynvml.nvmlEventSetWait(self._event_set, self._wait_ms)
            except pynvml.NVMLError as error:
                if error_code(error) != pynvml.NVML_ERROR_TIMEOUT:
                    log.warning("GPU event wait failed (%s); retrying in a second", error)
                    self._stop.wait(1.0)
                continue
            self._deliver(data)

    def _deliver(self, data: Any) -> None:
        address = _address(data.device)
        index, uuid = next(
            ((i, u) for i, u, h in self._gpus if _address(h) == address), (None, None)
        )
        event = make_event(int(data.eventType), int(data.eventData), index, uuid)
        log.log(
            logging.ERROR if event.severity is CRITICAL else logging.WARNING,
            "GPU %s reported %s%s: %s", index, event.kind,
            f" {event.xid}" if event.xid is not None else "", event.description,
        )
        try:
            self._on_event(event)
        except Exception:
            log.exception("GPU event handler failed")

    def stop(self) -> None:
        """Stop the thread (within one wait period) and free the event set."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._wait_ms / 1000 + 2)
            self._thread = None
        if self._event_set is not None:
            event_set, self._event_set = self._event_set, None
            self._nvml.call("events.free", lambda: pynvml.nvmlEventSetFree(event_set))
