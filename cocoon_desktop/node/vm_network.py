"""The network side of serving from the VM, settled on the host before the VM boots: the devnet
started here, or the root config and proxies of a test network or mainnet, written into the
guest's measured config (`WorkerSection`) and, for the stats pages, into the host's copy of the
worker's config. The guest reaches the proxies it serves and nothing else: each through a
guest forward (`vm.forwards`), at a virtual address written into its config.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from cocoon_desktop.engine.attestation.providers import quote_kind_for
from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    Devnet,
    DevnetSettings,
    fake_ton_json,
    start_devnet,
)
from cocoon_desktop.network.root_config import RootConfig
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.status import NodeProblem
from cocoon_desktop.node.worker_open import WorkerSetupError, root_config_for
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.vm.forwards import GuestForward, collateral_targets, plan_forwards
from cocoon_desktop.vm.guest_config import WorkerSection
from cocoon_desktop.vm.modes import VmMode
from cocoon_desktop.wallet.chain import ChainService

EndpointSource = Callable[[], EngineEndpoint | None]


@dataclass
class GuestNetwork:
    """What the guest worker is told (its `attestation` is set once the mode is known), the
    host's copy of its config, the forwards to its proxies, and what to stop after the VM
    (the devnet)."""

    section: WorkerSection
    worker_config: WorkerConfig
    label: str
    close: Callable[[], Awaitable[None]]
    devnet: Devnet | None = None
    forwards: tuple[GuestForward, ...] = ()

    def for_mode(self, mode: VmMode, config: NodeConfig) -> WorkerSection:
        """The section for a VM in `mode`: only TDX can make the quote mainnet wants."""
        wanted = quote_kind_for(config.network, config.attestation)
        if wanted == "tdx" and mode is not VmMode.TDX:
            raise WorkerSetupError(NodeProblem(
                f"Cocoon {config.network.value} admits only Intel TDX machines, and this VM "
                f"would run as {mode} (no hardware attestation).",
                "Serve from a host with TDX (see the VM's modes in `cocoon-desktop doctor`), "
                "or serve a test network."))
        attestation = "fake_tdx" if wanted == "tdx" and mode is not VmMode.TDX else wanted
        return replace(self.section, attestation=attestation)


def proxy_targets(proxies: tuple[Endpoint, ...], root: RootConfig,
                  connections: int = WorkerConfig.proxy_connections) -> tuple[Endpoint, ...]:
    """The proxies the guest worker serves, chosen here since it reaches only those: the
    configured ones, else (like `Worker`) some of those the root config registers."""
    if proxies:
        return proxies
    registered = [p.for_workers for p in root.registered_proxies]
    random.shuffle(registered)
    return tuple(registered[: max(1, connections)])


def _plan(config: NodeConfig, targets: tuple[Endpoint, ...], policy: str
          ) -> tuple[tuple[GuestForward, ...], dict[str, str]]:
    """The guest's forwards: its proxies first, then (checking proxies' TDX quotes) the hosts
    of the DCAP collateral, with the names the guest resolves to their forwards."""
    if not targets:
        raise WorkerSetupError(NodeProblem(
            "The root config lists no proxy, and none is configured.",
            "Add `proxies = [\"host:port\"]` to the rig file, or use a root config that lists "
            "registered proxies."))
    try:
        collateral = collateral_targets(config.collateral_url) if policy == "tdx" else ()
        forwards = plan_forwards((*targets, *collateral))
    except ValueError as exc:
        raise WorkerSetupError(NodeProblem(str(exc), "Name fewer proxies, and a collateral "
                                           "URL like https://pccs.example:8081.")) from None
    names = {f.target.host: f.guest_host for f in forwards[len(targets):]}
    return forwards, names


async def resolve_guest_network(config: NodeConfig, model_name: str, owner_address: str,
                                max_active_requests: int, engine: EndpointSource,
                                chain: ChainService | None) -> GuestNetwork:
    """Start the devnet, or read the root config (WorkerSetupError says why not)."""
    devnet: Devnet | None = None
    if config.network is NetworkKind.DEVNET:
        devnet = await start_devnet(DevnetSettings(model_names=(model_name,)))
        root, root_address = devnet.root_config, devnet.root_contract_address
        proxies: tuple[Endpoint, ...] = (devnet.workers_endpoint,)
        label = f"the local devnet (proxy {devnet.workers_endpoint})"
        policy = "any"
    else:
        root, root_address = await root_config_for(config, chain)
        try:
            proxies = tuple(Endpoint.parse(p) for p in config.proxies)
        except ValueError as exc:
            raise WorkerSetupError(NodeProblem(f"A proxy address cannot be used: {exc}.",
                                               "Write proxies as host:port.")) from None
        label = f"Cocoon {config.network.value}"
        policy = "tdx" if config.network is NetworkKind.MAINNET else "fake_tdx"
    mainnet = config.network is NetworkKind.MAINNET
    targets = proxy_targets(proxies, root)
    forwards, names = _plan(config, targets, policy)
    section = WorkerSection(
        owner_address=owner_address, root_config=fake_ton_json(root),
        root_contract_address=root_address,
        proxies=tuple(f.guest_address for f in forwards[:len(targets)]),
        proxy_policy=policy, coefficient=config.coefficient,
        max_active_requests=max_active_requests, is_test=not mainnet,
        collateral_url=config.collateral_url, collateral_hosts=names,
        accepted_tcb_statuses=config.accepted_tcb_statuses)
    worker_config = WorkerConfig(
        owner_address=owner_address, model_name=model_name, engine=engine, root_config=root,
        root_contract_address=root_address, proxies=targets, is_test=not mainnet,
        check_proxy_hashes=mainnet, proxy_policy=AttestationPolicy(policy),
        coefficient=config.coefficient, max_active_requests=max_active_requests)

    async def close() -> None:
        if devnet is not None:
            await devnet.stop()

    return GuestNetwork(section, worker_config, f"{label} from the VM", close, devnet, forwards)
