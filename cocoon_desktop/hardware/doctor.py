"""`cocoon-desktop-cli doctor`: what this machine can serve, and why.

Python API (the UI's first-run wizard shows the same report):

    report = run_doctor(DoctorInputs(disk_path=paths.data_dir, endpoints=(...)))
    report.verdict.tier / .headline / .reasons / .next_steps
    report.checks                   # one line per fact, with a status and a fix
    report.to_dict()                # JSON-ready
    render_text(report)             # what the command prints
    write_support_bundle(report, dest, log_dir)   # see bundle.py

It blocks for up to `timeout_s` (network probes) plus the NVML and llama.cpp start-up: run it
off the UI thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocoon_desktop import __version__
from cocoon_desktop.hardware.bundle import write_support_bundle
from cocoon_desktop.hardware.checks import Check, CheckStatus, build_checks
from cocoon_desktop.hardware.nvml import Nvml
from cocoon_desktop.hardware.probes import (
    Endpoint,
    KeyringFacts,
    probe_confidential_gpu,
    probe_disk,
    probe_endpoints,
    probe_keyring,
    probe_llama_offload,
    probe_nvidia,
    probe_tdx,
)
from cocoon_desktop.hardware.verdict import MachineFacts, Verdict, conclude
from cocoon_desktop.paths import app_paths


@dataclass(frozen=True)
class DoctorInputs:
    disk_path: Path
    endpoints: tuple[Endpoint, ...] = ()
    timeout_s: float = 3.0
    root: Path = Path("/")  # where /dev, /proc and /sys are (tests point it elsewhere)
    nvml: Nvml | None = None
    llama_offload: Callable[[], tuple[bool | None, str]] = probe_llama_offload
    keyring: Callable[[], KeyringFacts] = probe_keyring


@dataclass(frozen=True)
class DoctorReport:
    created_at: float
    app_version: str
    facts: MachineFacts
    checks: tuple[Check, ...]
    verdict: Verdict
    problems: tuple[Check, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    """Make `asdict` output JSON-ready (enums to their values, paths to text)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def run_doctor(inputs: DoctorInputs) -> DoctorReport:
    nvml = inputs.nvml or Nvml()
    try:
        nvidia = probe_nvidia(nvml, inputs.root)
        confidential = probe_confidential_gpu(nvml)
    finally:
        if inputs.nvml is None:  # a session the caller passed in stays theirs
            nvml.shutdown()
    offload, llama_detail = inputs.llama_offload()
    disk_path, disk_free = probe_disk(inputs.disk_path)
    facts = MachineFacts(
        nvidia=nvidia,
        confidential_gpu=confidential,
        tdx=probe_tdx(inputs.root),
        llama_offload=offload,
        llama_detail=llama_detail,
        disk_path=str(disk_path),
        disk_free_bytes=disk_free,
        keyring=inputs.keyring(),
        endpoints=probe_endpoints(inputs.endpoints, inputs.timeout_s),
    )
    checks = build_checks(facts)
    problems = tuple(c for c in checks if c.status is CheckStatus.PROBLEM)
    return DoctorReport(time.time(), __version__, facts, checks, conclude(facts), problems)


_MARKS = {CheckStatus.OK: "ok", CheckStatus.INFO: "--", CheckStatus.WARNING: "!!",
          CheckStatus.PROBLEM: "XX"}


def render_text(report: DoctorReport) -> str:
    lines = ["Cocoon Desktop doctor", ""]
    width = max(len(c.title) for c in report.checks)
    for check in report.checks:
        lines.append(f"[{_MARKS[check.status]}] {check.title:<{width}}  {check.summary}")
        if check.fix:
            lines.append(f"     {'':<{width}}  -> {check.fix}")
    verdict = report.verdict
    lines += ["", verdict.headline, ""]
    lines += [f"  Why: {reason}" for reason in verdict.reasons]
    lines += [f"  Next: {step}" for step in verdict.next_steps]
    return "\n".join(lines) + "\n"


# -- the command ------------------------------------------------------------------------------

