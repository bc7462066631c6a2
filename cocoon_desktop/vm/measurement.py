"""The guest's runtime measurement: RTMR3 on TDX, a record that replays it in the other modes.

TDX measures the firmware (MRTD), the kernel (RTMR1), the initrd and the command line with the
root hash (RTMR2). RTMR3 is for the guest: like upstream's cocoon-init, the guest extends it
with SHA-384 of one line of text per event (here the config disk's SHA-256), before it acts on
the configuration. Extending is TDX's: `rtmr = SHA-384(rtmr || SHA-384(event))`.

On TDX the extension goes to the hardware register through Linux's sysfs file (6.16+). In the
other modes nothing can hold a measurement the host could not forge, so the same events are
replayed into an emulated register and reported in the record, labelled as software: it tells
the user which configuration the guest read, it proves nothing to anyone else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

REGISTER_BYTES = 48
RTMR3_SYSFS = Path("/sys/class/misc/tdx_guest/measurements/rtmr3:sha384")
CONFIG_EVENT_PREFIX = "cocoon-desktop:config.sha256="


class MeasurementError(Exception):
    """The measurement could not be extended; the text says why."""


def event_digest(event: str) -> bytes:
    if any(ord(c) < 32 or ord(c) == 127 for c in event):
        raise MeasurementError("A measurement event must be one line of printable text.")
    return hashlib.sha384(event.encode()).digest()


def extend(register: bytes, digest: bytes) -> bytes:
    return hashlib.sha384(register + digest).digest()


def replay(events: tuple[str, ...]) -> bytes:
    register = bytes(REGISTER_BYTES)
    for event in events:
        register = extend(register, event_digest(event))
    return register


def config_event(config_sha256_hex: str) -> str:
    return CONFIG_EVENT_PREFIX + config_sha256_hex


@dataclass
class Rtmr3:
    """The guest's RTMR3: the hardware register when `hardware` (TDX), else emulated."""

    hardware: bool
    sysfs_file: Path = RTMR3_SYSFS
    events: list[str] = field(default_factory=list)

    def extend(self, event: str) -> None:
        digest = event_digest(event)
        if self.hardware:
            try:
                self.sysfs_file.write_bytes(digest)
            except OSError as exc:
                raise MeasurementError(
                    f"Cannot extend RTMR3 through {self.sysfs_file} ({exc.strerror}): the "
                    "guest kernel must be Linux 6.16 or newer with TDX guest support.") from None
        self.events.append(event)

    def record(self, mode: str, cmdline: str) -> MeasurementRecord:
        return MeasurementRecord(mode, cmdline, tuple(self.events), replay(tuple(self.events)),
                                 self.hardware)


@dataclass(frozen=True)
class MeasurementRecord:
    """What the guest reports about its measurement (and the attestation report shows)."""

    mode: str
    cmdline: str  # the kernel command line, root hash included (RTMR2 on TDX)
    events: tuple[str, ...]
    rtmr3: bytes
    in_hardware: bool  # True only on TDX: the register is the CPU's

    @property
    def config_sha256_hex(self) -> str | None:
        found = [e.removeprefix(CONFIG_EVENT_PREFIX) for e in self.events
                 if e.startswith(CONFIG_EVENT_PREFIX)]
        return found[-1] if found else None

    def to_json(self) -> dict[str, object]:
        return {"mode": self.mode, "cmdline": self.cmdline, "events": list(self.events),
                "rtmr3": self.rtmr3.hex(), "in_hardware": self.in_hardware}

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> MeasurementRecord:
        events = doc.get("events")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise MeasurementError("The measurement record has no list of events.")
        return cls(str(doc.get("mode")), str(doc.get("cmdline")), tuple(events),
                   bytes.fromhex(str(doc.get("rtmr3"))), bool(doc.get("in_hardware")))

    def consistent(self) -> bool:
        """The register is what the events replay to (always so for an honest guest)."""
        return replay(self.events) == self.rtmr3

    def describe(self) -> str:
        """One line for the attestation report."""
        where = "RTMR3 (Intel TDX hardware)" if self.in_hardware else \
            "a software record (not hardware: test networks only)"
        return (f"VM ({self.mode}): config {self.config_sha256_hex or 'not measured'} in "
                f"{where}; RTMR3 {self.rtmr3.hex()[:16]}…")
