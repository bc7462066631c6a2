"""Which GPU a node serves on, and a monitor that sees only that GPU.

One worker per GPU: instance N's engine gets `CUDA_VISIBLE_DEVICES=<the GPU's UUID>` (a UUID,
not an index: CUDA numbers GPUs fastest first, NVML and upstream's `gpu` key by PCI bus), and
its protection watches only that card, so one hot GPU pauses only the worker on it.

The `gpu` setting: a PCI bus id as upstream's worker.conf and `lspci` write it
(`0000:01:00.0`, `01:00.0`), an NVML index (`1`), a UUID (`GPU-…`), or `all` (no restriction).
Empty: the only GPU when there is one; on a machine with several, GPU number `instance`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cocoon_desktop.hardware.gpu.monitor import EventCallback, GpuMonitor
from cocoon_desktop.hardware.snapshots import GpuAvailability, GpuEvent, GpuSample, GpuStatic

_PCI = re.compile(r"^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-9a-f]{1,2})$")


class GpuSelectError(Exception):
    """The GPU asked for cannot be used; the text says what to change."""


@dataclass(frozen=True)
class GpuChoice:
    index: int
    uuid: str
    pci_bus_id: str
    name: str

    @property
    def engine_environment(self) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": self.uuid}

    def __str__(self) -> str:
        return f"GPU {self.index} ({self.name}, PCI {self.pci_bus_id})"


def pci_key(text: str) -> tuple[int, int, int, int] | None:
    """(domain, bus, device, function) of a PCI address in any usual spelling, else None."""
    match = _PCI.match(text.strip().lower())
    if match is None:
        return None
    domain, bus, device, function = match.groups()
    return int(domain or "0", 16), int(bus, 16), int(device, 16), int(function, 16)


def _listing(gpus: tuple[GpuStatic, ...]) -> str:
    return "; ".join(f"{g.index}: {g.name} (PCI {g.pci_bus_id}, {g.uuid})" for g in gpus)


def choose_gpu(monitor: GpuMonitor, spec: str, instance: int) -> GpuChoice | None:
    """The GPU for this node, or None (no GPU here, or `all`); GpuSelectError when the one
    asked for is not there."""
    spec = spec.strip()
    if spec.lower() == "all":
        return None
    availability = monitor.availability()
    gpus = monitor.static() if availability.available else ()
    if not gpus:
        if not spec:
            return None  # no NVIDIA GPU: the engine serves from the CPU
        raise GpuSelectError(f"GPU {spec!r} was asked for, but no NVIDIA GPU can be read: "
                             f"{availability.summary} {availability.fix}".strip())
    found = _match(gpus, spec, instance)
    if found is None:
        wanted = spec or f"number {instance} (one GPU per instance)"
        raise GpuSelectError(
            f"There is no GPU {wanted} on this machine. Set `gpu` to one of: {_listing(gpus)}.")
    return GpuChoice(found.index, found.uuid, found.pci_bus_id, found.name)


def _match(gpus: tuple[GpuStatic, ...], spec: str, instance: int) -> GpuStatic | None:
    if not spec:
        return gpus[0] if len(gpus) == 1 and instance == 0 else _by_index(gpus, instance)
    if spec.isascii() and spec.isdigit():  # "²" is a digit to isdigit(), not to int()
        return _by_index(gpus, int(spec))
    if spec.upper().startswith("GPU-"):
        return next((g for g in gpus if g.uuid.lower() == spec.lower()), None)
    key = pci_key(spec)
    if key is None:
        raise GpuSelectError(
            f"`gpu = {spec!r}` is not a GPU: give its PCI bus id (as `lspci` shows it, e.g. "
            "0000:01:00.0), its number (0, 1, …), its UUID (GPU-…), or `all`.")
    return next((g for g in gpus if pci_key(g.pci_bus_id) == key), None)


def _by_index(gpus: tuple[GpuStatic, ...], index: int) -> GpuStatic | None:
    return next((g for g in gpus if g.index == index), None)


class SelectedGpuMonitor(GpuMonitor):
    """`inner` restricted to one GPU: samples, energy and error events of that card only.

    Energy is read from a sample of that card (a few more NVML calls than a bare counter read:
    microseconds each)."""

    def __init__(self, inner: GpuMonitor, choice: GpuChoice) -> None:
        self._inner = inner
        self.choice = choice
        self.reads_block = inner.reads_block

    def availability(self) -> GpuAvailability:
        found = self._inner.availability()
        if not found.available:
            return found
        return GpuAvailability(True, found.state, str(self.choice), found.fix)

    def static(self) -> tuple[GpuStatic, ...]:
        return tuple(g for g in self._inner.static() if g.index == self.choice.index)

    def sample(self) -> tuple[GpuSample, ...]:
        return tuple(g for g in self._inner.sample() if g.index == self.choice.index)

    def read_energy(self) -> tuple[float | None, float | None]:
        mine = self.sample()
        if not mine:
            return None, None
        return mine[0].energy_total_j, mine[0].power_w

    def start_events(self, on_event: EventCallback) -> str | None:
        def mine_only(event: GpuEvent) -> None:
            if event.gpu_index is None or event.gpu_index == self.choice.index:
                on_event(event)

        return self._inner.start_events(mine_only)

    def close(self) -> None:
        self._inner.close()
