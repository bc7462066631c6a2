"""The node's VM part without a VM: the GPU moves to vfio-pci only after consent (the desktop's
question, or a rig file's `vm.gpu_passthrough`), through the elevated helper, and goes back
after; a card that drives a display is refused without asking; mainnet needs TDX; the guest
gets a forward to each proxy it serves (and reaches nothing else); the VM's worker events are
stored by the node's recorder of the moment; the status shows the VM only when the node serves
from it. (sysfs and the helper are fakes: this machine has no GPU and no IOMMU.)"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cocoon_desktop.engine.host.supervisor import EngineStartError
from cocoon_desktop.engine.types import EngineSettings
from cocoon_desktop.network.devnet.network import (
    DevnetSettings,
    devnet_root_config,
    fake_ton_json,
)
from cocoon_desktop.network.root_config import parse_proxy_address
from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.node.config import NodeConfig, node_home
from cocoon_desktop.node.engine_host import EngineHost
from cocoon_desktop.node.gpu_select import GpuChoice
from cocoon_desktop.node.vm_host import VmHost, _engine_section
from cocoon_desktop.node.vm_network import GuestNetwork, proxy_targets, resolve_guest_network
from cocoon_desktop.node.worker_open import WorkerSetupError
from cocoon_desktop.settings import NetworkKind, ServeFrom
from cocoon_desktop.vm.gpu import PassthroughRequest
from cocoon_desktop.vm.guest_config import GuestConfig
from cocoon_desktop.vm.modes import VmMode
from tests.helpers.fake_sysfs import FakeSysfs
from tests.helpers.vm_config import guest_config

CARD = GpuChoice(0, "GPU-1", "00000000:17:00.0", "NVIDIA H100")
ADDRESS = "0000:17:00.0"


class Helper:
    """The pkexec helper's stand-in: records each call and moves the card as root would."""

    def __init__(self, sysfs: FakeSysfs, code: int = 0) -> None:
        self.sysfs, self.code, self.calls = sysfs, code, []

    async def __call__(self, argv: list[str]) -> tuple[int, str]:
        self.calls.append(argv)
        if self.code == 0:
            device = self.sysfs.root / "bus/pci/devices" / ADDRESS
            driver = "vfio-pci" if argv[-2] == "bind" else "nvidia"
            target = self.sysfs.root / "bus/pci/drivers" / driver
            target.mkdir(parents=True, exist_ok=True)
            (device / "driver").unlink()
            os.symlink(os.path.relpath(target, device), device / "driver")
        return self.code, "" if self.code == 0 else "pkexec: the password was refused"


def vm_host(tmp_path: Path, sysfs: FakeSysfs, answers: list[bool] | None, helper: Helper,
            **config: Any) -> tuple[VmHost, list[PassthroughRequest]]:
    asked: list[PassthroughRequest] = []

    async def consent(request: PassthroughRequest) -> bool:
        asked.append(request)
        assert answers is not None
        return answers.pop(0)

    node_config = NodeConfig(home=tmp_path / "home", serve_from=ServeFrom.VM, **config)
    host = VmHost(node_home(0, node_config.home), lambda: node_config,
                  lambda: EngineHost(_no_settings, lambda _s: None), _no_settings,
                  lambda: CARD, lambda: None, consent=None if answers is None else consent,
                  helper=helper, sysfs=sysfs.root)
    return host, asked


async def _no_settings() -> Any:
    raise AssertionError("no engine here")


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    fake = FakeSysfs(tmp_path / "sys")
    fake.device(ADDRESS)
    return fake


async def test_the_card_moves_only_after_a_yes_and_goes_back_after(
        tmp_path: Path, sysfs: FakeSysfs) -> None:
    helper = Helper(sysfs)
    host, asked = vm_host(tmp_path, sysfs, [False, True], helper)
    with pytest.raises(EngineStartError, match="was not passed to the VM: you did not agree"):
        await host.pass_gpu(host._config())
    assert helper.calls == [] and len(asked) == 1
    assert "NVIDIA H100 (0000:17:00.0)" in asked[0].question and "pkexec" in asked[0].question
    address, give_back = await host.pass_gpu(host._config())
    assert address == ADDRESS and len(asked) == 2
    assert helper.calls == [["pkexec", *helper.calls[0][1:-2], "bind", ADDRESS]]
    assert give_back is not None
    await give_back(ADDRESS)
    assert helper.calls[-1][-2:] == ["restore", ADDRESS]


async def test_a_rig_file_must_allow_it_in_so_many_words(tmp_path: Path,
                                                         sysfs: FakeSysfs) -> None:
    helper = Helper(sysfs)
    host, _ = vm_host(tmp_path, sysfs, None, helper, headless=True)
    with pytest.raises(EngineStartError, match=r"set `vm.gpu_passthrough = true`"):
        await host.pass_gpu(host._config())
    assert helper.calls == []
    allowed, _ = vm_host(tmp_path, sysfs, None, helper, headless=True, vm_gpu_passthrough=True)
    assert (await allowed.pass_gpu(allowed._config()))[0] == ADDRESS
    assert [call[-2] for call in helper.calls] == ["bind"]


async def test_a_card_that_drives_the_desktop_is_refused_without_asking(
        tmp_path: Path) -> None:
    sysfs = FakeSysfs(tmp_path / "sys")
    sysfs.device(ADDRESS, boot_vga=True)
    helper = Helper(sysfs)
    host, asked = vm_host(tmp_path, sysfs, [True], helper)
    with pytest.raises(EngineStartError, match="drives a display"):
        await host.pass_gpu(host._config())
    assert asked == [] and helper.calls == []


