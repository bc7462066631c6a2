"""What the engine's bubblewrap sandbox lets a frozen app's engine read (sandbox.py's view of a
bundle unpacked in the user's home, as the tarball invites)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cocoon_desktop.engine.host.sandbox import (
    bwrap_arguments,
    runtime_read_only_paths,
    scrubbed_environment,
)


@pytest.fixture
def frozen_in_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sys as PyInstaller sets it for ~/cocoon-desktop-0.1.0/cocoon-desktop."""
    bundle = tmp_path / "home" / "cocoon-desktop-0.1.0"
    (bundle / "_internal").mkdir(parents=True)
    (bundle / "cocoon-desktop").write_bytes(b"\x7fELF")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(bundle / "cocoon-desktop"))
    return bundle


def read_only_binds(home: Path, model: Path) -> list[Path]:
    args = bwrap_arguments(runtime_read_only_paths(model), home=str(home))
    return [Path(args[i + 1]) for i, arg in enumerate(args) if arg == "--ro-bind"]


def test_the_frozen_engine_can_read_its_own_bundle(frozen_in_home: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    binds = read_only_binds(frozen_in_home.parent, model)
    assert any(frozen_in_home.is_relative_to(b) for b in binds)
    assert any(model.is_relative_to(b) for b in binds)


def test_the_frozen_engine_cannot_read_the_rest_of_the_home(frozen_in_home: Path,
                                                            tmp_path: Path) -> None:
    home = frozen_in_home.parent
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    binds = read_only_binds(home, model)
    assert not [b for b in binds if home.is_relative_to(b)]


def test_the_frozen_engine_gets_the_users_library_path_not_the_bundles(
        frozen_in_home: Path) -> None:
    bundle_libs = str(frozen_in_home / "_internal")
    env = scrubbed_environment({"LD_LIBRARY_PATH": bundle_libs,
                                "LD_LIBRARY_PATH_ORIG": "/opt/cuda/lib64"})
    assert env["LD_LIBRARY_PATH"] == "/opt/cuda/lib64"
    assert "LD_LIBRARY_PATH" not in scrubbed_environment({"LD_LIBRARY_PATH": bundle_libs})
