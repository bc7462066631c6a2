"""The support bundle: what it holds, and that nothing secret gets in."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pynvml
import pytest

from cocoon_desktop.core.logs import REDACTED, forget_secret, register_secret
from cocoon_desktop.doctor.bundle import redact_for_support, write_support_bundle
from cocoon_desktop.doctor.probes import KeyringFacts
from cocoon_desktop.doctor.report import DoctorInputs, run_doctor
from tests.helpers.fake_nvml import FakeNvml

ADDRESS = "UQAuz15H1ZHrZ_psVrAra7HealMIVeFq0wguqlmFno1f3B-m"  # upstream's example, 48 chars
RAW_ADDRESS = "0:" + "ab" * 32
NODE_KEY_B64 = "q" * 43 + "="
MNEMONIC = " ".join(["abandon", "ability", "able", "about", "above", "absent",
                     "absorb", "abstract", "absurd", "abuse", "access", "accident"] * 2)


def test_redaction_masks_addresses_keys_and_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/alice")
    text = (f"payout to {ADDRESS} from {RAW_ADDRESS} key {NODE_KEY_B64} hash "
            f"{'c0ffee' * 11} words: {MNEMONIC} log at /home/alice/.local/x")
    redacted = redact_for_support(text)
    assert ADDRESS not in redacted and "UQAuz1…3B-m" in redacted
    assert RAW_ADDRESS not in redacted and "0:ababab…" in redacted
    assert NODE_KEY_B64 not in redacted and "c0ffeec0…" in redacted
    assert "abandon ability" not in redacted and REDACTED in redacted
    assert "/home/alice" not in redacted and "~/.local/x" in redacted


def test_bundle_contents_and_permissions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeNvml(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND).install(monkeypatch)
    report = run_doctor(DoctorInputs(
        disk_path=tmp_path, root=tmp_path, llama_offload=lambda: (False, "CPU build."),
        keyring=lambda: KeyringFacts(True, "SecretService", "ok")))
    logs = tmp_path / "logs"
    logs.mkdir()
    secret = "token-7f3a9c1e5b"
    register_secret(secret)
    try:
        (logs / "app.log").write_text(f"started\nbearer {secret}\nowner {ADDRESS}\n")
        (logs / "app.log.1").write_text("x" * 3_000_000 + "\nlast line\n")
        saved = write_support_bundle(report, tmp_path / "out" / "support", logs)
    finally:
        forget_secret(secret)
    assert saved == tmp_path / "out" / "support.zip"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with zipfile.ZipFile(saved) as bundle:
        names = set(bundle.namelist())
        assert {"report.json", "report.txt", "environment.json", "logs/app.log",
                "logs/app.log.1"} <= names
        assert json.loads(bundle.read("report.json"))["verdict"]["case"] == "no-gpu"
        assert "python" in json.loads(bundle.read("environment.json"))
        app_log = bundle.read("logs/app.log").decode()
        assert secret not in app_log and ADDRESS not in app_log and "started" in app_log
        rotated = bundle.read("logs/app.log.1").decode()
        assert len(rotated) < 2_100_000 and rotated.endswith("last line\n")
    assert not list((tmp_path / "out").glob("*.partial"))
