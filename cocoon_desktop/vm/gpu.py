"""Passing one GPU to the VM with VFIO: what would happen, checked first; done only when asked.

`check_passthrough` reads sysfs (the root is injectable: tests use fake trees) and says whether
a card can go to the VM and why not: the IOMMU must be on; the card's IOMMU group may hold only
the card's own functions (its audio function, say) and PCI bridges, since everything in the
group goes to the VM together; a card that drives a display (the boot VGA device, or a
connected monitor) is refused, since taking it would blank the desktop. Whether an H100-class
card's confidential-computing mode is on is the doctor's line ("GPU confidential computing",
read through NVML while the host driver still has the card).

Binding is the elevated helper's job (`python -m cocoon_desktop.vm.gpu bind <address>` through
pkexec), run only after the user said yes: it checks again as root, then sets
`driver_override` to vfio-pci for each function of the card, unbinds it from its driver and
asks the kernel to probe it again. `restore` undoes that (back to the host driver) when the VM
stops. One VM per card: `machine.VirtualMachine` locks its instance folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

SYSFS = Path("/sys")
VFIO_DRIVER = "vfio-pci"
DISPLAY_CLASS, BRIDGE_CLASS = "03", "0604"


class PassthroughError(Exception):
    """The card cannot be passed through (or put back); the text says why and what to do."""


@dataclass(frozen=True)
class PciFunction:
    address: str  # 0000:01:00.0
    vendor: str  # 0x10de
    class_code: str  # 0x030000
    driver: str | None

    @property
    def slot(self) -> str:
        return self.address.rsplit(".", 1)[0]

    @property
    def is_bridge(self) -> bool:
        return self.class_code.removeprefix("0x").startswith(BRIDGE_CLASS)


@dataclass(frozen=True)
class PassthroughCheck:
    address: str
    refusal: str | None  # None: the card can go to the VM
    functions: tuple[PciFunction, ...]  # the card's own functions in its IOMMU group
    iommu_group: str | None

    @property
    def bound_to_vfio(self) -> bool:
        return bool(self.functions) and all(f.driver == VFIO_DRIVER for f in self.functions)


@dataclass(frozen=True)
class SysfsWrite:
    path: Path
    value: str


@dataclass(frozen=True)
class PassthroughRequest:
    """What the user (or a rig file) is asked before a card moves to the VM."""

    address: str
    name: str
    check: PassthroughCheck

    @property
    def question(self) -> str:
        functions = ", ".join(f.address for f in self.check.functions) or self.address
        return (f"Serve from the confidential VM with {self.name} ({self.address})? The card "
                f"({functions}) leaves this computer's driver for vfio-pci while the VM runs "
                "and comes back when it stops; nothing else on this computer can use it "
                "meanwhile. Moving it needs administrator rights: you will be asked for your "
                "password (pkexec).")


GpuConsent = Callable[[PassthroughRequest], Awaitable[bool]]
HelperRunner = Callable[[list[str]], Awaitable[tuple[int, str]]]


async def run_helper(argv: list[str]) -> tuple[int, str]:
    """Run the elevated helper (pkexec asks for the password); its exit code and output."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return 127, (f"{argv[0]} cannot be run ({exc.strerror}): install the Debian package "
                     "pkexec (policykit-1 on older releases)")
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace").strip()


def sysfs_address(pci_bus_id: str) -> str:
    """NVML's `00000000:01:00.0` as sysfs names it, `0000:01:00.0`."""
    match = re.fullmatch(r"(?:([0-9a-fA-F]+):)?([0-9a-fA-F]+):([0-9a-fA-F]+)\.([0-7])",
                         pci_bus_id.strip())
    if match is None:
        raise PassthroughError(f"{pci_bus_id!r} is not a PCI address such as 0000:01:00.0.")
    domain, bus, device, function = match.groups()
    return (f"{int(domain or '0', 16):04x}:{int(bus, 16):02x}:{int(device, 16):02x}."
            f"{function}")


def read_function(address: str, sysfs: Path = SYSFS) -> PciFunction:
    device = sysfs / "bus/pci/devices" / address
    if not device.exists():
        raise PassthroughError(f"There is no PCI device {address} on this machine.")
    driver = device / "driver"
    return PciFunction(address, (device / "vendor").read_text().strip(),
                       (device / "class").read_text().strip(),
                       Path(os.readlink(driver)).name if driver.is_symlink() else None)


