"""Instances as upstream numbers them, each with its own port, folder and keyring service."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cocoon_desktop.hardware.units import MiB
from cocoon_desktop.node.config import NodeConfig, from_app_settings, node_home, stats_port_for
from cocoon_desktop.settings import AppSettings, NetworkKind
from cocoon_desktop.wallet.secret_store import SERVICE_NAME


def test_ports_follow_upstream() -> None:
    assert [stats_port_for(n) for n in (0, 1, 2, 7)] == [12000, 12010, 12020, 12070]
    assert NodeConfig(instance=3).resolved_stats_port == 12030
    assert NodeConfig(instance=3, stats_port=0).resolved_stats_port == 0


def test_instances_under_cocoon_home_get_their_own_folders_and_keyring(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COCOON_HOME", str(tmp_path))
    zero, one, two = node_home(0), node_home(1), node_home(2)
    assert zero.paths.data_dir == tmp_path / "data"  # the desktop app's own profile
    assert zero.keyring_service == f"{SERVICE_NAME}@{tmp_path.resolve()}"
    assert one.paths.data_dir == tmp_path / "instance-1" / "data"
    assert two.paths.ledger_file == tmp_path / "instance-2" / "data" / "ledger.sqlite3"
    homes = [zero, one, two]
    assert len({h.paths.data_dir for h in homes}) == 3
    assert len({h.keyring_service for h in homes}) == 3
    assert len({h.run_file for h in homes}) == 3 and len({h.lock_file for h in homes}) == 3


def test_without_cocoon_home_the_platform_folders_are_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COCOON_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert node_home(0).keyring_service == SERVICE_NAME and node_home(0).root is None
    assert node_home(4).paths.data_dir == tmp_path / "share/cocoon-desktop/instance-4/data"


def test_an_explicit_home_takes_the_instance_number(tmp_path: Path) -> None:
    home = node_home(5, tmp_path / "rig-{instance}")
    assert home.root == tmp_path / "rig-5"
    assert home.paths.config_dir == tmp_path / "rig-5" / "config"
    assert home.keyring_service == f"{SERVICE_NAME}@{(tmp_path / 'rig-5').resolve()}"


def test_the_desktop_settings_become_the_same_node() -> None:
    s = AppSettings(network=NetworkKind.TESTNET, network_endpoint="~/root.json 10.1.1.1:8116",
                    ton_config_path="/etc/ton.json", owner_address="UQx", coefficient=1200,
                    max_active_requests=6, model_path="/m/a.gguf", context_tokens=2048,
                    gpu_layers=10, pause_temperature_c=80, resume_temperature_c=70,
                    pause_on_throttle=False, vram_headroom_mib=256,
                    game_mode_processes=("steam",), monitoring_interval_s=2.0,
                    tariff_per_kwh=0.25, tariff_currency="EUR", ton_price=3.5,
                    speculative_decoding=False, draft_model_path="/m/small.gguf")
    c = from_app_settings(s, instance=1)
    assert (c.instance, c.network, c.proxies) == (1, NetworkKind.TESTNET, ("10.1.1.1:8116",))
    assert c.root_config_file == Path("~/root.json").expanduser()
    assert c.ton_config_file == Path("/etc/ton.json")
    assert (c.owner_address, c.coefficient, c.max_active_requests) == ("UQx", 1200, 6)
    assert (c.model_path, c.context_tokens, c.gpu_layers) == (Path("/m/a.gguf"), 2048, 10)
    assert (c.speculative, c.draft_model_path) == (False, Path("/m/small.gguf"))
    assert c.protection.pause_temperature_c == 80 and c.protection.resume_temperature_c == 70
    assert c.protection.vram_headroom_bytes == 256 * MiB and not c.protection.pause_on_throttle
    assert c.game_mode_processes == ("steam",) and c.monitoring_interval_s == 2.0
    assert c.tariff is not None and c.tariff.price_per_kwh == Decimal("0.25")
    assert c.ton_price is not None and c.ton_price.nano_per_ton == 3_500_000_000
    plain = from_app_settings(AppSettings())
    assert plain.root_config_file is None and plain.proxies == () and plain.tariff is None
    assert plain.speculative is True and plain.draft_model_path is None
