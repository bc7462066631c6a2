"""Opening the worker for the chosen network (Qt-free; the GUI and the headless node share it).

- devnet: a whole Cocoon test network (proxy, client, OpenAI endpoint) started in-process on
  loopback; earnings are devnet "TON" in the ledger, nothing is settled on a chain.
- testnet / mainnet: the root config from upstream's fake-TON JSON file, or read from the root
  contract on chain (`root_contract_address`, through the liteservers of `ton_config`); the
  proxies it lists, or explicit ones; attestation tdx on mainnet, fake_tdx (software) on test
  networks unless the config says otherwise. On mainnet proxies' TDX quotes are checked with
  Intel DCAP against collateral from `collateral_url`, fetched and cached in the background
  (`network.collateral`) while the worker runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pytoniq_core import Cell, ShardAccount

from cocoon_desktop.core.tasks import TaskSet, run_blocking
from cocoon_desktop.engine.attestation.providers import (
    QuoteProvider,
    detect_quote_providers,
    quote_kind_for,
    select_quote_provider,
)
from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.attestation import AttestationPolicy, dcap_policy
from cocoon_desktop.network.devnet.network import Devnet, DevnetSettings, start_devnet
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import (
    RootConfig,
    RootConfigError,
    friendly,
    from_contract_data,
    from_fake_ton_json,
)
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.served import ServedWorker
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.network.worker.worker import Worker
from cocoon_desktop.node.config import NodeConfig, node_home
from cocoon_desktop.node.status import NodeProblem
from cocoon_desktop.protocol.tdx_quote import QuoteError
from cocoon_desktop.settings import NetworkKind
from cocoon_desktop.wallet.address import parse_address
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.errors import AddressError

EndpointSource = Callable[[], EngineEndpoint | None]


class WorkerSetupError(Exception):
    """The worker cannot be set up. `transient`: worth retrying by itself (the chain was
    unreachable); otherwise the user must change something (`problem.what_to_do`)."""

    def __init__(self, problem: NodeProblem, transient: bool = False) -> None:
        self.problem = problem
        self.transient = transient
        super().__init__(str(problem))


@dataclass
class OpenedWorker:
    worker: ServedWorker  # a `Worker` here, or the host's view of one in the VM
    label: str  # e.g. "the local devnet (proxy 127.0.0.1:40123)"
    close: Callable[[], Awaitable[None]]
    devnet: Devnet | None = None


WorkerOpener = Callable[[NodeConfig, str, str, EndpointSource, "ChainService | None"],
                        Awaitable[OpenedWorker]]


async def open_worker(config: NodeConfig, model_name: str, owner_address: str,
                      engine: EndpointSource, chain: ChainService | None) -> OpenedWorker:
    """The worker for `config.network`, not yet started (raises WorkerSetupError)."""
    if config.network is NetworkKind.DEVNET:
        return await _devnet_worker(config, model_name, owner_address, engine)
    root, root_address = await root_config_for(config, chain)
    mainnet = config.network is NetworkKind.MAINNET
    provider = await run_blocking(_quote_provider, config)
    image_hash = await run_blocking(provider.image_hash) or b""
    try:
        proxies = tuple(Endpoint.parse(p) for p in config.proxies)
    except ValueError as exc:
        raise WorkerSetupError(NodeProblem(f"A proxy address cannot be used: {exc}.",
                                           "Write proxies as host:port.")) from None
    if not proxies and not root.registered_proxies:
        raise WorkerSetupError(NodeProblem(
            "The root config lists no proxy, and none is configured.",
            "Add `proxies = [\"host:port\"]` to the rig file, or use a root config that lists "
            "registered proxies."))
    policy, refresher = _proxy_policy(config, mainnet)
    worker_config = WorkerConfig(
        owner_address=owner_address, model_name=model_name, engine=engine, root_config=root,
        root_contract_address=root_address, proxies=proxies, is_test=not mainnet,
        check_proxy_hashes=mainnet, proxy_policy=policy,
        coefficient=config.coefficient, max_active_requests=config.max_active_requests,
        image_hash=image_hash)
    worker = Worker(worker_config, make_identity(provider))

    async def close() -> None:
        await worker.stop()
        await refresher.close()

    return OpenedWorker(worker, f"Cocoon {config.network.value}", close)


def _proxy_policy(config: NodeConfig, mainnet: bool) -> tuple[AttestationPolicy, TaskSet]:
    """Mainnet: TDX checked with DCAP, its collateral refreshed by a task; else fake_tdx."""
    if not mainnet:
        return AttestationPolicy("fake_tdx"), TaskSet("no collateral refresher")
    folder = node_home(config.instance, config.home).paths.cache_dir / "dcap-collateral"
    return dcap_policy(folder, config.collateral_url, config.accepted_tcb_statuses)


async def _devnet_worker(config: NodeConfig, model_name: str, owner_address: str,
                         engine: EndpointSource) -> OpenedWorker:
    devnet = await start_devnet(DevnetSettings(model_names=(model_name,)))
    worker_config = WorkerConfig(
        owner_address=owner_address, model_name=model_name, engine=engine,
        root_config=devnet.root_config, root_contract_address=devnet.root_contract_address,
        proxies=(devnet.workers_endpoint,), proxy_policy=AttestationPolicy("any"),
        coefficient=config.coefficient, max_active_requests=config.max_active_requests)
    worker = Worker(worker_config, make_identity(None))

    async def close() -> None:
        await worker.stop()
        await devnet.stop()

    label = f"the local devnet (proxy {devnet.workers_endpoint})"
    return OpenedWorker(worker, label, close, devnet)


def _quote_provider(config: NodeConfig) -> QuoteProvider:
    wanted = quote_kind_for(config.network, config.attestation)
    try:
        return select_quote_provider(wanted, detect_quote_providers())
    except QuoteError as exc:
        raise WorkerSetupError(NodeProblem(
            f"This machine cannot make the {wanted} attestation the worker needs: {exc}",
            "Run `cocoon-desktop doctor` to see what this machine can "
            "serve; test networks accept software attestation (attestation = \"fake_tdx\")."
        )) from None


async def root_config_for(config: NodeConfig, chain: ChainService | None
                          ) -> tuple[RootConfig, str]:
    """The root config of a test network or mainnet, and the root contract's address."""
    if config.root_config_file is not None:
        try:
            root = await run_blocking(from_fake_ton_json, config.root_config_file)
        except (RootConfigError, ValueError, OSError) as exc:
            raise WorkerSetupError(NodeProblem(
                f"The root config file {config.root_config_file} cannot be used: {exc}",
                "Point `root_config_file` at the network's root-config JSON.")) from None
        # Contract addresses derive from the root contract's address: take the configured
        # one (upstream's fake-TON setups name it too), else the file's owner as before.
        return root, config.root_contract_address or friendly(root.owner_address)
    if config.root_contract_address:
        return await _root_from_chain(config.root_contract_address, chain), \
            config.root_contract_address
    raise WorkerSetupError(NodeProblem(
        f"Serving on Cocoon {config.network.value} needs its root config.",
        "Set `root_contract_address` (read from the chain) or `root_config_file` (a "
        "root-config JSON) in the rig file, or the network endpoint in Settings."))


