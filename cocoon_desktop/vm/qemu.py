"""The QEMU command line for one guest, per mode, and the host ports of each instance.

Direct kernel boot (kernel, initrd, command line with the root hash): on TDX the firmware
measures the kernel into RTMR1 and the initrd and command line into RTMR2. Disks: the root
(read-only, verity), the config (read-only, measured by the guest) and the model (read-only,
verity), found by the guest through their virtio serials. The channel token travels in
fw_cfg from a private file (never on the command line, which other users can read). The
guest's ports are forwarded from the host's 127.0.0.1 only; the user network is restricted
(`restrict=on`): the guest reaches only its proxies, through one guest forward each
(`forwards.py`). Where /dev/vhost-vsock exists the VM also gets a vsock device with the
instance's CID (upstream's numbering).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from cocoon_desktop.vm.forwards import GuestForward
from cocoon_desktop.vm.guest_config import GUEST_ADDRESS, GUEST_CONTROL_PORT, GUEST_ENGINE_PORT
from cocoon_desktop.vm.image import ImageManifest
from cocoon_desktop.vm.modes import VmMode

TOKEN_FW_CFG_NAME = "opt/cocoon/channel-token"
BASE_PORT = 12100  # rigs: instance N uses 12100 + 10*N (control) and the next port (engine)
BASE_VSOCK_CID = 6  # upstream's worker CID, + 10 per instance


@dataclass(frozen=True)
class VmPorts:
    control: int
    engine: int

    @classmethod
    def for_instance(cls, instance: int) -> VmPorts:
        """Fixed ports for rig instance N (one VM per GPU), like upstream's --instance."""
        if not 0 <= instance < 100:
            raise ValueError("The instance number must be between 0 and 99.")
        base = BASE_PORT + 10 * instance
        return cls(base, base + 1)

    @classmethod
    def free(cls) -> VmPorts:
        """Two free loopback ports (for tests and single desktops)."""
        ports = []
        sockets = [socket.socket() for _ in range(2)]
        try:
            for sock in sockets:
                sock.bind(("127.0.0.1", 0))
                ports.append(sock.getsockname()[1])
        finally:
            for sock in sockets:
                sock.close()
        return cls(ports[0], ports[1])


def vsock_cid(instance: int, device: Path = Path("/dev/vhost-vsock")) -> int | None:
    """The guest's vsock CID for rig instance N, or None where the host has no vhost-vsock."""
    return BASE_VSOCK_CID + 10 * instance if device.exists() else None


@dataclass(frozen=True)
class VmLaunch:
    image: ImageManifest
    mode: VmMode
    config_disk: Path
    model_disk: Path
    token_file: Path
    ports: VmPorts
    memory_mib: int = 2048
    cpus: int = 2
    gpu: str | None = None  # PCI address of a card bound to vfio-pci
    tdx_firmware: Path | None = None  # TDX-enabled OVMF (TDX mode)
    vsock_cid: int | None = None
    forwards: tuple[GuestForward, ...] = ()  # what the guest may reach (its proxies)
    qmp_socket: Path | None = None
    extra_kernel_args: str = ""


def accelerator_args(mode: VmMode, memory_mib: int, tdx_firmware: Path | None) -> list[str]:
    if mode is VmMode.TCG:
        return ["-machine", "q35", "-accel", "tcg,thread=multi", "-cpu", "max",
                "-m", str(memory_mib)]
    if mode is VmMode.KVM:
        return ["-machine", "q35", "-accel", "kvm", "-cpu", "host", "-m", str(memory_mib)]
    if tdx_firmware is None:
        raise ValueError("TDX mode needs a TDX-enabled OVMF firmware.")
    return ["-machine", "q35,kernel-irqchip=split,confidential-guest-support=tdx,"
            "memory-backend=mem0", "-accel", "kvm", "-cpu", "host",
            "-object", '{"qom-type":"tdx-guest","id":"tdx","quote-generation-socket":'
            '{"type":"vsock","cid":"2","port":"4050"}}',
            "-object", f"memory-backend-ram,id=mem0,size={memory_mib}M",
            "-bios", str(tdx_firmware)]


def _disk(path: Path, serial: str, index: int) -> list[str]:
    return ["-drive", f"file={path},format=raw,if=none,id=disk{index},readonly=on,"
            "cache=none,aio=threads",
            "-device", f"virtio-blk-pci,drive=disk{index},serial={serial}"]


def netdev_option(launch: VmLaunch) -> str:
    """The user network: restricted, the host's two forwards in, one forward out per proxy."""
    rules = [f"hostfwd=tcp:127.0.0.1:{launch.ports.control}-{GUEST_ADDRESS}:"
             f"{GUEST_CONTROL_PORT}",
             f"hostfwd=tcp:127.0.0.1:{launch.ports.engine}-{GUEST_ADDRESS}:{GUEST_ENGINE_PORT}",
             *(forward.netdev_rule() for forward in launch.forwards)]
    return ",".join(["user", "id=net0", "restrict=on", *rules])


def qemu_command(launch: VmLaunch, qemu_binary: str = "qemu-system-x86_64") -> list[str]:
    image = launch.image
    argv = [qemu_binary, "-name", "cocoon-desktop-vm", "-nodefaults", "-no-reboot",
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-rtc", "base=utc",
            "-smp", str(launch.cpus),
            *accelerator_args(launch.mode, launch.memory_mib, launch.tdx_firmware),
            "-kernel", str(image.kernel), "-initrd", str(image.initrd),
            "-append", " ".join(filter(None, (image.cmdline, launch.extra_kernel_args))),
            *_disk(image.root.path, "root", 0), *_disk(launch.config_disk, "config", 1),
            *_disk(launch.model_disk, "model", 2),
            "-netdev", netdev_option(launch), "-device", "virtio-net-pci,netdev=net0",
            "-fw_cfg", f"name={TOKEN_FW_CFG_NAME},file={launch.token_file}"]
    if launch.vsock_cid is not None:
        argv += ["-device", f"vhost-vsock-pci,guest-cid={launch.vsock_cid}"]
    if launch.gpu is not None:
        argv += ["-device", "pcie-root-port,id=gpu-port,bus=pcie.0",
                 "-device", f"vfio-pci,host={launch.gpu},bus=gpu-port"]
    if launch.qmp_socket is not None:
        argv += ["-qmp", f"unix:{launch.qmp_socket},server=on,wait=off"]
    return argv


def probe_command(image: ImageManifest, mode: VmMode, qemu_binary: str = "qemu-system-x86_64"
                  ) -> list[str]:
    """Boot only the kernel and the initrd, which say "probe ok" and power off at once."""
    return [qemu_binary, "-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
            "-serial", "stdio", "-smp", "1", *accelerator_args(mode, 512, None),
            "-kernel", str(image.kernel), "-initrd", str(image.initrd),
            "-append", "console=ttyS0 panic=-1 quiet cocoon.probe"]
