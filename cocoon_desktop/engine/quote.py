"""Attestation quote providers (`tdx`, `fake_tdx`, `none`) and Cocoon's image hash.

Upstream Cocoon (tee/cocoon/tdx.cpp, docs/ra-tls.md) puts a quote in every RA-TLS certificate:
report_data = SHA-512(user claims) (64 bytes), and the quote binds those bytes to the machine.
- `tdx`: a real Intel TDX quote, from the Linux configfs-tsm interface inside a TDX guest
  (`/sys/kernel/config/tsm/report/<entry>/inblob` then `outblob`).
- `fake_tdx`: upstream's test format: the "quote" is the 64 report_data bytes themselves, and
  every measurement register reads as zero.
- `none`: no quote at all (upstream's `any` policy); `quote()` returns b"" and the certificate
  carries no quote extension.

The image hash (what the root contract lists as allowed worker hashes) is upstream's
`AttestationData::image_hash`: SHA-256 over MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3
(48 bytes each, in that order) followed by 64 zero bytes where REPORTDATA was. A fake quote has
all-zero registers, so every fake_tdx worker has the same image hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

REPORT_DATA_BYTES = 64
REGISTER_BYTES = 48
DEFAULT_TSM_ROOT = Path("/sys/kernel/config/tsm")
DEFAULT_TDX_GUEST_DEVICE = Path("/dev/tdx_guest")
TEE_TYPE_TDX = 0x81
_QUOTE_HEADER_BYTES = 48
_TD_REPORT_MRTD_OFFSET = 136  # tee_tcb_svn, mr_seam, mr_signer_seam, attributes, xfam
_TD_REPORT10_BYTES = 584


class QuoteError(Exception):
    """A quote could not be made or read. The text says why and what to do."""


@dataclass(frozen=True)
class TdxMeasurements:
    """The measurement registers of a TDX quote (48 bytes each) and its report data."""

    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmr: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes

    def image_hash(self) -> bytes:
        """Upstream's image hash: SHA-256 of the registers with report data zeroed."""
        registers = (self.mr_td, self.mr_config_id, self.mr_owner, self.mr_owner_config,
                     *self.rtmr)
        return hashlib.sha256(b"".join(registers) + bytes(REPORT_DATA_BYTES)).digest()

    @property
    def is_fake(self) -> bool:
        """Upstream tells a fake quote by an all-zero RTMR0."""
        return not any(self.rtmr[0])


def _registers(body: bytes, report_data: bytes) -> TdxMeasurements:
    regs = [body[i * REGISTER_BYTES:(i + 1) * REGISTER_BYTES] for i in range(8)]
    return TdxMeasurements(regs[0], regs[1], regs[2], regs[3],
                           (regs[4], regs[5], regs[6], regs[7]), report_data)


def parse_tdx_quote(quote: bytes) -> TdxMeasurements:
    """Read the registers out of a TDX quote (version 4, or 5 with a TD report 1.0/1.5 body).

    This parses; it does not verify Intel's signature (peers do that with DCAP).
    """
    if len(quote) < _QUOTE_HEADER_BYTES:
        raise QuoteError(f"The TDX quote is too short ({len(quote)} bytes) to hold a header.")
    version, _key_type, tee_type = struct.unpack_from("<HHI", quote, 0)
    body_offset = _QUOTE_HEADER_BYTES
    if version == 5:
        body_type, _body_size = struct.unpack_from("<HI", quote, body_offset)
        if body_type not in (2, 3):
            raise QuoteError(f"The quote's body type {body_type} is not a TDX report.")
        body_offset += 6
    elif version != 4 or tee_type != TEE_TYPE_TDX:
        raise QuoteError(f"Not a TDX quote (version {version}, TEE type {tee_type:#x}).")
    start = body_offset + _TD_REPORT_MRTD_OFFSET
    end = body_offset + _TD_REPORT10_BYTES
    if len(quote) < end:
        raise QuoteError(f"The TDX quote is cut short ({len(quote)} bytes, need {end}).")
    return _registers(quote[start:end - REPORT_DATA_BYTES], quote[end - REPORT_DATA_BYTES:end])


def fake_tdx_measurements(quote: bytes) -> TdxMeasurements:
    """What upstream's FakeTdxInterface reads from a fake quote: zeros and the report data."""
    if len(quote) != REPORT_DATA_BYTES:
        raise QuoteError(
            f"Invalid fake quote size: expected {REPORT_DATA_BYTES} bytes, got {len(quote)}."
        )
    zero = bytes(REGISTER_BYTES)
    return TdxMeasurements(zero, zero, zero, zero, (zero, zero, zero, zero), quote)


def _check_report_data(report_data: bytes) -> bytes:
    if not isinstance(report_data, bytes | bytearray) or len(report_data) != REPORT_DATA_BYTES:
        raise ValueError(
            f"report_data must be exactly {REPORT_DATA_BYTES} bytes (SHA-512 of the user claims)"
        )
    return bytes(report_data)


def report_data_for_claims(claims: bytes) -> bytes:
    """Upstream's report data for serialized user claims: SHA-512 (64 bytes)."""
    return hashlib.sha512(claims).digest()


class QuoteProvider(ABC):
    """Makes the quote that goes into an RA-TLS certificate."""

    kind: ClassVar[str]

    @abstractmethod
    def quote(self, report_data: bytes) -> bytes:
        """A quote over the 64 report_data bytes (b"" for `none`: no quote)."""

    def image_hash(self) -> bytes | None:
        """This machine's image hash as peers will compute it from our quotes (None: `none`)."""
        return image_hash_of_quote(self.kind, self.quote(bytes(REPORT_DATA_BYTES)))


