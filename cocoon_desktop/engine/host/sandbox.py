"""Isolating the engine process: no network, no user files, no secrets in its environment.

The supervisor binds the engine's listening socket itself, in the app's network namespace, and
hands the open socket to the child. So the engine can serve clients while it has no network of its
own: where possible it runs in a fresh network namespace (only an unconnected loopback), which
means a compromised model runtime cannot reach the internet, the Cocoon proxy or the wallet's
services. Three levels, best first:

- `bwrap` (bubblewrap): new network, pid, IPC and UTS namespaces (the engine sees only its own
  processes and can signal none of the host's); a read-only view of only the system libraries,
  the Python installation, the app's code and the model file; an empty private /tmp and home (so
  no keyring files, no D-Bus session socket); GPU device nodes when present.
- `unshare`: a user namespace owning new network and pid namespaces (`unshare -rn --pid --fork
  --mount-proc`). No network, no view of host processes, but the file system is the user's own:
  a weaker fallback, and labelled so.
- `none`: no isolation: the engine can read the user's files; the status says why and how to
  get isolation.

Every status leads with `SandboxStatus.level` ("bubblewrap: own network, pids, read-only view"
... "none: the engine can read your files and use your network"), which the dashboard's Isolation
row and the runtime measurement show, so a weaker sandbox never reads like the strong one.

The environment is rebuilt from an allow-list (`scrubbed_environment`), so nothing the app holds
(wallet variables, D-Bus addresses, tokens) reaches the engine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cocoon_desktop.engine.types import SandboxStatus

SandboxKind = Literal["bwrap", "unshare", "none"]
SandboxMode = Literal["auto", "bwrap", "unshare", "none"]

# Variables the engine may inherit; everything else is dropped.
ENV_ALLOWED = frozenset({
    "PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC", "TZ",
    "TMPDIR", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUDA_PATH",
    "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES", "GGML_CUDA_ENABLE_UNIFIED_MEMORY", "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
})
# Set for the engine unless the user's environment says otherwise. llama.cpp's CPU threads are
# OpenMP threads that meet at hundreds of barriers per token. libgomp's default (spin ~300k
# iterations) collapses throughput when other programs compete for the cores (3 engines on 2
# cores: 8-10 tok/s each); OMP_WAIT_POLICY=PASSIVE sleeps at every barrier and halves the speed of
# a lone engine (SmolLM2-135M, 2 threads: 35-57 tok/s against 85-113). A short spin keeps both:
# full speed alone, 24-37 tok/s each with three engines (docs/areas/inference.md).
ENGINE_ENV_DEFAULTS = {"GOMP_SPINCOUNT": "500"}
# /etc entries the dynamic loader, the C library and Python look at; the rest stays hidden.
ETC_READ_ONLY = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
                 "passwd", "group", "alternatives", "nvidia", "OpenCL", "vulkan")
DEVICE_GLOBS = ("nvidia*", "nvidia-caps", "dri", "kfd")
PROBE_TIMEOUT_S = 10
# A user namespace owning new network, pid and mount namespaces (a /proc of its own); the child
# dies with the `unshare` process the supervisor watches.
UNSHARE_OPTIONS = ("--user", "--map-root-user", "--net", "--pid", "--fork", "--mount-proc",
                   "--kill-child")


@dataclass(frozen=True)
class SandboxPlan:
    """How the engine will be started, and what that is worth, in words."""

    kind: SandboxKind
    detail: str

    @property
    def status(self) -> SandboxStatus:
        return SandboxStatus(kind=self.kind, network_isolated=self.kind != "none",
                             detail=self.detail, pids_isolated=self.kind != "none",
                             files_isolated=self.kind == "bwrap")

    def wrap(self, argv: Sequence[str], *, read_only_paths: Iterable[Path] = (),
             home: str | None = None) -> list[str]:
        """The command line that runs `argv` inside this sandbox."""
        if self.kind == "bwrap":
            return [_bwrap_path(), *bwrap_arguments(read_only_paths, home=home), "--", *argv]
        if self.kind == "unshare":
            return [_unshare_path(), *UNSHARE_OPTIONS, "--", *argv]
        return list(argv)


def scrubbed_environment(source: Mapping[str, str], *, python_path: Path | None = None
                         ) -> dict[str, str]:
    """The engine's environment: the allow-listed variables of `source`, plus Python settings."""
    env = {k: v for k, v in source.items() if k in ENV_ALLOWED}
    if getattr(sys, "frozen", False):
        # PyInstaller points LD_LIBRARY_PATH at the bundle for itself and keeps the user's value
        # in LD_LIBRARY_PATH_ORIG; the sandbox wrapper (a system binary) must get the user's, and
        # the frozen engine's own bootloader sets the bundle path again.
        env.pop("LD_LIBRARY_PATH", None)
        if source.get("LD_LIBRARY_PATH_ORIG"):
            env["LD_LIBRARY_PATH"] = source["LD_LIBRARY_PATH_ORIG"]
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    for name, value in ENGINE_ENV_DEFAULTS.items():
        env.setdefault(name, value)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    return env