def parse_endpoint(text: str, role: str = "proxy") -> Endpoint:
    """Parse `203.0.113.5:8888`, `proxy.example.org:8888` or `[2001:db8::1]:8888`."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HOST:PORT; write it like 203.0.113.5:8888 or [2001:db8::1]:8888."
        )
    return Endpoint(role, host, int(port_text))


def liteservers_from_config(path: Path) -> tuple[Endpoint, ...]:
    """The liteservers of a TON global config (their `ip` is a signed 32-bit integer)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        servers = config["liteservers"]
        return tuple(
            Endpoint("liteserver", str(ipaddress.IPv4Address(struct.pack(">i", int(s["ip"])))),
                     int(s["port"]))
            for s in servers
        )
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        raise ValueError(
            f"Could not read liteservers from {path} ({error}). Give a TON global config file "
            "(JSON with a \"liteservers\" list), like the one Cocoon publishes for mainnet."
        ) from None


def configured_endpoints(settings_file: Path) -> tuple[tuple[Endpoint, ...], list[str]]:
    """The proxy and liteservers the app is set to use, read without changing the file.

    Returns (endpoints, notes): a setting that cannot be used is skipped with a note saying why.
    """
    try:
        raw = json.loads(settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return (), []
    if not isinstance(raw, dict):
        return (), []
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    proxy = str(raw.get("network_endpoint") or "").strip()
    if proxy and not proxy.lower().endswith(".json"):
        try:
            endpoints.append(parse_endpoint(proxy))
        except argparse.ArgumentTypeError as error:
            notes.append(f"The network endpoint in your settings is not used: {error}")
    ton_config = str(raw.get("ton_config_path") or "").strip()
    if ton_config:
        try:
            endpoints += liteservers_from_config(Path(ton_config).expanduser())
        except ValueError as error:
            notes.append(str(error))
    return tuple(endpoints), notes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Check what this machine can serve on Cocoon, and why."
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--proxy", action="append", default=[], metavar="HOST:PORT",
                        type=parse_endpoint, help="a Cocoon proxy to try (repeatable)")
    parser.add_argument("--liteserver", action="append", default=[], metavar="HOST:PORT",
                        type=lambda t: parse_endpoint(t, "liteserver"),
                        help="a TON liteserver to try (repeatable)")
    parser.add_argument("--ton-config", type=Path, metavar="FILE",
                        help="try the liteservers listed in this TON global config")
    parser.add_argument("--no-settings", action="store_true",
                        help="without addresses given here, do not try the ones in the settings")
    parser.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                        help="how long to wait for each address (default 3)")
    parser.add_argument("--bundle", type=Path, metavar="ZIP",
                        help="also save a redacted support bundle (report + recent logs) here")


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 1 when a check found a problem, 2 on bad input."""
    endpoints = [*args.proxy, *args.liteserver]
    if args.ton_config is not None:
        try:
            endpoints += liteservers_from_config(args.ton_config)
        except ValueError as error:
            print(f"cocoon-desktop doctor: {error}", file=sys.stderr)
            return 2
    if not 0 < args.timeout <= 60:
        print("cocoon-desktop doctor: --timeout must be between 0 and 60 seconds.",
              file=sys.stderr)
        return 2
    paths = app_paths()
    if not endpoints and not args.no_settings:
        configured, notes = configured_endpoints(paths.settings_file)
        endpoints += configured
        for note in notes:
            print(f"cocoon-desktop doctor: {note}", file=sys.stderr)
    report = run_doctor(DoctorInputs(paths.data_dir, tuple(endpoints), args.timeout))
    print(json.dumps(report.to_dict(), indent=2) if args.json else render_text(report), end="")
    if args.bundle is not None:
        try:
            saved = write_support_bundle(report, args.bundle, paths.log_dir)
        except OSError as error:
            print(f"cocoon-desktop doctor: could not save the bundle at {args.bundle}: "
                  f"{error.strerror or error}. Choose a folder you can write to.", file=sys.stderr)
            return 2
        print(f"\nSupport bundle saved: {saved} (secrets, keys and wallet addresses removed).",
              file=sys.stderr if args.json else sys.stdout)
    return 1 if report.problems else 0
