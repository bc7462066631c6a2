"""The rig keys, their docs and the shipped examples stay in step; the systemd units are valid."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cocoon_desktop.headless.rig_file import load_rig_file
from cocoon_desktop.headless.rig_schema import KEYS, example_rig_text

ROOT = Path(__file__).resolve().parents[3]
SYSTEMD = ROOT / "installers" / "systemd"


def test_every_key_is_documented_with_its_meaning() -> None:
    doc = (ROOT / "docs" / "areas" / "headless.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in doc.splitlines()
            if line.startswith("| `")}
    for key in KEYS:
        assert key.dotted in rows, f"{key.dotted} is missing from docs/areas/headless.md"
        assert key.doc in rows[key.dotted], f"{key.dotted}: the doc row differs from the schema"


def test_the_shipped_example_is_the_generated_one_and_loads(tmp_path: Path) -> None:
    example = SYSTEMD / "rig.example.toml"
    assert example.read_text() == example_rig_text()
    assert load_rig_file(example).network.value == "devnet"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_units_pass_systemd_analyze(tmp_path: Path) -> None:
    """`systemd-analyze verify` on the units, the node's binary replaced by one that exists."""
    for unit in ("cocoon-desktop@.service", "cocoon-keyring.service"):
        text = (SYSTEMD / unit).read_text().replace("/usr/bin/cocoon-desktop", "/bin/true")
        (tmp_path / unit.replace("@.", "@0.")).write_text(text)
    (tmp_path / "run").mkdir()
    result = subprocess.run(
        ["systemd-analyze", "verify", "--user", "cocoon-desktop@0.service",
         "cocoon-keyring.service"], cwd=tmp_path, capture_output=True, text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run")}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
