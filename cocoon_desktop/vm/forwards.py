"""What the guest may reach over the network: exactly its proxies, nothing else.

QEMU's user network runs with `restrict=on`: the guest reaches neither this host (its
loopback is not 10.0.2.2 any more) nor the outside, except through the forwards set here.
The host forwards in (the control channel, the engine) still work. Each proxy the guest
worker serves gets one guest forward: the guest connects to a virtual address on its own
network (10.0.2.100 + i, the proxy's port) and, for each such connection, QEMU runs
`proxy_pipe.py` on the host, which connects to the proxy itself (a loopback devnet or an
address on the internet) and joins the two. On mainnet the guest also fetches Intel's DCAP
collateral (to check the proxies' quotes): each of those hosts gets a forward too, and the guest
resolves their names to the forwards' addresses (`guest/names.py`; it has no DNS), so TLS still
runs from the guest to Intel with the real name.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cocoon_desktop.network.collateral import INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL
from cocoon_desktop.network.transport import Endpoint

GUEST_NETWORK_PREFIX = "10.0.2."  # QEMU's user network; the guest is 10.0.2.15
FIRST_FORWARD_HOST = 100  # 10.0.2.100, .101, ...: free addresses on that network
MAX_FORWARDS = 100
PIPE_SCRIPT = Path(__file__).with_name("proxy_pipe.py")


@dataclass(frozen=True)
class GuestForward:
    guest_host: str  # the virtual address the guest connects to
    target: Endpoint  # where this host connects for it (the same port)

    @property
    def guest_address(self) -> str:
        return f"{self.guest_host}:{self.target.port}"

    def netdev_rule(self, python: str = sys.executable) -> str:
        """QEMU's `guestfwd=` option: a pipe per connection (commas doubled, as QEMU's option
        parser reads them)."""
        command = shlex.join([python, "-I", "-S", str(PIPE_SCRIPT), self.target.host,
                              str(self.target.port)])
        return (f"guestfwd=tcp:{self.guest_host}:{self.target.port}-cmd:{command}"
                ).replace(",", ",,")


def plan_forwards(targets: Sequence[Endpoint]) -> tuple[GuestForward, ...]:
    """One guest address per proxy, in order (ValueError past `MAX_FORWARDS`)."""
    if len(targets) > MAX_FORWARDS:
        raise ValueError(f"The VM can reach at most {MAX_FORWARDS} proxies; "
                         f"{len(targets)} are configured.")
    return tuple(GuestForward(f"{GUEST_NETWORK_PREFIX}{FIRST_FORWARD_HOST + i}", target)
                 for i, target in enumerate(targets))


def collateral_targets(collateral_url: str) -> tuple[Endpoint, ...]:
    """The hosts the guest fetches DCAP collateral from: the service's, and Intel's
    certificate host for the root CA's CRL when the service is Intel's PCS."""
    urls = [collateral_url]
    if collateral_url.rstrip("/") == INTEL_PCS_URL:
        urls.append(INTEL_ROOT_CA_CRL_URL)
    targets = []
    for url in urls:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"The collateral URL {url!r} names no host.")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        targets.append(Endpoint(parts.hostname, port))
    return tuple(targets)


def host_address(forwards: Sequence[GuestForward], guest_address: str) -> str:
    """The proxy's own address for an address the guest reported (unchanged if unknown)."""
    for forward in forwards:
        if forward.guest_address == guest_address:
            return str(forward.target)
    return guest_address