def check_passthrough(address: str, sysfs: Path = SYSFS) -> PassthroughCheck:
    try:
        gpu = read_function(address, sysfs)
    except PassthroughError as exc:
        return PassthroughCheck(address, str(exc), (), None)
    if not gpu.class_code.removeprefix("0x").startswith(DISPLAY_CLASS):
        return PassthroughCheck(address, f"{address} is not a graphics card (PCI class "
                                f"{gpu.class_code}).", (), None)
    group_link = sysfs / "bus/pci/devices" / address / "iommu_group"
    if not group_link.is_symlink():
        return PassthroughCheck(address, "The IOMMU is off, so no device can be passed to a VM: "
                                "turn on VT-d (Intel) or AMD-Vi in the BIOS and add "
                                "intel_iommu=on iommu=pt to the kernel command line.", (), None)
    group = Path(os.readlink(group_link)).name
    members = [read_function(p.name, sysfs) for p in
               sorted((sysfs / "kernel/iommu_groups" / group / "devices").iterdir())]
    strangers = [m for m in members if m.slot != gpu.slot and not m.is_bridge]
    own = tuple(m for m in members if m.slot == gpu.slot)
    if strangers:
        names = ", ".join(f"{m.address} (class {m.class_code})" for m in strangers)
        return PassthroughCheck(address, f"The card shares IOMMU group {group} with {names}: "
                                "they would all go to the VM. Move the card to another slot "
                                "or enable ACS in the BIOS.", own, group)
    display = drives_display(gpu, sysfs)
    if display:
        return PassthroughCheck(address, f"The card drives a display ({display}): passing it "
                                "to the VM would take the desktop away. Use another card for "
                                "the VM, or connect the monitors elsewhere.", own, group)
    return PassthroughCheck(address, None, own, group)


def drives_display(gpu: PciFunction, sysfs: Path = SYSFS) -> str | None:
    """Why the card is in use by the desktop, or None."""
    boot_vga = sysfs / "bus/pci/devices" / gpu.address / "boot_vga"
    if boot_vga.is_file() and boot_vga.read_text().strip() == "1":
        return "it is the boot display device"
    drm = sysfs / "class/drm"
    for card in sorted(drm.glob("card*")) if drm.is_dir() else []:
        device = card / "device"
        if "-" in card.name or not device.exists() or device.resolve().name != gpu.address:
            continue
        for connector in sorted(drm.glob(f"{card.name}-*")):
            status = connector / "status"
            if status.is_file() and status.read_text().strip() == "connected":
                return f"a monitor is connected to {connector.name.split('-', 1)[1]}"
    return None


def binding_plan(check: PassthroughCheck, sysfs: Path = SYSFS) -> list[SysfsWrite]:
    """The writes that give each of the card's functions to vfio-pci."""
    if check.refusal is not None:
        raise PassthroughError(check.refusal)
    writes = []
    for function in check.functions:
        device = sysfs / "bus/pci/devices" / function.address
        writes.append(SysfsWrite(device / "driver_override", VFIO_DRIVER))
        if function.driver not in (None, VFIO_DRIVER):
            writes.append(SysfsWrite(device / "driver/unbind", function.address))
        if function.driver != VFIO_DRIVER:
            writes.append(SysfsWrite(sysfs / "bus/pci/drivers_probe", function.address))
    return writes


def restore_plan(check: PassthroughCheck, sysfs: Path = SYSFS) -> list[SysfsWrite]:
    """The writes that hand the card back to its host driver (the kernel picks it)."""
    writes = []
    for function in check.functions:
        device = sysfs / "bus/pci/devices" / function.address
        writes.append(SysfsWrite(device / "driver_override", "\n"))
        if function.driver == VFIO_DRIVER:
            writes.append(SysfsWrite(device / "driver/unbind", function.address))
        writes.append(SysfsWrite(sysfs / "bus/pci/drivers_probe", function.address))
    return writes


def apply(writes: list[SysfsWrite]) -> None:
    for write in writes:
        try:
            write.path.write_text(write.value)
        except OSError as exc:
            raise PassthroughError(f"Writing {write.value.strip()!r} to {write.path} failed "
                                   f"({exc.strerror}); the card may be half moved: run "
                                   "restore.") from None


def helper_command(action: str, address: str) -> list[str]:
    """The elevated helper's command; the caller runs it only after the user agreed."""
    if action not in ("bind", "restore"):
        raise ValueError(action)
    return ["pkexec", sys.executable, "-m", "cocoon_desktop.vm.gpu", action, address]


def main(argv: list[str] | None = None, sysfs: Path = SYSFS) -> int:
    parser = argparse.ArgumentParser(prog="cocoon-desktop vm gpu helper")
    parser.add_argument("action", choices=("check", "bind", "restore"))
    parser.add_argument("address", help="the card's PCI address, e.g. 0000:01:00.0")
    args = parser.parse_args(argv)
    check = check_passthrough(args.address, sysfs)
    if args.action == "check":
        print(check.refusal or f"{args.address} can be passed to the VM "
              f"(IOMMU group {check.iommu_group}).")
        return 0 if check.refusal is None else 1
    if os.geteuid() != 0:
        print("This helper changes drivers and must run as root (through pkexec).",
              file=sys.stderr)
        return 2
    try:
        apply(binding_plan(check, sysfs) if args.action == "bind"
              else restore_plan(check, sysfs))
    except PassthroughError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.address}: {args.action} done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
