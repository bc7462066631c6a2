"""What the engine process sees of its sandbox, checked from inside."""

from __future__ import annotations

import dataclasses
import os
import socket

from cocoon_desktop.engine.types import SandboxStatus

# In a pid namespace of its own the engine sees its sandbox's init, itself and its children.
MAX_PROCESSES_IN_OWN_PID_NAMESPACE = 16


def _visible_processes() -> int:
    try:
        return sum(1 for entry in os.listdir("/proc") if entry.isdigit())
    except OSError:
        return 0


def observed_sandbox(expected: SandboxStatus) -> SandboxStatus:
    """`expected` (what the supervisor set up), checked from inside the engine process: a
    network namespace of our own shows only the loopback interface, a pid namespace of our own
    only a handful of processes. A claim the engine cannot confirm is withdrawn, saying so."""
    observed = expected
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if expected.network_isolated and interfaces != ["lo"]:
        observed = dataclasses.replace(observed, network_isolated=False, detail=(
            f"The {expected.kind} sandbox was set up, but the engine still sees network "
            f"interfaces ({', '.join(interfaces)}): it is NOT isolated from the network."))
    processes = _visible_processes()
    if expected.pids_isolated and processes > MAX_PROCESSES_IN_OWN_PID_NAMESPACE:
        observed = dataclasses.replace(observed, pids_isolated=False, detail=(
            f"The {expected.kind} sandbox was set up, but the engine sees {processes} "
            "processes: it is NOT isolated from your other processes."))
    if observed is not expected:
        observed = dataclasses.replace(observed, detail=f"{observed.level}. {observed.detail}")
    return observed
