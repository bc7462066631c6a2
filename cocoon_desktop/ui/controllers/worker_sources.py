"""Where the worker connects, per network choice: the in-app devnet, or a root config file.

- devnet: a whole Cocoon test network (proxy, client, OpenAI endpoint) started inside the app
  on loopback; the user sees the full path work and earns devnet "TON" in the ledger.
- testnet / mainnet: the root config comes from a fake-TON JSON file named in Settings
  ("Network endpoint"), optionally with an explicit proxy; software attestation (fake_tdx)
  on test networks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.engine.quote import QuoteError, detect_quote_providers, select_quote_provider
from cocoon_desktop.engine.types import EngineEndpoint
from cocoon_desktop.network.attestation import AttestationPolicy
from cocoon_desktop.network.devnet.network import (
    DEVNET_WORKER_OWNER,
    Devnet,
    DevnetSettings,
    start_devnet,
)
from cocoon_desktop.network.ratls import make_identity
from cocoon_desktop.network.root_config import RootConfigError, friendly, from_fake_ton_json
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.network.worker.types import WorkerConfig
from cocoon_desktop.network.worker.worker import Worker
from cocoon_desktop.settings import AppSettings, NetworkKind

EndpointSource = Callable[[], EngineEndpoint | None]


class WorkerSetupError(Exception):
    """The worker cannot be set up; the text says what to change."""


@dataclass
class OpenedWorker:
    worker: Worker
    worker_fee_per_token: int
    label: str  # e.g. "the local devnet (proxy 127.0.0.1:40123)"
    close: Callable[[], Awaitable[None]]
    devnet: Devnet | None = None


async def open_worker(settings: AppSettings, model_name: str,
                      engine: EndpointSource) -> OpenedWorker:
    if settings.network is NetworkKind.DEVNET:
        return await _devnet_worker(settings, model_name, engine)
    return _root_config_worker(settings, model_name, engine)


async def _devnet_worker(settings: AppSettings, model_name: str,
                         engine: EndpointSource) -> OpenedWorker:
    devnet = await start_devnet(DevnetSettings(model_names=(model_name,)))
    config = WorkerConfig(
        owner_address=settings.owner_address or friendly(DEVNET_WORKER_OWNER),
        model_name=model_name, engine=engine, root_config=devnet.root_config,
        root_contract_address=devnet.root_contract_address,
        proxies=(devnet.workers_endpoint,), proxy_policy=AttestationPolicy("any"),
        coefficient=settings.coefficient, max_active_requests=settings.max_active_requests,
    )
    worker = Worker(config, make_identity(None))

    async def close() -> None:
        await worker.stop()
        await devnet.stop()

    label = f"the local devnet (proxy {devnet.workers_endpoint})"
    return OpenedWorker(worker, devnet.root_config.worker_fee_per_token, label, close, devnet)


def _root_config_worker(settings: AppSettings, model_name: str,
                        engine: EndpointSource) -> OpenedWorker:
    where = settings.network_endpoint.strip()
    if not where:
        raise WorkerSetupError(
            f"Serving on Cocoon {settings.network.value} needs its root config: set "
            "Settings → Network endpoint to the root-config JSON file of that network "
            "(optionally followed by a space and a proxy's host:port).")
    file_text, _, proxy_text = where.partition(" ")
    try:
        root = from_fake_ton_json(Path(file_text).expanduser())
        proxies = (Endpoint.parse(proxy_text),) if proxy_text.strip() else ()
    except (RootConfigError, ValueError, OSError) as exc:
        raise WorkerSetupError(f"The network endpoint in Settings cannot be used: {exc}") \
            from None
    if not settings.owner_address:
        raise WorkerSetupError("Link an owner address on the Wallet page first: payouts go "
                               "there.")
    mainnet = settings.network is NetworkKind.MAINNET
    try:
        provider = select_quote_provider("tdx" if mainnet else "fake_tdx",
                                         detect_quote_providers())
    except QuoteError as exc:
        raise WorkerSetupError(str(exc)) from None
    config = WorkerConfig(
        owner_address=settings.owner_address, model_name=model_name, engine=engine,
        root_config=root, root_contract_address=friendly(root.owner_address),
        proxies=proxies, is_test=not mainnet, check_proxy_hashes=mainnet,
        proxy_policy=AttestationPolicy("fake_tdx" if not mainnet else "tdx"),
        coefficient=settings.coefficient, max_active_requests=settings.max_active_requests,
    )
    worker = Worker(config, make_identity(provider))
    return OpenedWorker(worker, root.worker_fee_per_token,
                        f"Cocoon {settings.network.value}", worker.stop)
