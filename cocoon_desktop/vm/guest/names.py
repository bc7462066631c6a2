"""Names the guest resolves without DNS: its user network is restricted (`vm/forwards.py`), so
the only hosts it reaches are the forwards the host set up, and the host told it, in the
measured config, which name each forward stands for (the DCAP collateral's hosts). An HTTP
client given `forwarded_session(names)` connects to the forward's address, while TLS and the
Host header keep the real name, so the certificate is checked against it as anywhere else."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult


class ForwardResolver(AbstractResolver):
    def __init__(self, names: Mapping[str, str]) -> None:
        self._names = dict(names)

    async def resolve(self, host: str, port: int = 0,
                      family: int = socket.AF_INET) -> list[ResolveResult]:
        address = self._names.get(host)
        if address is None:
            raise OSError(errno.EHOSTUNREACH, "not reachable from the VM, which reaches only "
                          "its proxies and " + (", ".join(sorted(self._names)) or "nothing else"))
        return [ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


def forwarded_session(names: Mapping[str, str]) -> Callable[[], aiohttp.ClientSession]:
    """A factory of HTTP sessions that reach `names` through their forwards."""
    def make(**kwargs: Any) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=ForwardResolver(names)), **kwargs)
    return make
