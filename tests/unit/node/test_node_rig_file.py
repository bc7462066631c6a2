"""Rig files: every key read, every mistake named with what to do, nothing silently defaulted."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cocoon_desktop.hardware.units import MiB
from cocoon_desktop.headless.rig_file import RigFileError, load_rig_file
from cocoon_desktop.network.devnet.network import DEVNET_WORKER_OWNER
from cocoon_desktop.network.root_config import friendly
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.settings import NetworkKind, ServeFrom

OWNER = friendly(DEVNET_WORKER_OWNER)


def rig(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(RigFileError) as caught:
        load_rig_file(path, **kwargs)  # type: ignore[arg-type]
    assert str(path) in str(caught.value)
    return caught.value.problems


def test_an_empty_file_is_a_devnet_node_with_the_defaults(tmp_path: Path) -> None:
    config = load_rig_file(rig(tmp_path, ""))
    assert config == NodeConfig(headless=True)
    assert config.resolved_stats_port == 12000


def test_every_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "root.json").write_text("{}")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.gguf").write_bytes(b"GGUF")
    (tmp_path / "models" / "small.gguf").write_bytes(b"GGUF")
    (tmp_path / "token").write_text("x" * 20)
    config = load_rig_file(rig(tmp_path, f"""
instance = 3
home = "homes/node-{{instance}}"
[network]
kind = "testnet"
root_config_file = "root.json"
proxies = ["10.0.0.5:8116", "[::1]:9000"]
attestation = "fake_tdx"
[worker]
owner_address = "{OWNER}"
coefficient = 1500
max_active_requests = 8
[model]
path = "models/m.gguf"
name = "Qwen/Qwen3-8B@abc:{'7e' * 32}"
context_tokens = 8192
gpu_layers = 20
threads = 6
speculative = false
draft_path = "models/small.gguf"
[gpu]
device = "0000:41:00.0"
pause_temperature_c = 80
resume_temperature_c = 70
pause_on_throttle = false
vram_headroom_mib = 1024
game_mode = false
game_mode_processes = ["steam", "game.exe"]
monitoring_interval_s = 2
[earnings]
tariff_per_kwh = 0.3
tariff_currency = "eur"
ton_price = 3.2
payout_check_interval_s = 120
chain_sync_interval_s = 900
[stats]
port = 0
listen = "0.0.0.0"
token_file = "token"
accept_plain_http_risk = true
[shutdown]
drain_timeout_s = 45
"""))
    assert config.instance == 3 and config.home == tmp_path / "homes/node-{instance}"
    assert config.network is NetworkKind.TESTNET
    assert config.root_config_file == tmp_path / "root.json"  # relative to the rig file
    assert config.proxies == ("10.0.0.5:8116", "[::1]:9000")
    assert (config.attestation, config.owner_address) == ("fake_tdx", OWNER)
    assert (config.coefficient, config.max_active_requests) == (1500, 8)
    assert config.model_path == tmp_path / "models/m.gguf"
    assert (config.context_tokens, config.gpu_layers, config.threads) == (8192, 20, 6)
    assert config.speculative is False
    assert config.draft_model_path == tmp_path / "models/small.gguf"
    assert config.gpu == "0000:41:00.0"
    p = config.protection
    assert (p.pause_temperature_c, p.resume_temperature_c, p.pause_on_throttle) == (80, 70, False)
    assert (p.vram_headroom_bytes, p.game_mode) == (1024 * MiB, False)
    assert config.game_mode_processes == ("steam", "game.exe")
    assert config.monitoring_interval_s == 2.0
    assert config.tariff is not None and config.tariff.price_per_kwh == Decimal("0.3")
    assert config.tariff.currency == "EUR"
    assert config.ton_price is not None and config.ton_price.nano_per_ton == 3_200_000_000
    assert (config.payout_check_interval_s, config.chain_sync_interval_s) == (120, 900)
    assert (config.stats_port, config.stats_listen) == (0, "0.0.0.0")
    assert config.stats_token_file == tmp_path / "token"
    assert config.stats_accept_plain_http_risk
    assert config.drain_timeout_s == 45


def test_the_command_lines_instance_wins(tmp_path: Path) -> None:
    config = load_rig_file(rig(tmp_path, "instance = 1\n"), instance=4)
    assert config.instance == 4 and config.resolved_stats_port == 12040


def test_typos_and_wrong_types_are_named(tmp_path: Path) -> None:
    found = problems(rig(tmp_path, """
