"""The runtime measurement changes with each part it covers, and only then; the attestation
status the dashboard shows, and which quote a worker makes on which network."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from cocoon_desktop.engine.attestation.measurement import (
    MeasurementError,
    RuntimeMeasurement,
    attestation_status,
    engine_attestation,
    engine_code_files,
    llama_library_files,
    measure_runtime,
)
from cocoon_desktop.engine.attestation.providers import (
    FakeTdxProvider,
    NoneProvider,
    TdxConfigfsProvider,
    detect_quote_providers,
    quote_kind_for,
)
from cocoon_desktop.engine.types import EngineSettings
from cocoon_desktop.protocol.tdx_quote import QuoteError
from cocoon_desktop.settings import NetworkKind
from tests.helpers.fake_tdx import FakeTsmEntry, upstream_image_hash

MODEL_SHA = hashlib.sha256(b"model").hexdigest()
SETTINGS = EngineSettings(model_path=Path("/models/a.gguf"), model_name=f"m@local:{MODEL_SHA}")

FAKE_SOURCES = {
    "__init__.py": '__version__ = "1"\n',
    "__main__.py": "from cocoon_desktop.cli import main\n",
    "cli/__init__.py": "import importlib\n",
    "core/__init__.py": "",
    "core/logs.py": "LEVEL = 1\n",
    "ui/__init__.py": "",
    "ui/window.py": "WINDOW = 1\n",
    "engine/__init__.py": "",
    "engine/deep.py": "x = 1\n",
    "engine/process/__init__.py": "",
    "engine/process/server.py": (
        "from cocoon_desktop.core import logs\nfrom . import helper\n"
        "from .inference import run\n"
    ),
    "engine/process/inference.py": "def run():\n    from cocoon_desktop.engine.deep import x\n",
    "engine/process/helper.py": "import os\n",
    "engine/host/__init__.py": "",
    "engine/host/supervisor.py": "from cocoon_desktop.engine.process import server\n",
}


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A small cocoon_desktop tree: server imports helper, inference (lazily, deep) and logs;
    supervisor (app side) and ui are not reachable from the engine's entry modules."""
    root = tmp_path / "src" / "cocoon_desktop"
    for name, text in FAKE_SOURCES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def lib_dir(tmp_path: Path) -> Path:
    lib = tmp_path / "llama_cpp" / "lib"
    lib.mkdir(parents=True)
    (lib / "libllama.so").write_bytes(b"\x7fELF llama")
    (lib / "libggml.so.0").write_bytes(b"\x7fELF ggml")
    (lib / "libggml.so").symlink_to("libggml.so.0")
    (lib / "README.txt").write_text("not a library")
    return lib


def measure(package: Path, lib_dir: Path, **changes: object) -> RuntimeMeasurement:
    settings = dataclasses.replace(SETTINGS, **{k: v for k, v in changes.items() if k != "sha"})
    sha = str(changes.get("sha", MODEL_SHA))
    return measure_runtime(settings, sha, package_root=package, llama_lib_dir=lib_dir)


def test_engine_code_is_what_the_engine_imports(package: Path) -> None:
    names = [f.relative_to(package.parent).as_posix() for f in engine_code_files(package)]
    assert names == sorted(names)
    assert names == [
        "cocoon_desktop/__init__.py", "cocoon_desktop/__main__.py",
        "cocoon_desktop/cli/__init__.py", "cocoon_desktop/core/__init__.py",
        "cocoon_desktop/core/logs.py", "cocoon_desktop/engine/__init__.py",
        "cocoon_desktop/engine/deep.py", "cocoon_desktop/engine/process/__init__.py",
        "cocoon_desktop/engine/process/helper.py", "cocoon_desktop/engine/process/inference.py",
        "cocoon_desktop/engine/process/server.py",
    ]


def test_no_engine_code_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MeasurementError, match="reinstall"):
        engine_code_files(tmp_path / "cocoon_desktop")


def test_libraries_are_listed_once_each(lib_dir: Path) -> None:
    assert [p.name for p in llama_library_files(lib_dir)] == ["libggml.so.0", "libllama.so"]
    with pytest.raises(MeasurementError, match=r"run-app\.sh"):
        llama_library_files(lib_dir / "missing")


def test_the_measurement_is_the_sha256_of_its_manifest(package: Path, lib_dir: Path) -> None:
    m = measure(package, lib_dir)
    assert m.sha256_hex == hashlib.sha256(m.manifest_json.encode()).hexdigest()
    manifest = json.loads(m.manifest_json)
    assert manifest["model_sha256"] == MODEL_SHA
    assert "model_path" not in manifest["settings"]  # machine-local, left out
    assert manifest["settings"]["threads"] == SETTINGS.threads
    assert measure(package, lib_dir) == m  # stable


def test_a_changed_model_file_changes_the_measurement(package: Path, lib_dir: Path) -> None:
    base = measure(package, lib_dir)
    other = measure(package, lib_dir, sha=hashlib.sha256(b"other model").hexdigest())
    assert other.sha256_hex != base.sha256_hex
    assert other.changed_components(base) == ("model",)


