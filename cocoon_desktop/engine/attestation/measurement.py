"""The runtime measurement and the attestation status the dashboard shows.

The measurement is one SHA-256 over a canonical JSON manifest of what decides how inference runs:
- engine code: SHA-256 of every `cocoon_desktop` module the engine process runs, found by
  following imports statically from the engine's entry modules (`ENGINE_ENTRY_MODULES`), listed
  by path relative to the repository in sorted order (the app-only supervisor and client are not
  reached, so editing them does not change the measurement);
- llama.cpp: SHA-256 of every shared library in the `llama_cpp` package's lib folder (what
  llama-cpp-python loads: libllama, libggml*), by file name, plus llama-cpp-python's version;
- the model: SHA-256 of the GGUF file;
- the engine settings: `EngineSettings` as canonical JSON without machine-local paths.
Any change to one of them changes the measurement; `changed_components` names which one.

The measurement is software-reported: it tells the user (and, through user claims, a peer) what
runs, but only a TDX quote makes the machine's image itself verifiable.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cocoon_desktop
from cocoon_desktop.engine.attestation.providers import (
    ProviderAvailability,
    QuoteProvider,
    detect_quote_providers,
    select_quote_provider,
)
from cocoon_desktop.engine.models.file_hash import FileHashCache, sha256_file
from cocoon_desktop.engine.models.offload import llama_library_dir
from cocoon_desktop.engine.types import EngineSettings, SandboxStatus
from cocoon_desktop.protocol.model_names import CocoonModelName
from cocoon_desktop.protocol.tdx_quote import QuoteError

MANIFEST_FORMAT = "cocoon-desktop-runtime/1"
ENGINE_ENTRY_MODULES = (
    "cocoon_desktop.__main__",
    "cocoon_desktop.cli",
    "cocoon_desktop.engine",
    # the engine process's main module (cli.COMMANDS "engine")
    "cocoon_desktop.engine.process.server",
    "cocoon_desktop.engine.process.inference",
)
_LIBRARY_SUFFIXES = (".so", ".dylib", ".dll")


class MeasurementError(Exception):
    """The runtime could not be measured (a file is missing or unreadable)."""


def _module_file(package_root: Path, module: str) -> Path | None:
    base = package_root.parent.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(file: Path, module: str, top: str) -> set[str]:
    """Every `top.*` module a file imports (at any level, resolving relative imports)."""
    is_package = file.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_bytes(), filename=str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    modules: set[str] = set()
    for name in found:
        parts = name.split(".")
        if parts[0] == top:
            modules.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return modules


def engine_code_files(
    package_root: Path | None = None, entry_modules: Iterable[str] = ENGINE_ENTRY_MODULES
) -> tuple[Path, ...]:
    """The source files the engine process runs, sorted by path (see the module docstring)."""
    root = package_root or Path(cocoon_desktop.__file__).parent
    top = root.name
    pending = [m for m in entry_modules if _module_file(root, m) is not None]
    seen: dict[str, Path] = {}
    while pending:
        module = pending.pop()
        file = _module_file(root, module)
        if module in seen or file is None:
            continue
        seen[module] = file
        pending.extend(_imported_modules(file, module, top) - seen.keys())
    if not seen:
        raise MeasurementError(f"No engine code found under {root}: reinstall the app.")
    return tuple(sorted(set(seen.values()), key=lambda p: p.relative_to(root.parent).as_posix()))


def llama_library_files(lib_dir: Path | None = None) -> tuple[Path, ...]:
    """llama.cpp's shared libraries (symlinks resolved, each file once), sorted by name."""
    folder = lib_dir or llama_library_dir()
    if folder is None or not folder.is_dir():
        raise MeasurementError(
            "llama.cpp's libraries were not found (llama_cpp/lib). Run scripts/run-app.sh."
        )
    files = {
        p.resolve() for p in folder.iterdir()
        if p.is_file() and any(s in p.name for s in _LIBRARY_SUFFIXES)
    }
    return tuple(sorted(files, key=lambda p: p.name))


def settings_for_measurement(settings: EngineSettings) -> dict[str, Any]:
    """The settings as JSON values, without machine-local paths (they differ per machine);
    whether a draft model drafts is kept (it changes speed, never the answers' distribution)."""
    values = {
        f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
        if not f.name.endswith("_path")
    }
    values["draft_model"] = settings.draft_model_path is not None
    return values


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class RuntimeMeasurement:
    """The measurement and the manifest it is the SHA-256 of (so anyone can recompute it)."""

    sha256_hex: str
    manifest_json: str

    def component_digests(self) -> dict[str, str]:
        """SHA-256 of each part of the manifest: engine_code, llama_cpp, model, settings (and
        isolation, when measured)."""
        manifest = json.loads(self.manifest_json)
        parts = {
            "engine_code": manifest["engine_code"], "llama_cpp": manifest["llama_cpp"],
            "model": manifest["model_sha256"], "settings": manifest["settings"],
        }
        if "isolation" in manifest:
            parts["isolation"] = manifest["isolation"]
        return {k: hashlib.sha256(canonical_json(v).encode()).hexdigest() for k, v in parts.items()}

    def changed_components(self, other: RuntimeMeasurement) -> tuple[str, ...]:
        """Which parts differ from `other` (empty when the measurements are equal)."""
        mine, theirs = self.component_digests(), other.component_digests()
        return tuple(k for k in mine if mine[k] != theirs.get(k))