instanse = 1
[worker]
owner_adress = "x"
coefficient = 1.5
max_active_requests = "4"
[gpu]
pause_on_throttle = "yes"
game_mode_processes = "steam"
[grafics]
"""))
    text = "\n".join(found)
    assert "`instanse` is not a rig setting (did you mean `instance`?)" in text
    assert "(did you mean `worker.owner_address`?)" in text
    assert "`worker.coefficient` must be a whole number (got 1.5)" in text
    assert "`worker.max_active_requests` must be a whole number" in text
    assert "`gpu.pause_on_throttle` must be true or false" in text
    assert "`gpu.game_mode_processes` must be a list of texts" in text
    assert "[grafics] is not a section" in text
    assert len(found) == 7


def test_values_out_of_range_and_inconsistent_ones(tmp_path: Path) -> None:
    found = problems(rig(tmp_path, """
instance = 5000
[network]
kind = "moonnet"
attestation = "sgx"
proxies = ["nohost"]
[worker]
owner_address = "not an address"
max_active_requests = 0
[gpu]
pause_temperature_c = 70
resume_temperature_c = 80
game_mode_processes = ["/usr/bin/steam"]
monitoring_interval_s = 0.01
[earnings]
tariff_currency = "euro"
[stats]
listen = "localhost"
port = 70000
"""))
    text = "\n".join(found)
    for expected in ("`instance` must be between 0 and 999",
                     "`network.kind` must be one of devnet, testnet, mainnet",
                     "`network.attestation` must be one of auto, tdx, fake_tdx, none",
                     "'nohost' is not host:port",
                     "`worker.owner_address`:",
                     "`worker.max_active_requests` must be between 1 and 256",
                     "resume temperature must be lower than the pause temperature",
                     "'/usr/bin/steam' is a path",
                     "`gpu.monitoring_interval_s` must be between 0.2 and 60",
                     "`earnings.tariff_currency` must be three letters",
                     "`stats.listen` must be an IP address",
                     "`stats.port` must be between 0 and 65535"):
        assert expected in text, expected


def test_a_paying_network_needs_a_root_config_and_files_must_exist(tmp_path: Path) -> None:
    found = problems(rig(tmp_path, '[network]\nkind = "mainnet"\nton_config = "gone.json"\n'))
    assert any("a mainnet node needs `network.root_contract_address`" in p for p in found)
    assert any(f"{tmp_path / 'gone.json'} does not exist" in p for p in found)


def test_a_model_name_needs_the_model_file_it_names(tmp_path: Path) -> None:
    found = problems(rig(tmp_path, '[model]\nname = "Qwen/Qwen3-0.6B"\n'))
    assert found == [found[0]] and "set `model.path` to a GGUF file of that model" in found[0]
    (tmp_path / "m.bin").write_bytes(b"")
    found = problems(rig(tmp_path, '[model]\npath = "m.bin"\nname = "a@b"\n'))
    assert any("is not a .gguf model file" in p for p in found)
    assert any("not a full Cocoon model name" in p for p in found)


def test_broken_toml_and_unreadable_files(tmp_path: Path) -> None:
    found = problems(rig(tmp_path, "[network\nkind = 1\n"))
    assert found[0].startswith("it is not valid TOML") and "line 1" in found[0]
    path = tmp_path / "latin1.toml"
    path.write_bytes('home = "caf\xe9"\n'.encode("latin-1"))
    assert problems(path) == ["it is not UTF-8 text"]
    assert problems(tmp_path / "missing.toml")[0].startswith("it cannot be read")


def test_serving_from_the_vm_and_its_keys(tmp_path: Path) -> None:
    config = load_rig_file(rig(tmp_path, """
[engine]
serve_from = "vm"
[vm]
mode = "kvm"
memory_mib = 8192
cpus = 4
gpu_passthrough = true
"""))
    assert config.serves_from_vm and config.serve_from is ServeFrom.VM
    assert (config.vm_mode, config.vm_memory_mib, config.vm_cpus) == ("kvm", 8192, 4)
    assert config.vm_gpu_passthrough
    plain = load_rig_file(rig(tmp_path, ""))
    assert not plain.serves_from_vm and not plain.vm_gpu_passthrough  # never by default
    found = "\n".join(problems(rig(tmp_path, """
[engine]
serve_from = "cloud"
[vm]
mode = "sev"
memory_mib = 64
gpu_passthrough = "yes"
""")))
    for expected in ("`engine.serve_from` must be one of sandbox, vm (got 'cloud')",
                     "`vm.mode` must be one of auto, tdx, kvm, tcg (got 'sev')",
                     "`vm.memory_mib` must be between 512 and 262144 (got 64)",
                     "`vm.gpu_passthrough` must be true or false"):
        assert expected in found, expected