async def test_a_helper_that_fails_says_so(tmp_path: Path, sysfs: FakeSysfs) -> None:
    host, _ = vm_host(tmp_path, sysfs, [True], Helper(sysfs, code=126))
    with pytest.raises(EngineStartError, match="could not be moved to vfio-pci: pkexec: the "
                       "password was refused"):
        await host.pass_gpu(host._config())


async def test_the_guest_is_told_the_forward_to_each_proxy_it_serves() -> None:
    config = NodeConfig(network=NetworkKind.DEVNET, serve_from=ServeFrom.VM)
    network = await resolve_guest_network(config, "m@c:h", "UQ-owner", 2, lambda: None, None)
    try:
        assert network.devnet is not None
        [forward] = network.forwards
        assert forward.target == network.devnet.workers_endpoint  # the host connects there
        assert network.section.proxies == (f"10.0.2.100:{forward.target.port}",)
        assert network.worker_config.proxies == (network.devnet.workers_endpoint,)
    finally:
        await network.close()


async def test_on_mainnet_the_guest_also_reaches_the_dcap_collateral_by_name(
        tmp_path: Path) -> None:
    """Proxies first; then Intel's PCS and its certificate host, each a forward the guest
    resolves by name (TLS to Intel keeps the real name); a test network gets neither."""
    root_file = tmp_path / "root.json"
    root_file.write_text(json.dumps(fake_ton_json(devnet_root_config(DevnetSettings()))))
    config = NodeConfig(network=NetworkKind.MAINNET, serve_from=ServeFrom.VM,
                        root_config_file=root_file, proxies=("203.0.113.7:8888",))
    network = await resolve_guest_network(config, "m@c:h", "UQ-owner", 2, lambda: None, None)
    assert network.section.proxies == ("10.0.2.100:8888",)
    assert [str(f.target) for f in network.forwards] == [
        "203.0.113.7:8888", "api.trustedservices.intel.com:443",
        "certificates.trustedservices.intel.com:443"]
    assert network.section.collateral_hosts == {
        "api.trustedservices.intel.com": "10.0.2.101",
        "certificates.trustedservices.intel.com": "10.0.2.102"}
    testnet = await resolve_guest_network(replace(config, network=NetworkKind.TESTNET),
                                          "m@c:h", "UQ-owner", 2, lambda: None, None)
    assert len(testnet.forwards) == 1 and testnet.section.collateral_hosts == {}
    pccs = await resolve_guest_network(replace(config, collateral_url="https://pccs.lan:8081"),
                                       "m@c:h", "UQ-owner", 2, lambda: None, None)
    assert [str(f.target) for f in pccs.forwards][1:] == ["pccs.lan:8081"]


def test_without_configured_proxies_the_guest_gets_a_registered_one() -> None:
    registered = tuple(parse_proxy_address(i, f"203.0.113.{i}:8888") for i in (1, 2, 3))
    root = replace(devnet_root_config(DevnetSettings()), registered_proxies=registered)
    [chosen] = proxy_targets((), root)
    assert chosen in [p.for_workers for p in registered]
    configured = (Endpoint.parse("127.0.0.1:5000"),)
    assert proxy_targets(configured, root) == configured


@pytest.mark.parametrize(("network", "mode", "attestation"), [
    (NetworkKind.TESTNET, VmMode.KVM, "fake_tdx"), (NetworkKind.TESTNET, VmMode.TCG, "fake_tdx"),
    (NetworkKind.MAINNET, VmMode.TDX, "tdx"), (NetworkKind.MAINNET, VmMode.KVM, None),
])
def test_mainnet_needs_a_tdx_vm(network: NetworkKind, mode: VmMode,
                                attestation: str | None) -> None:
    section = guest_config().worker
    assert section is not None

    async def close() -> None: ...

    guest = GuestNetwork(section, None, "", close)  # type: ignore[arg-type]
    config = NodeConfig(network=network, serve_from=ServeFrom.VM)
    if attestation is None:
        with pytest.raises(WorkerSetupError, match="admits only Intel TDX machines"):
            guest.for_mode(mode, config)
    else:
        assert guest.for_mode(mode, config).attestation == attestation


def test_the_status_shows_the_vm_only_when_the_node_serves_from_it(
        tmp_path: Path, sysfs: FakeSysfs) -> None:
    host, _ = vm_host(tmp_path, sysfs, [], Helper(sysfs))
    view = host.view()
    assert view is not None and view.state == "stopped" and view.mode == ""
    config = replace(host._config(), serve_from=ServeFrom.SANDBOX)
    host._config = lambda: config  # type: ignore[method-assign]
    assert host.view() is None


async def test_a_draft_model_is_refused_before_the_vm_is_prepared(
        tmp_path: Path, sysfs: FakeSysfs) -> None:
    """The guest reads only the served model's verified disk: a draft model set for the VM is
    refused in a sentence that says what to do, before any image or disk is made."""
    host, _ = vm_host(tmp_path, sysfs, [], Helper(sysfs))
    settings = EngineSettings(model_path=tmp_path / "model.gguf", model_name="m",
                              draft_model_path=tmp_path / "small.gguf")
    steps: list[str] = []
    with pytest.raises(EngineStartError, match=r"draft model small.gguf cannot be used in the "
                       r"confidential VM.*Clear the draft model"):
        await host._prepare(settings, None, steps.append)
    assert steps == []


def test_the_guest_engine_drafts_as_the_settings_say() -> None:
    """Speculative decoding on or off reaches the guest's engine through its config disk."""
    settings = EngineSettings(model_path=Path("m.gguf"), model_name="m", speculative=False)
    section = _engine_section(settings, NodeConfig(serve_from=ServeFrom.VM))
    assert section.speculative is False
    config = guest_config(engine=section)
    assert GuestConfig.from_disk(config.disk_bytes()).engine.speculative is False
