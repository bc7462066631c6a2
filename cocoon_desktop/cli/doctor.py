"""`cocoon-desktop-cli doctor`: what this machine can serve, and why, as text or JSON."""

from __future__ import annotations

import argparse
import ipaddress
import json
import struct
import sys
from pathlib import Path

from cocoon_desktop.core.paths import app_paths
from cocoon_desktop.doctor.bundle import write_support_bundle
from cocoon_desktop.doctor.probes import Endpoint, VmModeFacts
from cocoon_desktop.doctor.report import DoctorInputs, render_text, run_doctor
from cocoon_desktop.network.transport import is_port


def parse_endpoint(text: str, role: str = "proxy") -> Endpoint:
    """Parse `203.0.113.5:8888`, `proxy.example.org:8888` or `[2001:db8::1]:8888`."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not is_port(port_text):
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


def vm_modes() -> tuple[VmModeFacts, ...]:
    """The confidential VM's modes on this host, found without booting one."""
    from cocoon_desktop.vm.host import known_modes  # the VM's code only when the doctor runs

    return tuple(VmModeFacts(str(m.mode), m.available, m.label, m.reason)
                 for m in known_modes())


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
    report = run_doctor(DoctorInputs(paths.data_dir, tuple(endpoints), args.timeout,
                                     vm_modes=vm_modes))
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