async def _root_from_chain(address_text: str, chain: ChainService | None) -> RootConfig:
    if chain is None:
        raise WorkerSetupError(NodeProblem("The root contract cannot be read: this network "
                                           "has no chain connection.", "Use a root config "
                                           "file instead."))
    try:
        address = parse_address(address_text).address
    except AddressError as exc:
        raise WorkerSetupError(NodeProblem(f"The root contract address cannot be used: "
                                           f"{exc.what}", exc.what_to_do)) from None
    reading = await chain.read_account(address)
    if not reading.fresh or reading.shard_account is None:
        raise WorkerSetupError(NodeProblem(
            f"The root contract could not be read from the chain: {reading.state.message}",
            "Check the network connection and `ton_config`; the node keeps trying."),
            transient=True)
    data = _contract_data(reading.shard_account)
    if data is None:
        raise WorkerSetupError(NodeProblem(
            f"There is no active contract at {address_text}.",
            "Check `root_contract_address` (upstream's worker.conf names the right one)."))
    try:
        return from_contract_data(data)
    except RootConfigError as exc:
        raise WorkerSetupError(NodeProblem(f"The root contract cannot be read: {exc}",
                                           "This app may need an update.")) from None


def _contract_data(shard_account: Cell) -> Cell | None:
    account = ShardAccount.deserialize(shard_account.begin_parse()).account
    state = account.storage.state if account is not None else None
    if state is None or state.type_ != "account_active" or state.state_init is None:
        return None
    return state.state_init.data
