"""What this host can run, for a given image: the modes with their reasons, the KVM probe's
answer remembered until the host reboots (it can cost its whole timeout when KVM stalls).
`known_modes` answers without booting anything (for the doctor): the newest built image and
the remembered probe, where there are any."""

from __future__ import annotations

import json
from pathlib import Path

from cocoon_desktop.vm.image import (
    MANIFEST_NAME,
    ImageError,
    ImageManifest,
    load_manifest,
    vm_cache_dir,
)
from cocoon_desktop.vm.modes import (
    KVM_PROBE_TIMEOUT_S,
    KVM_UNTRIED,
    HostFacts,
    ModeAvailability,
    VmMode,
    detect_modes,
    detect_tcg,
    detect_tdx,
    kvm_after_probe,
    kvm_blocker,
    probe_boot,
)
from cocoon_desktop.vm.qemu import probe_command

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return "unknown"


def _probe_key(image: ImageManifest, facts: HostFacts) -> str:
    return f"{_boot_id()}/{image.kernel_sha256}/{facts.qemu_path()}"


def _remembered(memo: Path) -> dict[str, object] | None:
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        return None
    return known if isinstance(known, dict) and isinstance(known.get("key"), str) else None


async def available_modes(image: ImageManifest, facts: HostFacts | None = None,
                          cache: Path | None = None,
                          probe_timeout_s: float = KVM_PROBE_TIMEOUT_S
                          ) -> tuple[ModeAvailability, ...]:
    facts = facts or HostFacts()
    memo = (cache or vm_cache_dir()) / "kvm-probe.json"
    key = _probe_key(image, facts)

    async def probe() -> tuple[bool, str]:
        known = _remembered(memo)
        if known is not None and known["key"] == key:
            return bool(known.get("booted")), str(known.get("detail"))
        booted, detail = await probe_boot(
            probe_command(image, VmMode.KVM, facts.qemu_binary), probe_timeout_s)
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"key": key, "booted": booted, "detail": detail}))
        return booted, detail

    return await detect_modes(facts, image.tdx_guest_missing, probe)


def newest_image(cache: Path) -> ImageManifest | None:
    """The most recently built image in the cache, if any (its files are not checked)."""
    found = []
    for path in (cache / "images").glob(f"*/{MANIFEST_NAME}"):
        try:
            found.append((path.stat().st_mtime, load_manifest(path.parent, check_files=False)))
        except (OSError, ImageError):
            continue
    return max(found, key=lambda pair: pair[0])[1] if found else None


def known_modes(facts: HostFacts | None = None, cache: Path | None = None
                ) -> tuple[ModeAvailability, ...]:
    """The modes as far as this host can tell without booting a VM: KVM from the probe
    remembered since this host started (else "not known yet"), TDX with the newest built
    image's kernel (else from the host alone, saying the image is not built yet)."""
    facts = facts or HostFacts()
    cache = cache or vm_cache_dir()
    image = newest_image(cache)
    tdx = detect_tdx(facts, image.tdx_guest_missing if image is not None else ())
    if tdx.available and image is None:
        tdx = ModeAvailability(VmMode.TDX, True, tdx.reason + " (Whether the image's kernel "
                               "can be a TDX guest is checked once the image is built.)")
    return (tdx, kvm_blocker(facts) or _remembered_kvm(cache, facts), detect_tcg(facts))


def _remembered_kvm(cache: Path, facts: HostFacts) -> ModeAvailability:
    """The KVM probe's answer if one was remembered since this host started, with this QEMU
    (whichever image it booted: a stall comes from the host's KVM, not from the image)."""
    known = _remembered(cache / "kvm-probe.json")
    if known is None:
        return ModeAvailability(VmMode.KVM, False, KVM_UNTRIED)
    boot_id, _, rest = str(known["key"]).partition("/")
    if boot_id != _boot_id() or not rest.endswith(f"/{facts.qemu_path()}"):
        return ModeAvailability(VmMode.KVM, False, KVM_UNTRIED)
    return kvm_after_probe(bool(known.get("booted")), str(known.get("detail")))
