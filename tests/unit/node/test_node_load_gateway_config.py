"""The model load in the headless log (a line at most every few seconds), and the upstream
gateway's rig key and `serve` flag: off by default, checked, shown by `--check`."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.headless.journal import StatusLogger, heartbeat
from cocoon_desktop.headless.rig_file import RigFileError, load_rig_file
from cocoon_desktop.headless.rig_schema import BY_DOTTED, example_rig_text
from cocoon_desktop.node.config import NodeConfig
from cocoon_desktop.node.metrics import node_metrics, status_json
from cocoon_desktop.node.status import NodeState, NodeStatus, VmView
from tests.unit.node.test_node_headless_cli import serve


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def loading(fraction: float | None) -> NodeStatus:
    return NodeStatus(state=NodeState.STARTING,
                      headline="Waiting for the engine: Loading a-model.",
                      engine=EngineStatus(EngineState.LOADING, "Loading a-model.",
                                          load_fraction=fraction))


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "loading the model" in r.getMessage()]


def test_a_slow_load_logs_a_line_every_five_seconds(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    logger = StatusLogger(logging.getLogger("test.load"), heartbeat_s=3600, clock=clock)
    logger(loading(None))  # the process starts: no fraction yet
    for step in range(121):  # two minutes of loading, an update every second
        logger(loading(step / 120))
        clock.now_s += 1.0
    lines = progress_lines(caplog)
    assert 20 <= len(lines) <= 25  # at most one per 5 s, not one per update
    assert lines[0] == "loading the model: 4 % of the weights in memory"
    assert lines[-1].endswith("% of the weights in memory")
    state_lines = [r for r in caplog.records if r.getMessage().startswith("starting:")]
    assert len(state_lines) == 1  # the headline did not change with every per cent


def test_a_vm_that_boots_slowly_says_it_starts_the_vm(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    """Serving from the VM the fraction is the VM's whole start, not the weights in memory."""
    caplog.set_level(logging.INFO)
    clock = Clock()
    logger = StatusLogger(logging.getLogger("test.load"), heartbeat_s=3600, clock=clock)
    vm = VmView(state="booting", detail="The root filesystem matches its hash.", mode="tcg")
    for step in range(12):
        logger(replace(loading(step / 24), vm=vm))
        clock.now_s += 1.0
    lines = [r.getMessage() for r in caplog.records if "%" in r.getMessage()]
    assert lines == ["starting the VM: 21 % done", "starting the VM: 42 % done"]
    assert "VM tcg booting" in heartbeat(replace(loading(0.5), vm=vm))


def test_a_quick_load_logs_no_progress_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    logger = StatusLogger(logging.getLogger("test.load"), clock=clock)
    for fraction in (0.0, 0.3, 0.7, 1.0):
        logger(loading(fraction))
        clock.now_s += 0.1
    logger(NodeStatus(state=NodeState.SERVING, headline="Serving."))
    clock.now_s += 60
    logger(loading(0.5))  # a later load starts its own count
    assert progress_lines(caplog) == []


def test_prometheus_and_json_show_the_load_only_while_loading() -> None:
    text = node_metrics(loading(0.25))
    assert 'cocoon_node_engine_load_ratio{node_instance="0"} 0.25' in text
    assert status_json(loading(0.25))["engine_load_fraction"] == 0.25
    assert "cocoon_node_engine_load_ratio" not in node_metrics(loading(None))
    assert "cocoon_node_engine_load_ratio" not in node_metrics(
        NodeStatus(state=NodeState.SERVING, headline="Serving."))


def test_the_gateway_is_off_by_default(tmp_path: Path) -> None:
    assert NodeConfig().upstream_gateway_port == 0
    assert BY_DOTTED["engine.upstream_gateway_port"].default == 0
    assert "upstream_gateway_port = 0" in example_rig_text()
    rig = tmp_path / "rig.toml"
    rig.write_text("")
    assert load_rig_file(rig).upstream_gateway_port == 0


def test_the_rig_key_is_read_and_checked(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text("[engine]\nupstream_gateway_port = 8000\n")
    assert load_rig_file(rig).upstream_gateway_port == 8000
    for value, problem in (("70000", "must be between 0 and 65535"),
                           ('"8000"', "must be a whole number"),
                           ("12000", "the stats port of this instance")):
        rig.write_text(f"[engine]\nupstream_gateway_port = {value}\n")
        with pytest.raises(RigFileError, match=problem):
            load_rig_file(rig)
    rig.write_text("[engine]\nupstream_gateway = 8000\n")
    with pytest.raises(RigFileError, match=r"did you mean `engine\.upstream_gateway_port`"):
        load_rig_file(rig)


def test_the_serve_flag_overrides_the_rig_and_check_warns(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text("[engine]\nupstream_gateway_port = 8000\n")
    shown = serve("serve", "--config", str(rig), "--check", home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "upstream gateway: 127.0.0.1:8000, WITHOUT a token" in shown.stdout
    off = serve("serve", "--config", str(rig), "--upstream-gateway", "0", "--check",
                home=tmp_path)
    assert "upstream gateway: off" in off.stdout
    other = serve("serve", "--config", str(rig), "--upstream-gateway", "8100", "--check",
                  home=tmp_path)
    assert "upstream gateway: 127.0.0.1:8100" in other.stdout
    bad = serve("serve", "--upstream-gateway", "70000", "--check", home=tmp_path)
    assert bad.returncode == 2 and "--upstream-gateway must be a port" in bad.stderr
