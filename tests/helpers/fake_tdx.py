"""Stand-ins for TDX hardware at its Linux boundary (a test helper).

- `tdx_quote_v4` / `tdx_quote_v5`: quotes laid out as Intel's (header, TD report body with the
  eight measurement registers and report data, then opaque signature bytes); the signature is
  not real, so only structural checks pass.
- `FakeTsmEntry`: a configfs-tsm report entry (`<tsm_root>/report/<name>/`) made of FIFOs, with
  a thread playing the kernel: it reads `inblob`, bumps `generation` and answers a v4 quote over
  the received report data through `outblob`. Point `TdxConfigfsProvider(tsm_root, name)` at it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from pathlib import Path

# MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0..3 (48 bytes each), distinct and non-zero.
REGISTERS = tuple(bytes([i + 1]) * 48 for i in range(8))


def td_report_body(report_data: bytes, registers: tuple[bytes, ...] = REGISTERS) -> bytes:
    """A TD report 1.0 body: 136 bytes of SEAM fields, the 8 registers, the report data."""
    return b"\xee" * 136 + b"".join(registers) + report_data


def tdx_quote_v4(report_data: bytes, registers: tuple[bytes, ...] = REGISTERS) -> bytes:
    header = struct.pack("<HHI", 4, 2, 0x81) + bytes(40)
    return header + td_report_body(report_data, registers) + b"signature data" * 10


def tdx_quote_v5(report_data: bytes, body_type: int) -> bytes:
    """Body type 2 is a TD report 1.0, 3 a TD report 1.5 (64 more bytes after the 1.0 fields)."""
    body = td_report_body(report_data) + (b"\x55" * 64 if body_type == 3 else b"")
    header = struct.pack("<HHI", 5, 2, 0x81) + bytes(40)
    return header + struct.pack("<HI", body_type, len(body)) + body + b"signature"


def upstream_image_hash(registers: tuple[bytes, ...] = REGISTERS) -> bytes:
    """Upstream's definition written out: SHA-256 of the registers and 64 zero bytes."""
    return hashlib.sha256(b"".join(registers) + b"\0" * 64).digest()


class FakeTsmEntry:
    """One configfs-tsm report entry served by a fake kernel thread (one quote per instance)."""

    def __init__(self, tsm_root: Path, name: str, generation_step: int = 1) -> None:
        self.entry = tsm_root / "report" / name
        self.entry.mkdir(parents=True)
        (self.entry / "provider").write_text("tdx_guest\n")
        (self.entry / "generation").write_text("4\n")
        os.mkfifo(self.entry / "inblob")
        os.mkfifo(self.entry / "outblob")
        self.received: bytes | None = None
        self._step = generation_step  # 1 as the kernel does; 2 plays a concurrent writer
        self._thread = threading.Thread(target=self._kernel, daemon=True)
        self._thread.start()

    def _kernel(self) -> None:
        with (self.entry / "inblob").open("rb") as inblob:
            self.received = inblob.read()
        (self.entry / "generation").write_text(f"{4 + self._step}\n")
        with (self.entry / "outblob").open("wb") as outblob:
            outblob.write(tdx_quote_v4(self.received))

    def join(self) -> None:
        self._thread.join(timeout=5)


class FakeDcapVerifier:
    """Stands in for Intel's signature chain (DCAP) over quotes this machine cannot make: says
    `status` for any quote with a TDX layout. Real quotes are checked with the real verifier
    in tests/unit/network/test_network_dcap.py."""

    def __init__(self, status: str = "UpToDate", advisories: tuple[str, ...] = ()) -> None:
        self.status, self.advisories = status, advisories

    def verify(self, quote: bytes):
        from cocoon_desktop.network.attestation import AttestationError
        from cocoon_desktop.protocol.tdx_quote import (
            INTEL_ROOT_KEY_ID,
            DcapVerdict,
            QuoteError,
            parse_tdx_quote,
        )
        try:
            parse_tdx_quote(quote)
        except QuoteError as exc:
            raise AttestationError(str(exc)) from None
        return DcapVerdict(self.status, self.advisories, INTEL_ROOT_KEY_ID)
