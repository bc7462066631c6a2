"""Attestation quote providers (`tdx`, `fake_tdx`, `none`): the quote this machine puts in its
RA-TLS certificates, and which providers work here.

- `tdx`: a real Intel TDX quote, from the Linux configfs-tsm interface inside a TDX guest
  (`/sys/kernel/config/tsm/report/<entry>/inblob` then `outblob`).
- `fake_tdx`: upstream's test format (`protocol.tdx_quote`): the report data itself.
- `none`: no quote at all (upstream's `any` policy); `quote()` returns b"" and the certificate
  carries no quote extension.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cocoon_desktop.protocol.tdx_quote import (
    REPORT_DATA_BYTES,
    QuoteError,
    check_report_data,
    image_hash_of_quote,
)
from cocoon_desktop.settings import NetworkKind

DEFAULT_TSM_ROOT = Path("/sys/kernel/config/tsm")
DEFAULT_TDX_GUEST_DEVICE = Path("/dev/tdx_guest")


class QuoteProvider(ABC):
    """Makes the quote that goes into an RA-TLS certificate."""

    kind: ClassVar[str]

    @abstractmethod
    def quote(self, report_data: bytes) -> bytes:
        """A quote over the 64 report_data bytes (b"" for `none`: no quote)."""

    def image_hash(self) -> bytes | None:
        """This machine's image hash as peers will compute it from our quotes (None: `none`)."""
        return image_hash_of_quote(self.kind, self.quote(bytes(REPORT_DATA_BYTES)))


class NoneProvider(QuoteProvider):
    kind = "none"

    def quote(self, report_data: bytes) -> bytes:
        check_report_data(report_data)
        return b""


class FakeTdxProvider(QuoteProvider):
    kind = "fake_tdx"

    def quote(self, report_data: bytes) -> bytes:
        return check_report_data(report_data)


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
        data = check_report_data(report_data)
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


def quote_kind_for(network: NetworkKind, setting: str = "auto") -> str:
    """The quote a worker on `network` makes: none on the local devnet (its proxy asks for
    none); elsewhere the `attestation` setting, where "auto" means tdx on mainnet (the only
    kind it admits) and fake_tdx, software only, on test networks."""
    if network is NetworkKind.DEVNET:
        return "none"
    if setting != "auto":
        return setting
    return "tdx" if network is NetworkKind.MAINNET else "fake_tdx"


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

