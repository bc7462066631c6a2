"""Which way this host can run the guest, named honestly, with the reason when it cannot.

- `tdx`: an Intel TDX confidential VM. Needs KVM with TDX in the host kernel
  (`/sys/module/kvm_intel/parameters/tdx` = Y), a QEMU that knows the `tdx-guest` object, a
  TDX-enabled OVMF, and an image whose kernel can be a TDX guest. The only mode whose quotes a
  Cocoon network can trust.
- `kvm`: hardware virtualization: the guest is isolated from the host's other programs, but
  nothing attests it (fake_tdx): test networks only. /dev/kvm must exist *and* a guest must
  actually boot: in nested setups KVM opens but the guest stalls, so a short probe boot decides.
- `tcg`: QEMU's emulator: it always works, slowly. For tests and demos.

All host facts are read through `HostFacts`, so tests point them at fake files and outputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class VmMode(StrEnum):
    TDX = "tdx"
    KVM = "kvm"
    TCG = "tcg"


LABELS = {
    VmMode.TDX: "Intel TDX confidential VM",
    VmMode.KVM: "KVM virtual machine: isolated, not attested (test networks only)",
    VmMode.TCG: "Emulated virtual machine (TCG): emulated, slow; for tests and demos",
}
TDX_FIRMWARE_CANDIDATES = (Path("/usr/share/ovmf/OVMF.inteltdx.fd"),
                           Path("/usr/share/qemu/OVMF.inteltdx.fd"),
                           Path("/usr/share/edk2/ovmf/OVMF.inteltdx.fd"))
KVM_PROBE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ModeAvailability:
    mode: VmMode
    available: bool
    reason: str

    @property
    def label(self) -> str:
        return LABELS[self.mode]


def _qemu_object_types(qemu: str) -> str:
    try:
        return subprocess.run([qemu, "-object", "help"], capture_output=True, text=True,
                              timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


@dataclass(frozen=True)
class HostFacts:
    """Where the host's facts are read (the defaults are the real places)."""

    qemu_binary: str = "qemu-system-x86_64"
    dev_kvm: Path = Path("/dev/kvm")
    kvm_intel_tdx: Path = Path("/sys/module/kvm_intel/parameters/tdx")
    tdx_firmware: tuple[Path, ...] = TDX_FIRMWARE_CANDIDATES
    qemu_object_types: Callable[[str], str] = field(default=_qemu_object_types)

    def qemu_path(self) -> str | None:
        return shutil.which(self.qemu_binary)

    def firmware(self) -> Path | None:
        configured = os.environ.get("COCOON_VM_TDX_FIRMWARE")
        candidates = (Path(configured),) if configured else self.tdx_firmware
        return next((p for p in candidates if p.is_file()), None)


def detect_tdx(facts: HostFacts, image_tdx_missing: tuple[str, ...]) -> ModeAvailability:
    reasons = []
    try:
        tdx_on = facts.kvm_intel_tdx.read_text().strip() in ("Y", "1")
    except OSError:
        tdx_on = False
    if not tdx_on:
        reasons.append(f"the host kernel's KVM has no TDX ({facts.kvm_intel_tdx} is missing or "
                       "not Y): it needs an Intel CPU with TDX, TDX on in the BIOS and a TDX "
                       "host kernel (Linux 6.16+ or a vendor TDX kernel)")
    qemu = facts.qemu_path()
    if qemu is None:
        reasons.append(f"{facts.qemu_binary} is not installed")
    elif "tdx-guest" not in facts.qemu_object_types(qemu):
        reasons.append("this QEMU has no tdx-guest object (upstream Cocoon uses QEMU 10.1+)")
    if facts.firmware() is None:
        reasons.append("no TDX-enabled OVMF firmware (OVMF.inteltdx.fd; or set "
                       "COCOON_VM_TDX_FIRMWARE)")
    if image_tdx_missing:
        reasons.append("the image's kernel cannot be a TDX guest (built without "
                       + ", ".join(image_tdx_missing) + ")")
    if reasons:
        return ModeAvailability(VmMode.TDX, False, "Intel TDX is not available: "
                                + "; ".join(reasons) + ".")
    return ModeAvailability(VmMode.TDX, True, "Intel TDX: the VM's memory is encrypted and "
                            "its quotes are signed by the CPU.")


