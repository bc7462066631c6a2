"""What this host can run, for a given image: the modes with their reasons, the KVM probe's
answer remembered until the host reboots (it can cost its whole timeout when KVM stalls)."""

from __future__ import annotations

import json
from pathlib import Path

from cocoon_desktop.vm.image import ImageManifest, vm_cache_dir
from cocoon_desktop.vm.modes import (
    KVM_PROBE_TIMEOUT_S,
    HostFacts,
    ModeAvailability,
    VmMode,
    detect_modes,
    probe_boot,
)
from cocoon_desktop.vm.qemu import probe_command

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _probe_key(image: ImageManifest, facts: HostFacts) -> str:
    try:
        boot_id = BOOT_ID.read_text().strip()
    except OSError:
        boot_id = "unknown"
    return f"{boot_id}/{image.kernel_sha256}/{facts.qemu_path()}"


async def available_modes(image: ImageManifest, facts: HostFacts | None = None,
                          cache: Path | None = None,
                          probe_timeout_s: float = KVM_PROBE_TIMEOUT_S
                          ) -> tuple[ModeAvailability, ...]:
    facts = facts or HostFacts()
    memo = (cache or vm_cache_dir()) / "kvm-probe.json"
    key = _probe_key(image, facts)

    async def probe() -> tuple[bool, str]:
        try:
            known = json.loads(memo.read_text())
            if known.get("key") == key:
                return bool(known["booted"]), str(known["detail"])
        except (OSError, ValueError, KeyError):
            pass
        booted, detail = await probe_boot(
            probe_command(image, VmMode.KVM, facts.qemu_binary), probe_timeout_s)
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"key": key, "booted": booted, "detail": detail}))
        return booted, detail

    return await detect_modes(facts, image.tdx_guest_missing, probe)
