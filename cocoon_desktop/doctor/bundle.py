"""A support bundle the user can attach to a bug report, with nothing secret in it.

The zip holds `report.json` and `report.txt` (the doctor's report), `environment.json` (versions
of Python, the OS and the key libraries) and the tail of each recent log file. Every text goes
through `redact_for_support`: the logs' own redaction (registered secrets, mnemonic-shaped and
labelled keys), then wallet addresses shortened to their ends, long hex and 32-byte base64 values
masked, and the home folder replaced by `~`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from cocoon_desktop.core.logs import REDACTED, redact
from cocoon_desktop.doctor.report import DoctorReport, render_text

MAX_LOG_BYTES = 2_000_000  # per log file: the most recent part
LOG_FILES = 4
PACKAGES = ("cocoon-desktop", "llama_cpp_python", "nvidia-ml-py", "psutil", "pyside6", "keyring",
            "pytoniq", "qasync")

# User-friendly TON addresses (36 bytes in base64url: 48 characters, a flags byte first).
_FRIENDLY_ADDRESS = re.compile(r"(?<![A-Za-z0-9_+/-])([EUk0]Q[A-Za-z0-9_+/-]{46})(?![A-Za-z0-9])")
_RAW_ADDRESS = re.compile(r"(?<![0-9A-Za-z])(-?\d{1,3}:)([0-9a-fA-F]{64})(?![0-9a-fA-F])")
_LONG_HEX = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{8})[0-9a-fA-F]{56,}(?![0-9a-fA-F])")
_BASE64_32 = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])")


def redact_for_support(text: str) -> str:
    text = redact(text)
    text = _FRIENDLY_ADDRESS.sub(lambda m: f"{m.group(1)[:6]}…{m.group(1)[-4:]}", text)
    text = _RAW_ADDRESS.sub(lambda m: f"{m.group(1)}{m.group(2)[:6]}…", text)
    text = _LONG_HEX.sub(lambda m: f"{m.group(1)}…", text)
    text = _BASE64_32.sub(REDACTED, text)
    home = str(Path.home())
    if len(home) > 1:
        text = text.replace(home, "~")
    return text


def _environment() -> dict[str, object]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
    }


def _recent_logs(log_dir: Path | None) -> list[Path]:
    if log_dir is None or not log_dir.is_dir():
        return []
    logs = [p for p in log_dir.iterdir() if p.is_file() and ".log" in p.name]
    return sorted(logs, key=lambda p: p.stat().st_mtime, reverse=True)[:LOG_FILES]


def _tail(path: Path, limit: int) -> str:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - limit))
        data = handle.read()
    text = data.decode("utf-8", errors="replace")
    if size > limit:  # drop the first, cut line
        text = "[earlier lines left out]\n" + text.partition("\n")[2]
    return text


def write_support_bundle(report: DoctorReport, dest: Path, log_dir: Path | None) -> Path:
    """Write the zip (readable by the user only) and return its path."""
    dest = dest if dest.suffix == ".zip" else dest.with_suffix(dest.suffix + ".zip")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        report_json = json.dumps(report.to_dict(), indent=2)
        bundle.writestr("report.json", redact_for_support(report_json))
        bundle.writestr("report.txt", redact_for_support(render_text(report)))
        bundle.writestr("environment.json",
                        redact_for_support(json.dumps(_environment(), indent=2)))
        for log in _recent_logs(log_dir):
            try:
                bundle.writestr(f"logs/{log.name}",
                                redact_for_support(_tail(log, MAX_LOG_BYTES)))
            except OSError as error:
                bundle.writestr(f"logs/{log.name}.unreadable", f"could not read: {error}")
    partial.chmod(0o600)
    partial.replace(dest)
    return dest