def image_hash_of_quote(kind: str, quote: bytes) -> bytes | None:
    """The image hash a peer derives from a quote of the given provider kind."""
    if kind == "tdx":
        return parse_tdx_quote(quote).image_hash()
    if kind == "fake_tdx":
        return fake_tdx_measurements(quote).image_hash()
    return None


class NoneProvider(QuoteProvider):
    kind = "none"

    def quote(self, report_data: bytes) -> bytes:
        _check_report_data(report_data)
        return b""


class FakeTdxProvider(QuoteProvider):
    kind = "fake_tdx"

    def quote(self, report_data: bytes) -> bytes:
        return _check_report_data(report_data)


class TdxConfigfsProvider(QuoteProvider):
    """Real TDX quotes through configfs-tsm (Linux 6.7+ inside a TDX guest; needs root).

    `tsm_root` is injectable so tests can point it at a fake tree. A report entry is created
    (or reused), report_data written to `inblob`, the quote read from `outblob`; the entry's
    `generation` counter must have advanced by exactly one, else another writer raced us.
    """

    kind = "tdx"

    def __init__(self, tsm_root: Path = DEFAULT_TSM_ROOT, entry_name: str | None = None) -> None:
        self._report_dir = tsm_root / "report"
        self._entry = self._report_dir / (entry_name or f"cocoon-desktop-{os.getpid()}")

    def quote(self, report_data: bytes) -> bytes:
        data = _check_report_data(report_data)
        try:
            self._entry.mkdir(exist_ok=True)
        except PermissionError:
            raise QuoteError(
                f"Making a TDX quote needs root: cannot create {self._entry}. "
                "Run the worker as root inside the TDX guest."
            ) from None
        except FileNotFoundError:
            raise QuoteError(
                f"{self._report_dir} does not exist: this is not a TDX guest with configfs-tsm."
            ) from None
        try:
            return self._quote_in_entry(data)
        except OSError as exc:
            raise QuoteError(f"The TDX quote could not be made ({exc}). See the kernel log.") \
                from exc
        finally:
            with contextlib.suppress(OSError):  # configfs drops the entry; a fake tree cannot
                self._entry.rmdir()

    def _quote_in_entry(self, data: bytes) -> bytes:
        provider_file = self._entry / "provider"
        if provider_file.exists():
            provider = provider_file.read_text().strip()
            if provider != "tdx_guest":
                raise QuoteError(f"The configfs-tsm provider is {provider!r}, not tdx_guest.")
        generation = int((self._entry / "generation").read_text().strip() or 0)
        (self._entry / "inblob").write_bytes(data)
        quote = (self._entry / "outblob").read_bytes()
        after = int((self._entry / "generation").read_text().strip() or 0)
        if after != generation + 1:
            raise QuoteError(
                "Another program used the same TDX report entry at the same time; try again."
            )
        if not quote:
            raise QuoteError("The kernel returned an empty TDX quote. See the kernel log.")
        return quote


@dataclass(frozen=True)
class ProviderAvailability:
    """Whether a quote provider can be used on this machine, and why (not)."""

    kind: str
    available: bool
    reason: str


PROVIDER_KINDS = ("tdx", "fake_tdx", "none")
_SOFTWARE_ONLY = "always available; software only, it proves nothing about the machine"


def detect_quote_providers(
    tsm_root: Path = DEFAULT_TSM_ROOT, tdx_guest_device: Path = DEFAULT_TDX_GUEST_DEVICE
) -> tuple[ProviderAvailability, ...]:
    """Which providers work here, best first; the paths are injectable for tests."""
    return (
        _detect_tdx(tsm_root, tdx_guest_device),
        ProviderAvailability("fake_tdx", True, _SOFTWARE_ONLY),
        ProviderAvailability("none", True, _SOFTWARE_ONLY),
    )


def _detect_tdx(tsm_root: Path, tdx_guest_device: Path) -> ProviderAvailability:
    report_dir = tsm_root / "report"
    if not tdx_guest_device.exists():
        return ProviderAvailability("tdx", False, (
            f"This machine is not an Intel TDX confidential VM (no {tdx_guest_device}). Cocoon "
            "mainnet workers run inside a TDX guest with an H100-class confidential-computing GPU."
        ))
    if not report_dir.is_dir():
        return ProviderAvailability("tdx", False, (
            f"This is a TDX guest, but configfs-tsm is missing ({report_dir}): it needs Linux 6.7 "
            "or newer with configfs mounted (`mount -t configfs none /sys/kernel/config`)."
        ))
    if not os.access(report_dir, os.W_OK):
        return ProviderAvailability("tdx", False, (
            f"This is a TDX guest, but making quotes needs root (cannot write to {report_dir}). "
            "Run the worker as root."
        ))
    return ProviderAvailability("tdx", True, "Inside an Intel TDX guest: real hardware quotes.")


def select_quote_provider(
    requested: str | None,
    availability: tuple[ProviderAvailability, ...],
    tsm_root: Path = DEFAULT_TSM_ROOT,
) -> QuoteProvider:
    """The requested provider, or the best available one (tdx, else fake_tdx) when None."""
    if requested is not None and requested not in PROVIDER_KINDS:
        raise QuoteError(
            f"Unknown attestation provider {requested!r}: "
            f"choose one of {', '.join(PROVIDER_KINDS)}."
        )
    unknown = ProviderAvailability("unknown", False, "it was not detected")
    by_kind = {a.kind: a for a in availability}
    kind = requested or ("tdx" if by_kind.get("tdx", unknown).available else "fake_tdx")
    chosen = by_kind.get(kind, unknown)
    if not chosen.available:
        raise QuoteError(f"The {kind} attestation provider is unavailable: {chosen.reason}")
    if kind == "tdx":
        return TdxConfigfsProvider(tsm_root)
    return FakeTdxProvider() if kind == "fake_tdx" else NoneProvider()

