"""Real parts for the shipping tests: the self-test as a process, and the built release files.

The release files (tarball and .deb, built by installers/build-linux.sh) are cached in
build/ship/cache/<key>/, the key a hash of everything that goes into them (the app's code,
resources/, installers/, pyproject.toml, setup.py and the exact packages of the virtual
environment), so a rerun with nothing changed reuses them. Building them takes minutes: tests
marked `bundle` run only when COCOON_TEST_BUNDLE=1 (.ci/run sets it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
CACHE = ROOT / "build" / "ship" / "cache"
SOURCE_PARTS = ("cocoon_desktop", "resources", "installers", "pyproject.toml", "setup.py")
BUILD_TIMEOUT_S = 1800


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bundle: builds the frozen app and its Linux packages "
                            "(minutes; runs when COCOON_TEST_BUNDLE=1)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("COCOON_TEST_BUNDLE") == "1":
        return
    skip = pytest.mark.skip(reason="builds the release bundle (minutes): set COCOON_TEST_BUNDLE=1")
    for item in items:
        if "bundle" in item.keywords:
            item.add_marker(skip)


@dataclass(frozen=True)
class SelfTestRun:
    returncode: int
    report: dict[str, Any]
    stderr: str

    def check(self, name: str) -> dict[str, Any]:
        return next(c for c in self.report["checks"] if c["name"] == name)


def run_selftest(command: list[str], *options: str, env: dict[str, str] | None = None,
                 timeout_s: float = 300) -> SelfTestRun:
    """Run `<command> self-test --json <options>` and parse its report."""
    result = subprocess.run([*command, "--self-test", "--json", *options], capture_output=True,
                            text=True, timeout=timeout_s, env=env, check=False, cwd="/")
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"the self-test printed no JSON report (exit {result.returncode}):\n"
                    f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return SelfTestRun(result.returncode, report, result.stderr)


@pytest.fixture
def session_keyring() -> None:
    """The unlocked gnome-keyring of scripts/test.sh's D-Bus session."""
    if not os.environ.get("COCOON_TEST_KEYRING_PASSWORD"):
        pytest.skip("needs the test session's keyring: run through scripts/test.sh")


def source_key() -> str:
    """A hash of everything the release files are built from."""
    digest = hashlib.sha256()
    for part in SOURCE_PARTS:
        path = ROOT / part
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0")
                digest.update(file.read_bytes())
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"],
                            capture_output=True, text=True, check=True).stdout
    digest.update(frozen.encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Release:
    version: str
    tarball: Path
    deb: Path
    build_log: Path


@pytest.fixture(scope="session")
def release() -> Release:
    """The tarball and .deb of this source tree: from the cache, or built now."""
    from cocoon_desktop import __version__

    folder = CACHE / source_key()
    tarball = folder / f"cocoon-desktop-{__version__}-linux-x86_64.tar.gz"
    deb = folder / f"cocoon-desktop_{__version__}_amd64.deb"
    log = folder / "build.log"
    if not (tarball.is_file() and deb.is_file()):
        if CACHE.is_dir():  # older builds: each is hundreds of MB
            for old in CACHE.iterdir():
                shutil.rmtree(old, ignore_errors=True)
        folder.mkdir(parents=True)
        with log.open("w") as out:
            result = subprocess.run(
                [str(ROOT / "installers" / "build-linux.sh"), "--skip-bootstrap", "--out",
                 str(folder)], stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S,
                check=False)
        if result.returncode != 0:
            tail = log.read_text()[-3000:]
            shutil.rmtree(folder, ignore_errors=True)
            pytest.fail(f"installers/build-linux.sh failed ({result.returncode}):\n{tail}")
    return Release(__version__, tarball, deb, log)