def plan_sandbox(mode: SandboxMode = "auto") -> SandboxPlan:
    """Choose the best isolation this machine offers (or the one asked for, when it works)."""
    if mode == "none":
        return SandboxPlan("none", "none: the engine can read your files and use your network. "
                           "Isolation is turned off in the settings: the engine runs with the "
                           "same network and file access as the app.")
    if not sys.platform.startswith("linux"):
        return SandboxPlan("none", "none: the engine can read your files and use your network. "
                           "Isolation is available on Linux only.")
    bwrap_error = _probe_bwrap() if mode in ("auto", "bwrap") else "not asked for"
    if bwrap_error is None:
        return SandboxPlan("bwrap", "bubblewrap: own network, pids, read-only view. The engine "
                           "has no network of its own (only its listening socket), sees none of "
                           "your other processes, and sees only the system libraries, the app "
                           "and the model, read-only.")
    unshare_error = _probe_unshare() if mode in ("auto", "unshare") else "not asked for"
    if unshare_error is None:
        return SandboxPlan("unshare", "unshare: own network, pids; the engine can read your "
                           "files. A weaker fallback: it has no network of its own and sees none "
                           "of your other processes, but it CAN READ YOUR FILES. Install "
                           f"bubblewrap for file isolation too ({bwrap_error}).")
    return SandboxPlan("none", "none: the engine can read your files and use your network. "
                       f"Bubblewrap failed ({bwrap_error}) and user namespaces are unavailable "
                       f"({unshare_error}). Install bubblewrap (apt install bubblewrap) or "
                       "enable unprivileged user namespaces "
                       "(sysctl kernel.unprivileged_userns_clone=1).")


def bwrap_arguments(read_only_paths: Iterable[Path], *, home: str | None = None) -> list[str]:
    """bubblewrap options: namespaces, a minimal read-only file system, private /tmp and home."""
    args = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/sys", "/sys", "--tmpfs", "/tmp"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_READ_ONLY:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for pattern in DEVICE_GLOBS:
        for device in sorted(Path("/dev").glob(pattern)):
            args += ["--dev-bind", str(device), str(device)]
    if home and home not in ("/", "/tmp") and Path(home).is_absolute():
        args += ["--tmpfs", home]  # hides the user's files; the binds below may sit inside it
    for path in _outermost(read_only_paths):
        args += ["--ro-bind", str(path), str(path)]
    return [*args, "--chdir", "/tmp"]


def prepare_gpu_devices(dev: Path = Path("/dev")) -> None:
    """Create NVIDIA's unified-memory device node if the driver has not yet: CUDA makes it on
    first use through the setuid `nvidia-modprobe`, which cannot work inside bubblewrap."""
    if (dev / "nvidiactl").exists() and not (dev / "nvidia-uvm").exists():
        helper = shutil.which("nvidia-modprobe")
        if helper:
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run([helper, "-u", "-c", "0"], capture_output=True,
                               timeout=PROBE_TIMEOUT_S, check=False)


def runtime_read_only_paths(model_path: Path, env: Mapping[str, str] | None = None, *,
                            draft_model_path: Path | None = None) -> list[Path]:
    """What the engine reads: the Python installation, the app's code, the model file (and the
    draft model's), and the library folders of `env` (LD_LIBRARY_PATH, CUDA_PATH: a CUDA
    toolkit outside /usr)."""
    import cocoon_desktop

    env = os.environ if env is None else env
    executable = Path(os.path.realpath(sys.executable))
    # A frozen app's executable sits in its bundle folder (whose parent may be the user's home);
    # an interpreter sits in <prefix>/bin.
    install_root = executable.parent if getattr(sys, "frozen", False) else executable.parent.parent
    candidates = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), install_root,
                  Path(cocoon_desktop.__file__).resolve().parent.parent,
                  Path(model_path).resolve()]
    if draft_model_path is not None:
        candidates.append(Path(draft_model_path).resolve())
    candidates += [Path(p) for p in sys.path if p and Path(p).is_absolute()]
    libraries = [*env.get("LD_LIBRARY_PATH", "").split(":"), env.get("CUDA_PATH", "")]
    candidates += [Path(p) for p in libraries if p and Path(p).is_absolute()]
    return [p for p in candidates if p.exists() and p != Path("/")]


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside others and anything under /usr (bound already)."""
    chosen: list[Path] = []
    for path in sorted({Path(os.path.abspath(p)) for p in paths}, key=lambda p: len(p.parts)):
        if path.is_relative_to("/usr") or any(path.is_relative_to(c) for c in chosen):
            continue
        chosen.append(path)
    return chosen


def _bwrap_path() -> str:
    return shutil.which("bwrap") or "bwrap"


def _unshare_path() -> str:
    return shutil.which("unshare") or "unshare"


@functools.cache
def _probe_bwrap() -> str | None:
    """None when bubblewrap can start a process in a new network namespace, else why not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed"
    return _probe([_bwrap_path(), "--unshare-net", "--unshare-pid", "--ro-bind", "/", "/",
                   "--proc", "/proc", "--dev", "/dev", "true"])


@functools.cache
def _probe_unshare() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    return _probe([_unshare_path(), *UNSHARE_OPTIONS, "true"])


def _probe(command: list[str]) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=PROBE_TIMEOUT_S, env={"PATH": os.defpath}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{Path(command[0]).name} could not run: {exc}"
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else \
            f"exit status {result.returncode}"
        return f"{Path(command[0]).name}: {reason}"
    return None
