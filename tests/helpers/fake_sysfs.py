"""A fake /sys for PCI passthrough tests: devices with their class, driver, IOMMU group,
boot VGA flag and DRM connectors, laid out as Linux lays them out (symlinks included)."""

from __future__ import annotations

import os
from pathlib import Path


class FakeSysfs:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "bus/pci/devices").mkdir(parents=True)
        (root / "bus/pci/drivers_probe").write_text("")
        (root / "kernel/iommu_groups").mkdir(parents=True)

    def device(self, address: str, class_code: str = "0x030000", vendor: str = "0x10de",
               driver: str | None = "nvidia", group: str | None = "12",
               boot_vga: bool = False) -> Path:
        device = self.root / "bus/pci/devices" / address
        device.mkdir()
        (device / "vendor").write_text(vendor + "\n")
        (device / "class").write_text(class_code + "\n")
        (device / "driver_override").write_text("(null)\n")
        if class_code.startswith("0x03"):
            (device / "boot_vga").write_text("1\n" if boot_vga else "0\n")
        if driver is not None:
            drivers = self.root / "bus/pci/drivers" / driver
            drivers.mkdir(parents=True, exist_ok=True)
            (drivers / "unbind").touch()
            os.symlink(os.path.relpath(drivers, device), device / "driver")
        if group is not None:
            members = self.root / "kernel/iommu_groups" / group / "devices"
            members.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(device, members), members / address)
            os.symlink(os.path.relpath(members.parent, device), device / "iommu_group")
        return device

    def monitor(self, address: str, card: str = "card0", connector: str = "DP-1") -> None:
        drm = self.root / "class/drm"
        (drm / card).mkdir(parents=True, exist_ok=True)
        device = self.root / "bus/pci/devices" / address
        if not (drm / card / "device").exists():
            os.symlink(os.path.relpath(device, drm / card), drm / card / "device")
        (drm / f"{card}-{connector}").mkdir()
        (drm / f"{card}-{connector}/status").write_text("connected\n")
