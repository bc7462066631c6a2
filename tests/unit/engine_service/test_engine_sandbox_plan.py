"""The engine's environment allow-list and the bubblewrap command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cocoon_desktop.engine.host.sandbox import (
    SandboxPlan,
    bwrap_arguments,
    plan_sandbox,
    prepare_gpu_devices,
    runtime_read_only_paths,
    scrubbed_environment,
)
from cocoon_desktop.engine.process.isolation import observed_sandbox
from cocoon_desktop.engine.types import SandboxStatus


def test_the_environment_keeps_only_allowed_variables() -> None:
    source = {
        "PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "CUDA_VISIBLE_DEVICES": "0",
        "COCOON_WALLET_MNEMONIC": "abandon " * 23 + "art", "DBUS_SESSION_BUS_ADDRESS": "unix:x",
        "AWS_SECRET_ACCESS_KEY": "k", "SSH_AUTH_SOCK": "/tmp/agent", "PYTHONPATH": "/evil",
        "LD_PRELOAD": "/evil.so",
    }
    env = scrubbed_environment(source, python_path=Path("/app"))
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8",
                   "CUDA_VISIBLE_DEVICES": "0", "PYTHONNOUSERSITE": "1",
                   "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": "/app",
                   "GOMP_SPINCOUNT": "500"}


def test_defaults_fill_in_and_the_users_choice_wins() -> None:
    assert scrubbed_environment({})["PATH"]
    assert scrubbed_environment({"GOMP_SPINCOUNT": "INFINITY"})["GOMP_SPINCOUNT"] == "INFINITY"


def test_bwrap_isolates_the_network_and_binds_only_what_the_engine_reads(tmp_path: Path
                                                                         ) -> None:
    model = tmp_path / "models" / "m.gguf"
    model.parent.mkdir()
    model.write_bytes(b"GGUF")
    args = bwrap_arguments([tmp_path / "app", tmp_path / "app" / "pkg", model, Path("/usr/lib")],
                           home="/home/someone")
    assert "--unshare-net" in args and "--die-with-parent" in args and "--unshare-pid" in args
    binds = [args[i + 1] for i, a in enumerate(args) if a == "--ro-bind"]
    assert str(model) in binds and str(tmp_path / "app") in binds
    assert str(tmp_path / "app" / "pkg") not in binds  # inside a bound folder already
    assert binds.count("/usr") == 1 and "/usr/lib" not in binds
    assert "/" not in binds and "/etc" not in binds and "/home" not in binds
    home = args.index("/home/someone")
    assert args[home - 1] == "--tmpfs"  # an empty home: no keyring files, no dotfiles
    assert home < args.index(str(model))  # binds come after, so they may sit inside it


def test_wrapping_commands() -> None:
    argv = ["python", "-m", "x"]
    assert SandboxPlan("none", "off").wrap(argv) == argv
    unshare = SandboxPlan("unshare", "ns").wrap(argv)
    assert "--net" in unshare and "--pid" in unshare and unshare[-3:] == argv
    bwrap = SandboxPlan("bwrap", "bw").wrap(argv, read_only_paths=[], home=None)
    assert bwrap[-4:] == ["--", *argv]


def test_statuses_say_what_isolation_is_in_force() -> None:
    assert plan_sandbox("none").status == SandboxStatus(
        "none", False, plan_sandbox("none").detail)
    assert "turned off" in plan_sandbox("none").detail
    assert SandboxPlan("bwrap", "x").status.network_isolated is True


def test_the_engine_checks_its_isolation_from_inside() -> None:
    # This test process is not sandboxed: it sees more than the loopback interface and more
    # than a handful of processes.
    claimed = SandboxStatus("bwrap", True, "isolated", pids_isolated=True, files_isolated=True)
    seen = observed_sandbox(claimed)
    assert seen.network_isolated is False and seen.pids_isolated is False
    assert "NOT isolated" in seen.detail and seen.detail.startswith("none: ")
    assert observed_sandbox(SandboxStatus("none", False, "off")).detail == "off"


def test_each_level_is_named_for_what_it_is() -> None:
    assert SandboxPlan("bwrap", "x").status.level == \
        "bubblewrap: own network, pids, read-only view"
    assert SandboxPlan("unshare", "x").status.level == \
        "unshare: own network, pids; the engine can read your files"
    assert SandboxPlan("none", "x").status.level == \
        "none: the engine can read your files and use your network"
    for mode in ("auto", "unshare", "none"):  # what the dashboard's Isolation row shows
        plan = plan_sandbox(mode)  # type: ignore[arg-type]
        assert plan.detail.startswith(plan.status.level)


def test_the_runtime_paths_cover_python_the_app_and_gpu_libraries(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    cuda = tmp_path / "cuda" / "lib64"
    cuda.mkdir(parents=True)
    draft = tmp_path / "drafts" / "small.gguf"
    draft.parent.mkdir()
    draft.write_bytes(b"GGUF")
    paths = runtime_read_only_paths(model, {"LD_LIBRARY_PATH": f"{cuda}:relative:/nonexistent"},
                                    draft_model_path=draft)
    assert model in paths and cuda in paths and draft in paths
    assert Path("relative") not in paths and Path("/nonexistent") not in paths
    assert any(Path(os.path.realpath(sys.executable)).is_relative_to(p) for p in paths)


def test_gpu_device_preparation_leaves_a_machine_without_nvidia_alone(tmp_path: Path) -> None:
    prepare_gpu_devices(tmp_path)  # no /dev/nvidiactl: nothing to do, nothing created
    assert list(tmp_path.iterdir()) == []
