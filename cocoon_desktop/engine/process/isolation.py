"""What the engine process sees of its sandbox, checked from inside."""

from __future__ import annotations

import socket

from cocoon_desktop.engine.types import SandboxStatus


def observed_sandbox(expected: SandboxStatus) -> SandboxStatus:
    """`expected` (what the supervisor set up), checked from inside the engine process: a
    network namespace of our own shows only the loopback interface."""
    interfaces = sorted(name for _, name in socket.if_nameindex())
    isolated = interfaces == ["lo"]
    if expected.network_isolated and not isolated:
        return SandboxStatus(expected.kind, False, f"The {expected.kind} sandbox was set up, but "
                             f"the engine still sees network interfaces ({', '.join(interfaces)}):"
                             " it is NOT isolated from the network.")
    return SandboxStatus(expected.kind, expected.network_isolated and isolated, expected.detail)
