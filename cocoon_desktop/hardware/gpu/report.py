"""`python -m cocoon_desktop.hardware.gpu.report`: the monitor's view of this machine's GPUs.

Prints one block of static facts per GPU, then a few samples (one per second by default), or
why there is no GPU to show. `scripts/gpu-check.sh` calls it. Exit status: 0, or 1 with
`--require-gpu` when no NVIDIA GPU can be read, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from cocoon_desktop.hardware.gpu.monitor import GpuMonitor, open_gpu_monitor
from cocoon_desktop.hardware.snapshots import GpuSample, GpuStatic
from cocoon_desktop.hardware.units import NOT_AVAILABLE, format_bytes, format_number


def format_static(gpu: GpuStatic) -> list[str]:
    pcie = (f"gen {gpu.max_pcie_generation} x{gpu.max_pcie_width}"
            if gpu.max_pcie_generation is not None else NOT_AVAILABLE)
    return [
        f"GPU {gpu.index}: {gpu.name}",
        f"  uuid {gpu.uuid}   pci {gpu.pci_bus_id or NOT_AVAILABLE}",
        f"  brand {gpu.brand or NOT_AVAILABLE}   architecture {gpu.architecture or NOT_AVAILABLE}"
        f"   compute capability {gpu.compute_capability or NOT_AVAILABLE}",
        f"  driver {gpu.driver_version or NOT_AVAILABLE}   CUDA (driver) "
        f"{gpu.cuda_driver_version or NOT_AVAILABLE}   NVML {gpu.nvml_version or NOT_AVAILABLE}",
        f"  VRAM {format_bytes(gpu.memory_total_bytes)}   default power limit "
        f"{format_number(gpu.power_limit_default_w, ' W')}   max PCIe {pcie}",
        f"  slows down at {format_number(gpu.temperature_slowdown_c, ' °C')}, shuts down at "
        f"{format_number(gpu.temperature_shutdown_c, ' °C')}",
    ]


def format_sample(gpu: GpuSample) -> str:
    reasons = ", ".join(gpu.clocks_event_words) or (
        "none" if gpu.clocks_event_reasons is not None else NOT_AVAILABLE)
    pstate = NOT_AVAILABLE if gpu.performance_state is None else f"P{gpu.performance_state}"
    ecc = NOT_AVAILABLE if gpu.ecc_uncorrected_errors is None else (
        f"{gpu.ecc_corrected_errors}/{gpu.ecc_uncorrected_errors}")
    processes = NOT_AVAILABLE if gpu.processes is None else str(len(gpu.processes))
    return (
        f"GPU {gpu.index}: {format_number(gpu.temperature_c, ' °C')}  "
        f"load {format_number(gpu.utilization_gpu_percent, '%')}  "
        f"mem-load {format_number(gpu.utilization_memory_percent, '%')}  "
        f"VRAM {format_bytes(gpu.memory_used_bytes)} used / "
        f"{format_bytes(gpu.memory_free_bytes)} free  "
        f"power {format_number(gpu.power_w, ' W', 1)} of {format_number(gpu.power_limit_w, ' W')}"
        f"  energy {format_number(gpu.energy_total_j, ' J')}  "
        f"SM {format_number(gpu.sm_clock_mhz, ' MHz')}  "
        f"mem {format_number(gpu.memory_clock_mhz, ' MHz')}  "
        f"fan {format_number(gpu.fan_speed_percent, '%')}  {pstate}  "
        f"PCIe gen {format_number(gpu.pcie_generation)} x{format_number(gpu.pcie_width)}  "
        f"ECC corrected/uncorrected {ecc}  processes {processes}  clocks held by: {reasons}"
        + ("  LOST" if gpu.lost else "")
    )


def print_report(monitor: GpuMonitor, samples: int, interval_s: float) -> bool:
    """Print the view; False when there is no GPU to show."""
    availability = monitor.availability()
    if not availability.available:
        print(f"No GPU monitoring: {availability.summary}")
        if availability.fix:
            print(f"  What to do: {availability.fix}")
        return False
    for gpu in monitor.static():
        print("\n".join(format_static(gpu)))
    why_no_events = monitor.start_events(lambda event: print(
        f"GPU event: {event.kind} {event.xid or ''} {event.description} ({event.severity})"))
    print("GPU error events: " + (why_no_events or "watched"))
    for n in range(samples):
        if n:
            time.sleep(interval_s)
        for gpu in monitor.sample():
            print(format_sample(gpu))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cocoon_desktop.hardware.gpu.report",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3, help="how many samples (default 3)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--require-gpu", action="store_true",
                        help="exit with status 1 when no NVIDIA GPU can be read")
    args = parser.parse_args(argv)
    if args.samples < 0 or args.interval < 0:
        parser.error("--samples and --interval cannot be negative")
    monitor = open_gpu_monitor()
    try:
        shown = print_report(monitor, args.samples, args.interval)
    finally:
        monitor.close()
    return 1 if args.require_gpu and not shown else 0


if __name__ == "__main__":
    sys.exit(main())
