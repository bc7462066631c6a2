"""Building the core services the adapters wrap, from the settings (no widgets here).

Each service that can be absent (NVIDIA GPU, keyring, ledger) is built so that its absence is
a state the screens show, never a crash at start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cocoon_desktop.earnings.figures import TonPrice
from cocoon_desktop.earnings.ledger import Ledger, LedgerError
from cocoon_desktop.hardware.energy import EnergyMeter, MonitorEnergySource
from cocoon_desktop.hardware.monitor import GpuMonitor, open_gpu_monitor
from cocoon_desktop.hardware.protection import ProtectionPolicy, ProtectionSettings
from cocoon_desktop.hardware.service import HealthService
from cocoon_desktop.hardware.system import ProcessNameWatch, SystemSampler
from cocoon_desktop.paths import AppPaths
from cocoon_desktop.settings import AppSettings, NetworkKind
from cocoon_desktop.wallet.chain import ChainService
from cocoon_desktop.wallet.manager import WalletManager
from cocoon_desktop.wallet.networks import ton_network_for
from cocoon_desktop.wallet.registry import WalletRegistry
from cocoon_desktop.wallet.secret_store import SecretStore

log = logging.getLogger(__name__)
MiB = 1024 * 1024


def protection_settings(s: AppSettings) -> ProtectionSettings:
    return ProtectionSettings(
        pause_temperature_c=s.pause_temperature_c, resume_temperature_c=s.resume_temperature_c,
        pause_on_throttle=s.pause_on_throttle, vram_headroom_bytes=s.vram_headroom_mib * MiB,
        game_mode=True,
    )


def ton_price(s: AppSettings) -> TonPrice | None:
    if s.ton_price <= 0:
        return None
    nano = int(Decimal(str(s.ton_price)) * 10**9)
    return TonPrice(s.tariff_currency, nano)


def chain_for(network: NetworkKind, paths: AppPaths, config_path: str) -> ChainService | None:
    ton = ton_network_for(network)
    if ton is None:
        return None
    config_file = Path(config_path).expanduser() if config_path else None
    return ChainService(ton, cache_dir=paths.cache_dir, config_file=config_file)


@dataclass
class CoreServices:
    monitor: GpuMonitor
    energy: EnergyMeter
    policy: ProtectionPolicy
    games: ProcessNameWatch
    ledger: Ledger | None
    ledger_problem: str
    wallet: WalletManager
    chain: ChainService | None


def build_core(paths: AppPaths, s: AppSettings, monitor: GpuMonitor | None = None,
               secret_store: SecretStore | None = None) -> CoreServices:
    monitor = monitor or open_gpu_monitor()
    ledger: Ledger | None = None
    problem = ""
    try:
        ledger = Ledger.open(paths.ledger_file)
    except (LedgerError, OSError) as exc:
        problem = f"Earnings cannot be recorded: {exc}"
        log.error("%s", problem)
    store = secret_store or SecretStore(prompt_to_unlock=True)
    manager = WalletManager(WalletRegistry(paths.data_dir), store, ton_network_for(s.network))
    return CoreServices(
        monitor=monitor,
        energy=EnergyMeter(MonitorEnergySource(monitor)),
        policy=ProtectionPolicy(protection_settings(s)),
        games=ProcessNameWatch(s.game_mode_processes),
        ledger=ledger, ledger_problem=problem, wallet=manager,
        chain=chain_for(s.network, paths, s.ton_config_path),
    )


def health_service(core: CoreServices, paths: AppPaths, s: AppSettings,
                   protection: object) -> HealthService:
    return HealthService(core.monitor, SystemSampler(paths.data_dir), games=core.games,
                         protection=protection, energy=core.energy,  # type: ignore[arg-type]
                         interval_s=s.monitoring_interval_s)