def test_changed_settings_change_it_but_a_moved_model_does_not(
    package: Path, lib_dir: Path
) -> None:
    base = measure(package, lib_dir)
    more_threads = measure(package, lib_dir, threads=SETTINGS.threads + 2)
    assert more_threads.changed_components(base) == ("settings",)
    assert measure(package, lib_dir, gpu_layers=-1).changed_components(base) == ("settings",)
    moved = measure(package, lib_dir, model_path=Path("/elsewhere/a.gguf"))
    assert moved.sha256_hex == base.sha256_hex


@pytest.mark.parametrize("module", ["engine/process/helper.py", "engine/deep.py", "core/logs.py"])
def test_changed_engine_code_changes_it(package: Path, lib_dir: Path, module: str) -> None:
    base = measure(package, lib_dir)
    (package / module).write_text((package / module).read_text() + "# patched\n")
    changed = measure(package, lib_dir)
    assert changed.changed_components(base) == ("engine_code",)


@pytest.mark.parametrize("module", ["engine/host/supervisor.py", "ui/window.py"])
def test_app_side_code_does_not_change_it(package: Path, lib_dir: Path, module: str) -> None:
    base = measure(package, lib_dir)
    (package / module).write_text("# edited\n")
    assert measure(package, lib_dir) == base


def test_a_new_engine_module_changes_it(package: Path, lib_dir: Path) -> None:
    base = measure(package, lib_dir)
    (package / "engine/process/extra.py").write_text("Y = 2\n")
    server = package / "engine/process/server.py"
    server.write_text(server.read_text() + "from cocoon_desktop.engine.process import extra\n")
    assert measure(package, lib_dir).changed_components(base) == ("engine_code",)


def test_a_changed_llama_library_changes_it(package: Path, lib_dir: Path) -> None:
    base = measure(package, lib_dir)
    (lib_dir / "libggml.so.0").write_bytes(b"\x7fELF ggml built with CUDA")
    assert measure(package, lib_dir).changed_components(base) == ("llama_cpp",)


def test_fake_tdx_status_is_for_test_networks(package: Path, lib_dir: Path, tmp_path: Path) -> None:
    availability = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")
    status = attestation_status(FakeTdxProvider(), measure(package, lib_dir), availability)
    assert status.provider_kind == "fake_tdx"
    assert status.good_for == "Test networks and private deployments only."
    assert not status.mainnet_capable
    assert status.image_hash_hex == hashlib.sha256(bytes(448)).hexdigest()
    assert "not an Intel TDX confidential VM" in (status.better_unavailable_reason or "")
    assert status.measurement_sha256_hex == measure(package, lib_dir).sha256_hex
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.provider_kind = "tdx"  # type: ignore[misc]


def test_none_status_has_no_image_hash(package: Path, lib_dir: Path, tmp_path: Path) -> None:
    availability = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")
    status = attestation_status(NoneProvider(), measure(package, lib_dir), availability)
    assert status.image_hash_hex is None and status.problem is None
    assert "Test networks" in status.good_for


@pytest.mark.timeout(20)
def test_tdx_status_is_for_mainnet(package: Path, lib_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "tdx_guest").touch()
    fake = FakeTsmEntry(tmp_path / "tsm", "status")
    availability = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")
    provider = TdxConfigfsProvider(tmp_path / "tsm", entry_name="status")
    status = attestation_status(provider, measure(package, lib_dir), availability)
    fake.join()
    assert status.mainnet_capable and status.better_unavailable_reason is None
    assert status.image_hash_hex == upstream_image_hash().hex()
    assert "if the image hash is listed on-chain" in status.good_for


def test_a_failing_tdx_quote_is_a_problem_not_a_crash(
    package: Path, lib_dir: Path, tmp_path: Path
) -> None:
    availability = detect_quote_providers(tmp_path / "tsm", tmp_path / "tdx_guest")
    provider = TdxConfigfsProvider(tmp_path / "tsm")
    status = attestation_status(provider, measure(package, lib_dir), availability)
    assert not status.mainnet_capable and status.image_hash_hex is None
    assert "not a TDX guest" in (status.problem or "")


@pytest.mark.parametrize(("network", "setting", "kind"), [
    (NetworkKind.DEVNET, "auto", "none"),  # the local devnet's proxy asks for no quote
    (NetworkKind.DEVNET, "tdx", "none"),
    (NetworkKind.TESTNET, "auto", "fake_tdx"),
    (NetworkKind.MAINNET, "auto", "tdx"),  # the only kind mainnet admits
    (NetworkKind.TESTNET, "tdx", "tdx"),  # a rig file may ask for another kind
])
def test_the_network_decides_the_quote_unless_told(network: NetworkKind, setting: str,
                                                   kind: str) -> None:
    assert quote_kind_for(network, setting) == kind


def test_an_engine_is_attested_from_its_own_settings() -> None:
    """The running engine's settings, this installation's code and llama.cpp, the model's hash
    from its Cocoon name; a quote kind this machine cannot make is a sentence, not a crash."""
    status = engine_attestation(SETTINGS, "fake_tdx")
    assert status.provider_kind == "fake_tdx" and not status.mainnet_capable
    assert status.measurement_sha256_hex == measure_runtime(SETTINGS, MODEL_SHA).sha256_hex
    with pytest.raises(QuoteError, match="tdx attestation provider is unavailable"):
        engine_attestation(SETTINGS, "tdx")  # not a TDX guest here
    with pytest.raises(ValueError, match="not a full Cocoon model name"):
        engine_attestation(dataclasses.replace(SETTINGS, model_name="m"), "none")
