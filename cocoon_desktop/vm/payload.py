"""What the image holds besides Debian: the Python libraries and the app's own guest code.

The libraries come from this app's virtual environment, pinned in `vm/python.lock` (the build
refuses a venv whose versions differ): llama-cpp-python is built here from source with
`GGML_NATIVE=OFF` (portable AVX2/FMA/F16C) for CPython 3.11, the minor version Debian 12's
python3.11 in the image runs, so the guest runs exactly the llama.cpp the host sandbox runs.
The app's code is only the modules the guest reaches by import from its entry points (the
agent, the engine process, the worker), found the way the runtime measurement finds them.
Byte code is compiled by the guest's own interpreter (run from the unpacked tree with the
guest's loader), with unchecked-hash .pyc files and a fixed hash seed, so it is reproducible.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cocoon_desktop
from cocoon_desktop.engine.attestation.measurement import ENGINE_ENTRY_MODULES, engine_code_files
from cocoon_desktop.vm.debian import inside

# The engine process's modules (as the runtime measurement finds them) and the guest agent's.
GUEST_ENTRY_MODULES = (*ENGINE_ENTRY_MODULES, "cocoon_desktop.vm.guest.agent")
SITE_PACKAGES = "usr/lib/python3/dist-packages"
GUEST_PYTHON = "usr/bin/python3.11"
_GPU_BACKEND = re.compile(r"libggml-(cuda|vulkan|hip|sycl|metal|opencl)\b")
_SKIPPED = re.compile(r"(^|/)(__pycache__|tests?|include)/|\.(pyc|pyi|h)$|^(\.\./|bin/|share/)")


class PayloadError(Exception):
    """The Python payload cannot be assembled; the text says what to do."""


@dataclass(frozen=True)
class PayloadFile:
    source: Path
    dest: str  # path inside the image
    sha256_hex: str


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_python_lock(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version.strip()
    return pins


def resolve_python_lock(top_level: Iterable[str]) -> dict[str, str]:
    """The installed versions of `top_level` and everything they require (no extras).
    `packaging` comes with the test tools (pytest): re-pinning is a developer's command."""
    from packaging.requirements import Requirement

    pins: dict[str, str] = {}
    pending = list(top_level)
    while pending:
        name = pending.pop()
        if _norm(name) in pins:
            continue
        dist = _distribution(name)
        pins[_norm(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                pending.append(req.name)
    return dict(sorted(pins.items()))


def _distribution(name: str) -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        raise PayloadError(f"The Python package {name} is not installed in this environment; "
                           "run scripts/bootstrap.sh.") from None


def library_files(pins: dict[str, str]) -> list[PayloadFile]:
    """The files of every pinned distribution, as installed here (versions checked)."""
    files = []
    wrong = []
    for name, version in pins.items():
        dist = _distribution(name)
        if dist.version != version:
            wrong.append(f"{name} {dist.version} (the lock pins {version})")
            continue
        base = Path(str(dist.locate_file("")))
        for entry in dist.files or []:
            rel = entry.as_posix()
            if not _SKIPPED.search(rel) and (base / rel).is_file():
                files.append(_payload(base / rel, f"{SITE_PACKAGES}/{rel}"))
    if wrong:
        raise PayloadError("The environment's packages differ from vm/python.lock: "
                           + ", ".join(wrong) + ". Run scripts/bootstrap.sh, or update the "
                           "lock with scripts/build-vm-image.sh --lock.")
    return files


def check_cpu_only(files: Iterable[PayloadFile]) -> None:
    """The image has no GPU driver or GPU runtime (no NVIDIA kernel module, no CUDA): a
    llama.cpp built for a GPU would fail to load in the guest, so the build refuses it here."""
    backends = sorted({m.group(1) for f in files
                       if (m := _GPU_BACKEND.search(f.dest)) is not None})
    if backends:
        raise PayloadError(
            f"This environment's llama-cpp-python is built for {', '.join(backends)}, and the "
            "VM image carries no GPU driver or GPU runtime yet (the guest runs llama.cpp on its "
            "CPUs). Build the image from an environment with the CPU build: "
            "COCOON_CUDA=0 COCOON_VENV=<another folder> scripts/bootstrap.sh test, then "
            "COCOON_VENV=<that folder> scripts/build-vm-image.sh.")


def app_files(entry_modules: Iterable[str] = GUEST_ENTRY_MODULES) -> list[PayloadFile]:
    root = Path(cocoon_desktop.__file__).resolve().parent
    return [_payload(f, f"{SITE_PACKAGES}/{f.relative_to(root.parent).as_posix()}")
            for f in engine_code_files(root, entry_modules)]


def check_imports(files: Iterable[PayloadFile], pins: dict[str, str]) -> None:
    """Every library the guest's code imports must be in the image: the standard library, the
    app, or a distribution `vm/python.lock` pins. Otherwise the guest would fail at boot with a
    ModuleNotFoundError; the build says it first, naming the module and the file."""
    provided = {"cocoon_desktop", "__future__", *sys.stdlib_module_names}
    for top, names in importlib.metadata.packages_distributions().items():
        if any(_norm(name) in pins for name in names):
            provided.add(top)
    missing = []
    for item in files:
        if not item.dest.endswith(".py") or "/cocoon_desktop/" not in item.dest:
            continue
        for node in ast.walk(ast.parse(item.source.read_bytes(), filename=str(item.source))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            missing += [f"{name} ({item.source.name}:{node.lineno})" for name in names
                        if name.split(".")[0] not in provided]
    if missing:
        raise PayloadError("The guest's code imports libraries the image lacks: "
                           + ", ".join(sorted(set(missing))) + ". Add them to vm/python.txt "
                           "and run scripts/build-vm-image.sh --lock.")


def _payload(source: Path, dest: str) -> PayloadFile:
    return PayloadFile(source, dest, hashlib.sha256(source.read_bytes()).hexdigest())


def install(files: Iterable[PayloadFile], root: Path) -> None:
    for item in files:
        (root / item.dest).parent.mkdir(parents=True, exist_ok=True)
        target = inside(root, item.dest)
        shutil.copyfile(item.source, target)
        target.chmod(0o755 if os.access(item.source, os.X_OK) else 0o644)


def compile_bytecode(root: Path, folders: Iterable[str]) -> None:
    """Compile .py under `folders` (image paths) with the guest's own python3.11, run inside
    the image's tree as its root (bubblewrap): the same interpreter, libraries and paths as
    in the guest, unchecked-hash .pyc, hash seed 0, one process in sorted order. (marshal
    output depends on the compiling process's state, so the state must be the same each time.)
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise PayloadError("bubblewrap is missing: install the Debian package bubblewrap "
                           "(scripts/bootstrap.sh installs it).")
    # setarch -R: no address randomization, so object ids (which a few paths turn into names
    # and sizes) and with them the interpreter's state are the same on every run.
    argv = ["setarch", "x86_64", "-R", bwrap, "--bind", str(root), "/", "--proc", "/proc",
            "--dev", "/dev", "--tmpfs", "/tmp", "--unshare-all", "--clearenv",
            "--setenv", "PYTHONHASHSEED", "0", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            "--setenv", "LC_ALL", "C.UTF-8",
            "--setenv", "PATH", "/usr/bin", "--chdir", "/",
            f"/{GUEST_PYTHON}", "-s", "-m", "compileall", "-q", "-f", "-j", "1",
            "--invalidation-mode", "unchecked-hash", *(f"/{f}" for f in folders)]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise PayloadError("Compiling the guest's Python byte code failed: "
                           f"{(result.stdout + result.stderr).strip()[-2000:]}")
