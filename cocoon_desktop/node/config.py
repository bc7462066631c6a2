"""What one node runs with (`NodeConfig`), and where one instance keeps its files (`NodeHome`).

A node is one worker on one GPU. Several run on one machine as upstream's instances do:
instance N serves its stats on port 12000 + 10 × N, keeps its data in its own folder and its
secrets under its own keyring service, and sees only its own GPU (CUDA_VISIBLE_DEVICES).

`NodeConfig` is plain, frozen and secret-free: the node wallet key is never in it (the keyring
holds it). It is built from a rig file (`node.rig_file`) or from the desktop app's settings
(`from_app_settings`), so the GUI and the headless service run the same node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import platformdirs

from cocoon_desktop.core.paths import APP_NAME, AppPaths, app_paths
from cocoon_desktop.earnings.figures import TonPrice
from cocoon_desktop.hardware.energy import Tariff
from cocoon_desktop.hardware.protection.settings import ProtectionSettings
from cocoon_desktop.hardware.units import MiB
from cocoon_desktop.protocol.money import ton_to_nanoton
from cocoon_desktop.protocol.tdx_quote import INTEL_PCS_URL
from cocoon_desktop.settings import AppSettings, NetworkKind, ServeFrom
from cocoon_desktop.wallet.secret_store import SERVICE_NAME, profile_service_name

STATS_PORT_BASE = 12000  # upstream's worker runner: http_port 12000, +10 per instance
PORTS_PER_INSTANCE = 10
MAX_INSTANCE = 999
ATTESTATION_KINDS = ("auto", "tdx", "fake_tdx", "none")
VM_MODES = ("auto", "tdx", "kvm", "tcg")


def stats_port_for(instance: int) -> int:
    """Upstream's port for instance N: 12000 + 10 × N."""
    return STATS_PORT_BASE + PORTS_PER_INSTANCE * instance


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs, none of it secret. Units are in the names."""

    instance: int = 0
    home: Path | None = None  # None: the app's own profile (instance 0) or instance-N under it
    # Network
    network: NetworkKind = NetworkKind.DEVNET
    root_config_file: Path | None = None  # upstream's fake-TON root config JSON
    root_contract_address: str = ""  # else: read the root config from this contract
    ton_config_file: Path | None = None  # liteservers; None: the network's global config
    proxies: tuple[str, ...] = ()  # explicit "host:port"; empty: those the root config lists
    attestation: str = "auto"  # auto: tdx on mainnet, fake_tdx on test networks
    collateral_url: str = INTEL_PCS_URL  # DCAP collateral for proxies' TDX quotes
    accepted_tcb_statuses: tuple[str, ...] = ("UpToDate",)  # upstream accepts only UpToDate
    # Worker
    owner_address: str = ""  # empty: the owner linked in the wallet (devnet: a placeholder)
    coefficient: int = 1000  # 1000 = 1.0x the base price
    max_active_requests: int = 4
    # Model and engine
    model_path: Path | None = None  # None: the bundled model
    model_name: str = ""  # the Cocoon name to announce; empty: derived from the file
    context_tokens: int = 4096  # per request
    gpu_layers: int = -1  # -1: as many as fit
    threads: int = 0  # 0: one per physical core
    speculative: bool = True  # speculative decoding (prompt lookup, or the draft model)
    draft_model_path: Path | None = None  # a small model of the same family drafts
    upstream_gateway_port: int = 0  # a token-free loopback door for upstream's runner; 0: off
    # Where the engine and the worker run: the sandbox here, or a confidential VM
    serve_from: ServeFrom = ServeFrom.SANDBOX
    vm_mode: str = "auto"  # auto: the best this host has (tdx, then kvm, then tcg)
    vm_memory_mib: int = 2048
    vm_cpus: int = 2
    # A rig's consent to move its GPU to vfio-pci for the VM (the desktop app asks instead).
    vm_gpu_passthrough: bool = False
    # GPU and protection
    gpu: str = ""  # PCI bus id, NVML index or UUID; empty: see `node.gpu_select`
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)
    game_mode_processes: tuple[str, ...] = ()
    monitoring_interval_s: float = 1.0
    # Earnings
    tariff: Tariff | None = None
    ton_price: TonPrice | None = None
    payout_check_interval_s: float = 300.0
    chain_sync_interval_s: float = 600.0
    # Stats surface (upstream's /jsonstats, plus /metrics)
    stats_port: int | None = None  # None: 12000 + 10 × instance; 0: any free port
    stats_listen: str = "127.0.0.1"
    stats_token_file: Path | None = None  # None: a fresh token per run in the run file
    stats_tls_certificate: Path | None = None  # with stats_tls_key: HTTPS
    stats_tls_key: Path | None = None
    stats_accept_plain_http_risk: bool = False  # a non-loopback listen over plain HTTP
    # Life cycle
    drain_timeout_s: float = 30.0
    headless: bool = False  # changes the advice given (no desktop to unlock a keyring in)

    @property
    def resolved_stats_port(self) -> int:
        return stats_port_for(self.instance) if self.stats_port is None else self.stats_port

    @property
    def is_devnet(self) -> bool:
        return self.network is NetworkKind.DEVNET

    @property
    def serves_from_vm(self) -> bool:
        return self.serve_from is ServeFrom.VM


@dataclass(frozen=True)
class NodeHome:
    """One instance's folders and keyring service name."""

    paths: AppPaths
    keyring_service: str
    root: Path | None  # None: the platform's usual folders (the desktop app's own profile)

    @property
    def run_file(self) -> Path:
        """Written while the node runs: pid, stats address and its token (mode 0600)."""
        return self.paths.data_dir / "node-run.json"

    @property
    def lock_file(self) -> Path:
        return self.paths.data_dir / "node.lock"


