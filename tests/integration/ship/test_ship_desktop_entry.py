"""The menu entry: valid by desktop-file-validate, and the tarball's per-user installer."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from installers.icons import write_icons

ROOT = Path(__file__).resolve().parents[3]
ENTRY = ROOT / "installers" / "linux" / "org.cocoon.desktop.desktop"
INSTALL_USER = ROOT / "installers" / "linux" / "install-user.sh"


def validate(entry: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (scripts/bootstrap.sh test)")
    return subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True,
                          check=False)


def entry_fields(entry: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line)


def test_the_menu_entry_is_valid_and_names_the_app() -> None:
    result = validate(ENTRY)
    assert result.returncode == 0 and result.stdout + result.stderr == ""
    fields = entry_fields(ENTRY)
    assert fields["Exec"] == fields["TryExec"] == "cocoon-desktop"
    assert fields["Icon"] == "cocoon-desktop" and fields["Terminal"] == "false"
    # The autostart entry uses the same application id (platform/autostart.py).
    from cocoon_desktop.platform.autostart import APP_ID

    assert ENTRY.name == f"{APP_ID}.desktop"


def test_a_broken_entry_is_caught_by_the_validator(tmp_path: Path) -> None:
    broken = tmp_path / "broken.desktop"
    broken.write_text(ENTRY.read_text().replace("Type=Application\n", ""))
    assert validate(broken).returncode != 0


@pytest.fixture
def unpacked(tmp_path: Path) -> Path:
    """An unpacked release folder, as the tarball lays it out (with a stand-in executable)."""
    folder = tmp_path / "apps" / "cocoon-desktop-0.1.0"
    (folder / "share" / "applications").mkdir(parents=True)
    (folder / "cocoon-desktop").write_text("#!/bin/sh\necho cocoon-desktop \"$@\"\n")
    (folder / "cocoon-desktop").chmod(0o755)
    shutil.copy(ENTRY, folder / "share" / "applications")
    write_icons(tmp_path / "icons")
    shutil.copytree(tmp_path / "icons" / "hicolor", folder / "share" / "icons" / "hicolor")
    shutil.copy(INSTALL_USER, folder)
    return folder


def run_install(folder: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run([str(folder / "install-user.sh"), *args], capture_output=True,
                          text=True, env=env, check=False)


def test_install_user_adds_a_valid_entry_for_this_folder_and_removes_it(
        unpacked: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_install(unpacked, home)
    assert result.returncode == 0, result.stderr
    entry = home / ".local" / "share" / "applications" / "org.cocoon.desktop.desktop"
    assert validate(entry).returncode == 0
    fields = entry_fields(entry)
    assert fields["Exec"] == fields["TryExec"] == str(unpacked / "cocoon-desktop")
    assert subprocess.run([fields["Exec"]], capture_output=True, check=True).returncode == 0
    icons = home / ".local" / "share" / "icons" / "hicolor"
    assert (icons / "48x48" / "apps" / "cocoon-desktop.png").is_file()
    assert (icons / "scalable" / "apps" / "cocoon-desktop.svg").is_file()

    result = run_install(unpacked, home, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert not entry.exists() and not (icons / "48x48" / "apps" / "cocoon-desktop.png").exists()
    assert (unpacked / "cocoon-desktop").is_file()  # the app itself stays


def test_install_user_refuses_a_folder_path_a_menu_entry_cannot_hold(unpacked: Path,
                                                                    tmp_path: Path) -> None:
    spaced = unpacked.parent / "My Apps" / "cocoon desktop"
    spaced.parent.mkdir()
    unpacked.rename(spaced)
    result = run_install(spaced, tmp_path / "home")
    assert result.returncode == 1 and "move the folder" in result.stderr
    assert not (tmp_path / "home" / ".local" / "share" / "applications").exists()