ProbeBoot = Callable[[], Awaitable[tuple[bool, str]]]


KVM_UNTRIED = ("KVM is present, but whether a guest boots with it here is not known yet: the "
               f"VM's first start tries a probe boot (up to {KVM_PROBE_TIMEOUT_S:.0f} s) and "
               "remembers the answer until the host restarts.")


def kvm_blocker(facts: HostFacts) -> ModeAvailability | None:
    """Why KVM cannot be used at all, before any probe boot (None: it may be tried)."""
    if not facts.dev_kvm.exists():
        return ModeAvailability(VmMode.KVM, False, f"KVM is not available ({facts.dev_kvm} "
                                "is missing: no hardware virtualization, or it is off in the "
                                "BIOS or not passed to this machine).")
    if not os.access(facts.dev_kvm, os.R_OK | os.W_OK):
        return ModeAvailability(VmMode.KVM, False, f"KVM is present but {facts.dev_kvm} is not "
                                "writable for this user: add the user to the kvm group.")
    return None


def kvm_after_probe(booted: bool, detail: str) -> ModeAvailability:
    if not booted:
        return ModeAvailability(VmMode.KVM, False, "KVM is present but a guest does not boot "
                                f"with it here ({detail}); nested virtualization often stalls.")
    return ModeAvailability(VmMode.KVM, True, "KVM: hardware isolation without attestation "
                            "(fake_tdx), test networks only.")


async def detect_kvm(facts: HostFacts, probe: ProbeBoot | None) -> ModeAvailability:
    blocked = kvm_blocker(facts)
    if blocked is not None:
        return blocked
    if probe is None:
        return ModeAvailability(VmMode.KVM, False, KVM_UNTRIED)
    return kvm_after_probe(*await probe())


def detect_tcg(facts: HostFacts) -> ModeAvailability:
    if facts.qemu_path() is not None:
        return ModeAvailability(VmMode.TCG, True, "QEMU emulation (TCG): always possible, slow.")
    return ModeAvailability(VmMode.TCG, False, f"{facts.qemu_binary} is not installed: install "
                            "the Debian package qemu-system-x86.")


async def detect_modes(facts: HostFacts, image_tdx_missing: tuple[str, ...],
                       kvm_probe: ProbeBoot | None) -> tuple[ModeAvailability, ...]:
    """Every mode, best first, each with why it is (not) available."""
    return (detect_tdx(facts, image_tdx_missing), await detect_kvm(facts, kvm_probe),
            detect_tcg(facts))


def choose_mode(availability: tuple[ModeAvailability, ...], requested: VmMode | None = None
                ) -> VmMode:
    """The requested mode if available, else the best available one (ValueError if none)."""
    by_mode = {a.mode: a for a in availability}
    if requested is not None:
        found = by_mode.get(requested)
        if found is None or not found.available:
            raise ValueError(found.reason if found else f"{requested} was not detected.")
        return requested
    for entry in availability:
        if entry.available:
            return entry.mode
    raise ValueError("No way to run the VM here: " + " ".join(a.reason for a in availability))


async def probe_boot(argv: list[str], timeout_s: float = KVM_PROBE_TIMEOUT_S
                     ) -> tuple[bool, str]:
    """Run a probe boot (see `qemu.probe_command`); True once it says "probe ok"."""
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    assert process.stdout is not None
    tail: list[str] = []

    async def follow() -> bool:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            text = line.decode(errors="replace").strip()
            tail[:] = [*tail[-4:], text]
            if "cocoon-boot: probe ok" in text:
                return True
        return False

    try:
        ok = await asyncio.wait_for(follow(), timeout_s)
        detail = "it booted" if ok else "QEMU exited: " + " / ".join(tail[-3:])
    except TimeoutError:
        ok, detail = False, f"nothing within {timeout_s:.0f} s"
    finally:  # the whole group: nothing may keep the console pipe open
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
    return ok, detail
