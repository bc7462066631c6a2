"""The QEMU command per mode: direct kernel boot, read-only disks by serial, forwards bound to
loopback only, a restricted user network with one guest forward per proxy, the token from a
file (never on the command line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.network.transport import Endpoint
from cocoon_desktop.vm.forwards import PIPE_SCRIPT, plan_forwards
from cocoon_desktop.vm.modes import VmMode
from cocoon_desktop.vm.qemu import VmLaunch, VmPorts, probe_command, qemu_command
from tests.helpers.vm_image import fake_manifest


def launch(tmp_path: Path, **changes: object) -> VmLaunch:
    values: dict[str, object] = {
        "image": fake_manifest(tmp_path), "mode": VmMode.TCG,
        "config_disk": tmp_path / "config.img", "model_disk": tmp_path / "model.img",
        "token_file": tmp_path / "channel-token", "ports": VmPorts(40100, 40101)}
    return VmLaunch(**{**values, **changes})  # type: ignore[arg-type]


def option_values(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == option]


def test_tcg_command(tmp_path: Path) -> None:
    argv = qemu_command(launch(tmp_path))
    assert option_values(argv, "-accel") == ["tcg,thread=multi"]
    assert option_values(argv, "-append")[0].endswith(f"cocoon.root={'ee' * 32},100,"
                                                       "636f636f6f6e2d6465736b746f702d766d2d726f6f74")
    drives = option_values(argv, "-drive")
    assert len(drives) == 3 and all("readonly=on" in d for d in drives)
    assert [d.split("serial=")[1] for d in option_values(argv, "-device") if "serial=" in d] == [
        "root", "config", "model"]
    netdev = option_values(argv, "-netdev")[0]
    assert "hostfwd=tcp:127.0.0.1:40100-10.0.2.15:7100" in netdev
    assert "hostfwd=tcp:127.0.0.1:40101-10.0.2.15:7101" in netdev
    assert netdev.count("hostfwd=tcp:127.0.0.1:") == netdev.count("hostfwd=")
    assert option_values(argv, "-fw_cfg") == [
        f"name=opt/cocoon/channel-token,file={tmp_path / 'channel-token'}"]
    assert "-no-reboot" in argv  # a panic (dm-verity) ends QEMU instead of looping


def test_the_guest_network_is_restricted_to_the_proxies(tmp_path: Path) -> None:
    forwards = plan_forwards([Endpoint.parse("127.0.0.1:40123"),
                              Endpoint.parse("proxy.example.org:8888")])
    assert [f.guest_address for f in forwards] == ["10.0.2.100:40123", "10.0.2.101:8888"]
    netdev = option_values(qemu_command(launch(tmp_path, forwards=forwards)), "-netdev")[0]
    assert netdev.startswith("user,id=net0,restrict=on,")
    rules = [r for r in netdev.split(",") if r.startswith("guestfwd=")]
    assert len(rules) == 2
    assert rules[0].startswith("guestfwd=tcp:10.0.2.100:40123-cmd:")
    assert rules[0].endswith(f"{PIPE_SCRIPT} 127.0.0.1 40123")
    assert rules[1].endswith(f"{PIPE_SCRIPT} proxy.example.org 8888")
    engine_only = option_values(qemu_command(launch(tmp_path)), "-netdev")[0]
    assert "restrict=on" in engine_only and "guestfwd" not in engine_only


def test_a_comma_in_a_forward_is_doubled_for_qemus_option_parser(tmp_path: Path) -> None:
    [forward] = plan_forwards([Endpoint.parse("127.0.0.1:5000")])
    rule = forward.netdev_rule("/opt/py,thon/bin/python3")
    assert "/opt/py,,thon/bin/python3" in rule


def test_kvm_tdx_gpu_and_vsock(tmp_path: Path) -> None:
    kvm = qemu_command(launch(tmp_path, mode=VmMode.KVM))
    assert option_values(kvm, "-accel") == ["kvm"] and option_values(kvm, "-cpu") == ["host"]
    with pytest.raises(ValueError, match="OVMF"):
        qemu_command(launch(tmp_path, mode=VmMode.TDX))
    tdx = qemu_command(launch(tmp_path, mode=VmMode.TDX, tdx_firmware=tmp_path / "tdx.fd",
                              gpu="0000:17:00.0", vsock_cid=16))
    assert "confidential-guest-support=tdx" in option_values(tdx, "-machine")[0]
    assert any('"qom-type":"tdx-guest"' in o for o in option_values(tdx, "-object"))
    assert option_values(tdx, "-bios") == [str(tmp_path / "tdx.fd")]
    devices = option_values(tdx, "-device")
    assert "vfio-pci,host=0000:17:00.0,bus=gpu-port" in devices
    assert "vhost-vsock-pci,guest-cid=16" in devices


def test_instance_ports_and_probe(tmp_path: Path) -> None:
    assert VmPorts.for_instance(0) == VmPorts(12100, 12101)
    assert VmPorts.for_instance(3) == VmPorts(12130, 12131)
    with pytest.raises(ValueError):
        VmPorts.for_instance(100)
    free = VmPorts.free()
    assert free.control != free.engine
    probe = probe_command(fake_manifest(tmp_path), VmMode.KVM)
    assert option_values(probe, "-append") == ["console=ttyS0 panic=-1 quiet cocoon.probe"]
    assert "-drive" not in probe
