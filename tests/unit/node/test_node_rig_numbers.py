"""A number no rig can mean (400 digits, inf, nan) is a named problem, never a traceback: the
systemd unit restarts a node that exits 1 forever, and stops on 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from cocoon_desktop.headless.rig_file import RigFileError, load_rig_file
from cocoon_desktop.headless.rig_schema import KEYS
from tests.unit.node.test_node_headless_cli import serve

NUMERIC = [k for k in KEYS if k.kind in (int, float)]
WILD = ["9" * 400, "-" + "9" * 400, "inf", "-inf", "nan", "1e400"]


@pytest.mark.parametrize("value", WILD)
@pytest.mark.parametrize("key", NUMERIC, ids=lambda k: k.dotted)
def test_every_numeric_key_names_a_wild_value(tmp_path: Path, key, value: str) -> None:
    rig = tmp_path / "rig.toml"
    section = f"[{key.section}]\n" if key.section else ""
    rig.write_text(f"{section}{key.name} = {value}\n")
    with pytest.raises(RigFileError) as caught:
        load_rig_file(rig)
    assert any(key.dotted in p or f"[{key.section}]" in p for p in caught.value.problems)
    assert all(len(p) < 400 for p in caught.value.problems)


@pytest.mark.parametrize("line", ["[worker]\ncoefficient = " + "9" * 400,
                                  "[earnings]\ntariff_per_kwh = inf"])
def test_the_command_exits_2_naming_the_key(tmp_path: Path, line: str) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(line + "\n")
    result = serve("serve", "--config", str(rig), "--check", home=tmp_path)
    assert result.returncode == 2, result.stderr[-800:]
    assert line.split("\n")[1].split(" ")[0] in result.stderr
    assert "Traceback" not in result.stderr


def test_stats_beyond_loopback_need_tls_or_the_risk_accepted(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text('[stats]\nlisten = "0.0.0.0"\n')
    with pytest.raises(RigFileError, match=r"`stats.listen` is 0.0.0.0, reachable from other "
                                           r"machines.*tls_certificate.*accept_plain_http_risk"):
        load_rig_file(rig)
    rig.write_text('[stats]\nlisten = "0.0.0.0"\ntls_certificate = "c.pem"\n')
    (tmp_path / "c.pem").write_text("x")
    with pytest.raises(RigFileError, match="go together"):
        load_rig_file(rig)
    rig.write_text('[stats]\nlisten = "0.0.0.0"\naccept_plain_http_risk = true\n')
    assert load_rig_file(rig).stats_accept_plain_http_risk
    rig.write_text('[stats]\nlisten = "::1"\n')
    assert load_rig_file(rig).stats_listen == "::1"
