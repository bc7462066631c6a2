"""Upstream's worker.conf: what is carried over, what is ignored and why, the key kept apart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cocoon_desktop.headless.rig_file import RigFileError, load_rig_file
from cocoon_desktop.headless.worker_conf import (
    WorkerConfError,
    read_worker_conf,
    rig_text,
    scrub_key,
)

KEY = "gaEatwGNgLGOeFI/TRGfPdJG/K4G8picYHQkDHpLQ9w="  # upstream's public fake-TON test key
MODEL = "Qwen/Qwen3-8B@b968826d9c46dd6066d109eabc6255188de91218:" + "7e9d" * 16
OWNER = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"
ROOT = "EQCns7bYSp0igFvS1wpb5wsZjCKCV19MD5AVzI4EyxsnU73k"


def upstream_conf(tmp_path: Path, key: str = KEY, extra: str = "") -> Path:
    """A worker.conf as upstream's scripts/dist-worker/worker.conf.example has it."""
    path = tmp_path / "worker.conf"
    path.write_text(f"""# COCOON Worker Configuration (INI format)
[node]
# Required: Node type
type = worker
model = {MODEL}
owner_address = {OWNER}
gpu = 0000:ab:00.0
# Required: Static secret to generate the revenue wallet. Keep private!
node_wallet_key = {key}
hf_token = hf_yourtoken
ton_config = mainnet-config.json
root_contract_address = {ROOT}
instance = 2
worker_coefficient = 1500
persistent = persistent-worker-2.img
http_port = 12000
{extra}""", encoding="utf-8")
    os.chmod(path, 0o640)
    return path


def test_used_keys_are_carried_over_and_the_others_named(tmp_path: Path) -> None:
    conf = read_worker_conf(upstream_conf(tmp_path, extra="vsock_cid = 6\nsurprise = 1\n"))
    assert conf.instance == 2 and conf.network_kind == "mainnet"
    assert conf.node_wallet_key == KEY
    assert conf.values["model"] == MODEL and conf.values["owner_address"] == OWNER
    assert conf.values["ton_config"] == str(tmp_path / "mainnet-config.json")
    ignored = dict(conf.ignored)
    assert set(ignored) == {"hf_token", "persistent", "type", "vsock_cid", "surprise"}
    assert "downloads nothing from Hugging Face" in ignored["hf_token"]
    assert "virtual machine" in ignored["vsock_cid"]
    assert ignored["surprise"] == "not known to this importer"
    assert KEY not in repr(conf)


def test_the_command_line_instance_and_test_flags(tmp_path: Path) -> None:
    conf = read_worker_conf(upstream_conf(tmp_path, extra="fake_ton = true\n"), instance=0)
    assert conf.instance == 0 and conf.network_kind == "testnet"


@pytest.mark.parametrize("placeholder", ["[PRIVATE]", ""])
def test_a_placeholder_is_no_key(tmp_path: Path, placeholder: str) -> None:
    assert read_worker_conf(upstream_conf(tmp_path, key=placeholder)).node_wallet_key is None


@pytest.mark.parametrize(("text", "expected"), [
    ("[proxy]\ntype = proxy\n", "has no [node] section"),
    ("[node]\ntype = proxy\n", "configures a proxy, not a worker"),
    ("[node]\ninstance = two\n", "not a whole number"),
    ("no section at all\n", "is not an INI file"),
])
def test_files_that_are_not_a_workers_config(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "worker.conf"
    path.write_text(text)
    with pytest.raises(WorkerConfError) as caught:
        read_worker_conf(path)
    assert expected in str(caught.value)


def test_the_rig_text_holds_no_key_and_asks_for_the_model_file(tmp_path: Path) -> None:
    conf = read_worker_conf(upstream_conf(tmp_path))
    (tmp_path / "mainnet-config.json").write_text("{}")
    text = rig_text(conf, tmp_path / "worker.conf", "cocoon-desktop@/srv/rig")
    assert KEY not in text and "node_wallet_key is in the OS keyring" in text
    out = tmp_path / "rig.toml"
    out.write_text(text)
    with pytest.raises(RigFileError) as caught:
        load_rig_file(out)
    assert caught.value.problems == [caught.value.problems[0]]
    assert "set `model.path` to a GGUF file" in caught.value.problems[0]
    out.write_text(text.replace('path = ""', 'path = "m.gguf"'))
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    config = load_rig_file(out)
    assert (config.instance, config.network.value, config.coefficient) == (2, "mainnet", 1500)
    assert (config.root_contract_address, config.owner_address) == (ROOT, OWNER)
    assert (config.model_name, config.gpu) == (MODEL, "0000:ab:00.0")
    assert config.ton_config_file == tmp_path / "mainnet-config.json"
    assert config.stats_port is None  # upstream's default port: 12000 + 10 x instance


def test_scrubbing_replaces_only_the_keys_value(tmp_path: Path) -> None:
    path = upstream_conf(tmp_path)
    before = path.read_text().splitlines()
    assert scrub_key(path, "cocoon-desktop@/srv/rig") is True
    after = path.read_text()
    assert KEY not in after and "node_wallet_key = [PRIVATE]" in after
    assert "moved into the OS keyring (service cocoon-desktop@/srv/rig)" in after
    kept = [line for line in after.splitlines() if not line.startswith(
        ("node_wallet_key", "# node_wallet_key was moved"))]
    assert kept == [line for line in before if not line.startswith("node_wallet_key")]
    assert path.stat().st_mode & 0o777 == 0o640
    assert read_worker_conf(path).node_wallet_key is None
    assert scrub_key(path, "x") is False  # nothing left to move


@pytest.mark.parametrize("written", [
    f"node_wallet_key =\n    {KEY}\n",  # the value on a continuation line
    f"node_wallet_key = {KEY[:20]}\n    {KEY[20:]}\n",  # split over two lines
    f"node_wallet_key:\n\n\t{KEY}\n",  # a blank line, then a tab-indented one
])
def test_a_key_on_continuation_lines_is_moved_whole(tmp_path: Path, written: str) -> None:
    path = upstream_conf(tmp_path, extra="").with_name("worker.conf")
    text = path.read_text().replace(f"node_wallet_key = {KEY}\n", written)
    path.write_text(text, encoding="utf-8")
    assert read_worker_conf(path).node_wallet_key is not None  # imported as a key
    assert scrub_key(path, "svc") is True
    after = path.read_text()
    for part in (KEY, KEY[:20], KEY[20:]):
        assert part not in after
    assert read_worker_conf(path).node_wallet_key is None
    conf = read_worker_conf(path)
    assert conf.values["owner_address"] == OWNER and conf.values["model"] == MODEL


def test_a_key_the_importer_cannot_rewrite_is_refused_with_a_warning(tmp_path: Path) -> None:
    path = upstream_conf(tmp_path, extra=f"# a copy someone pasted: {KEY}\n")
    before = path.read_text()
    with pytest.raises(WorkerConfError, match="could not be removed"):
        scrub_key(path, "svc")
    assert path.read_text() == before  # nothing half-done
