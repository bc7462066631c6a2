"""The devnet proxy: accepts workers and clients over RA-TLS, routes, meters, signs payments.

It follows upstream's ProxyRunner in fake-TON mode (`ton_disabled`): no chain, so every finished
request is committed at once and the worker's cumulative statement is re-signed with the
proxy's Ed25519 key (`ProxyRunner::sign_worker_payment`, `sign_and_wrap_message`). Routing is
upstream's `choose_connection`: the worker connection with room whose load (running requests x
average request time, then running requests) is lowest; a model nobody serves, or workers all
full, is refused explicitly to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pytoniq_core import Address

from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.book import ProxyBook
from cocoon_desktop.network.devnet.proxy_conns import accept_client, accept_worker
from cocoon_desktop.network.ratls import RaTlsIdentity
from cocoon_desktop.network.root_config import RootConfig
from cocoon_desktop.network.transport import RaTlsServer, serve_ratls

log = logging.getLogger(__name__)


class DevnetProxy(ProxyBook):
    def __init__(self, root_config: RootConfig, root_address: Address, owner_address: Address,
                 identity: RaTlsIdentity, *, worker_policy: AttestationPolicy,
                 client_policy: AttestationPolicy, client_keys: Iterable[bytes] = (),
                 check_worker_hashes: bool = False, pow_difficulty: int = 16) -> None:
        super().__init__(root_config, root_address, owner_address,
                         check_worker_hashes=check_worker_hashes)
        self.identity = identity
        self.worker_policy = worker_policy
        self.client_policy = client_policy
        # The clients' credential: the Ed25519 keys of their RA-TLS certificates (proven in the
        # handshake). Empty: no client is served.
        self.client_keys = frozenset(client_keys)
        self.pow_difficulty = pow_difficulty
        self.servers: list[RaTlsServer] = []

    async def start(self, host: str = "127.0.0.1", workers_port: int = 0,
                    clients_port: int = 0) -> tuple[int, int]:
        """Listen for workers and clients; returns the two bound ports."""
        workers = await serve_ratls(host, workers_port, self.identity, self.worker_policy,
                                    lambda s, p, w: accept_worker(self, s, p, w),
                                    pow_difficulty=self.pow_difficulty)
        clients = await serve_ratls(host, clients_port, self.identity, self.client_policy,
                                    lambda s, p, w: accept_client(self, s, p, w),
                                    pow_difficulty=self.pow_difficulty)
        self.servers = [workers, clients]
        return workers.sockets[0].getsockname()[1], clients.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, end every session (asyncio leaves accepted sockets open) and wait
        for every task the proxy started."""
        for server in self.servers:
            server.close()
        for conn in list(self.connections):
            await conn.close("the devnet proxy stopped")
        for server in self.servers:
            await server.wait_closed()  # the sessions' handlers end (their relays fail)
        await self.tasks.close()