def paths_under(root: Path) -> AppPaths:
    return AppPaths(root / "config", root / "data", root / "cache", root / "logs")


def node_home(instance: int, home: Path | None = None) -> NodeHome:
    """Where instance `instance` keeps its files.

    - `home` given: everything under it (`{instance}` in it is replaced by the number);
    - instance 0: the desktop app's own profile (`$COCOON_HOME`, else the platform folders),
      so `cocoon-desktop --headless` serves with what the GUI set up;
    - instance N > 0: `instance-N` under `$COCOON_HOME`, else under the platform data folder.
    The keyring service follows the folder, as `cocoon-desktop wallet` derives it from
    COCOON_HOME: `COCOON_HOME=<root> cocoon-desktop wallet show` reaches the same secrets.
    """
    if home is not None:
        root = Path(str(home).replace("{instance}", str(instance))).expanduser()
        return NodeHome(paths_under(root), f"{SERVICE_NAME}@{root.resolve()}", root)
    if instance == 0:
        cocoon_home = os.environ.get("COCOON_HOME")
        return NodeHome(app_paths(), profile_service_name(),
                        Path(cocoon_home) if cocoon_home else None)
    base = (Path(os.environ["COCOON_HOME"]) if os.environ.get("COCOON_HOME")
            else Path(platformdirs.user_data_dir(APP_NAME)))
    root = base / f"instance-{instance}"
    return NodeHome(paths_under(root), f"{SERVICE_NAME}@{root.resolve()}", root)


def from_app_settings(s: AppSettings, instance: int = 0) -> NodeConfig:
    """The desktop app's settings as a node configuration (the GUI's node)."""
    where = s.network_endpoint.strip()
    file_text, _, proxy_text = where.partition(" ")
    tariff = (Tariff(Decimal(str(s.tariff_per_kwh)), s.tariff_currency)
              if s.tariff_per_kwh > 0 else None)
    price = (TonPrice(s.tariff_currency, ton_to_nanoton(s.ton_price))
             if s.ton_price > 0 else None)
    return NodeConfig(
        instance=instance, network=s.network,
        root_config_file=Path(file_text).expanduser() if file_text else None,
        ton_config_file=Path(s.ton_config_path).expanduser() if s.ton_config_path else None,
        proxies=(proxy_text.strip(),) if proxy_text.strip() else (),
        owner_address=s.owner_address, coefficient=s.coefficient,
        max_active_requests=s.max_active_requests, serve_from=s.serve_from,
        model_path=Path(s.model_path).expanduser() if s.model_path else None,
        context_tokens=s.context_tokens, gpu_layers=s.gpu_layers,
        speculative=s.speculative_decoding,
        draft_model_path=Path(s.draft_model_path).expanduser() if s.draft_model_path else None,
        protection=ProtectionSettings(
            pause_temperature_c=s.pause_temperature_c,
            resume_temperature_c=s.resume_temperature_c,
            pause_on_throttle=s.pause_on_throttle,
            vram_headroom_bytes=s.vram_headroom_mib * MiB, game_mode=True),
        game_mode_processes=s.game_mode_processes,
        monitoring_interval_s=s.monitoring_interval_s, tariff=tariff, ton_price=price,
    )