def measure_runtime(
    settings: EngineSettings,
    model_sha256_hex: str,
    *,
    hash_cache: FileHashCache | None = None,
    package_root: Path | None = None,
    llama_lib_dir: Path | None = None,
    sandbox: SandboxStatus | None = None,
) -> RuntimeMeasurement:
    """Measure the runtime. Library digests are cached when `hash_cache` is given; with the
    engine's `sandbox`, its real isolation level is part of what is measured."""
    root = package_root or Path(cocoon_desktop.__file__).parent

    def digest(path: Path) -> str:
        try:
            return hash_cache.sha256(path) if hash_cache else sha256_file(path)
        except OSError as exc:
            raise MeasurementError(f"Cannot read {path} to measure it: {exc.strerror}.") from exc

    code = [[f.relative_to(root.parent).as_posix(), digest(f)] for f in engine_code_files(root)]
    libraries = [[f.name, digest(f)] for f in llama_library_files(llama_lib_dir)]
    manifest = {
        "format": MANIFEST_FORMAT,
        "engine_code": code,
        "llama_cpp": {"version": _llama_cpp_version(), "libraries": libraries},
        "model_sha256": model_sha256_hex,
        "settings": settings_for_measurement(settings),
    }
    if sandbox is not None:
        manifest["isolation"] = sandbox.level
    text = canonical_json(manifest)
    return RuntimeMeasurement(hashlib.sha256(text.encode()).hexdigest(), text)


def _llama_cpp_version() -> str | None:
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return None


_LABELS = {"tdx": "Intel TDX", "fake_tdx": "Fake TDX (software)", "none": "None"}
_GOOD_FOR = {
    "tdx": "Cocoon mainnet, if the image hash is listed on-chain (the root contract's "
    "worker hashes).",
    "fake_tdx": "Test networks and private deployments only.",
    "none": "Test networks and private deployments only.",
}


@dataclass(frozen=True)
class AttestationStatus:
    """What the UI shows about attestation."""

    provider_kind: str  # "tdx", "fake_tdx" or "none"
    provider_label: str
    measurement_sha256_hex: str
    image_hash_hex: str | None  # None for `none`, or when the quote failed (see problem)
    good_for: str
    mainnet_capable: bool
    better_unavailable_reason: str | None  # why tdx is not in force, when it is not
    problem: str | None  # a quote that failed, in words


def attestation_status(
    provider: QuoteProvider,
    measurement: RuntimeMeasurement,
    availability: tuple[ProviderAvailability, ...],
) -> AttestationStatus:
    """Describe the provider in force (this makes one quote to learn the image hash)."""
    problem = None
    try:
        image_hash = provider.image_hash()
    except QuoteError as exc:
        image_hash, problem = None, str(exc)
    tdx = next((a for a in availability if a.kind == "tdx"), None)
    better = None
    if provider.kind != "tdx":
        better = tdx.reason if tdx and not tdx.available else (
            "Intel TDX is available here but was not chosen." if tdx else None
        )
    return AttestationStatus(
        provider_kind=provider.kind,
        provider_label=_LABELS.get(provider.kind, provider.kind),
        measurement_sha256_hex=measurement.sha256_hex,
        image_hash_hex=image_hash.hex() if image_hash is not None else None,
        good_for=_GOOD_FOR.get(provider.kind, _GOOD_FOR["none"]),
        mainnet_capable=provider.kind == "tdx" and problem is None,
        better_unavailable_reason=better,
        problem=problem,
    )


def engine_attestation(settings: EngineSettings, quote_kind: str) -> AttestationStatus:
    """What attests an engine that runs with `settings` under a worker making `quote_kind`
    quotes (blocking: hashes the engine's code and llama.cpp's libraries, makes one quote).
    The model's SHA-256 is the hash in its Cocoon name, which the app gives every local model.
    Raises QuoteError (that kind cannot be made here), MeasurementError or ValueError (the
    model's name carries no hash), each with a sentence that says why."""
    availability = detect_quote_providers()
    provider = select_quote_provider(quote_kind, availability)
    model_sha256_hex = CocoonModelName.parse(settings.model_name).hash
    return attestation_status(provider, measure_runtime(settings, model_sha256_hex),
                              availability)
