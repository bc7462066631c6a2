"""The node's gauges in Prometheus' text format, and its status as JSON."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

from cocoon_desktop.earnings.figures import EarningsSummary, PeriodFigures
from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineEndpoint, EngineState
from cocoon_desktop.hardware.snapshots import GpuSample
from cocoon_desktop.node.metrics import node_metrics, status_json, vm_json
from cocoon_desktop.node.status import NodeState, NodeStatus, ProtectionView, VmView
from cocoon_desktop.settings import NetworkKind
from tests.helpers.engine_stats import engine_stats

SAMPLE = re.compile(r'^([a-z_]+)\{node_instance="2"(,[a-z_]+="(?:[^"\\]|\\.)*")*\} (\S+)$')


def gpu(index: int, temperature: int | None) -> GpuSample:
    values = dict.fromkeys(GpuSample.__dataclass_fields__)
    values.update(index=index, uuid=f"GPU-{index}", temperature_c=temperature, power_w=180.5,
                  utilization_gpu_percent=50, memory_used_bytes=1024, memory_total_bytes=4096)
    return GpuSample(**values)  # type: ignore[arg-type]


def figures(earned: int) -> PeriodFigures:
    return PeriodFigures(3, 120, 40, earned, 12.5, 0, 900, None)


def status() -> NodeStatus:
    summary = EarningsSummary(datetime(2026, 1, 1, tzinfo=UTC), figures(400), figures(800),
                              figures(900), figures(1000), 100, 50, 850, figures(400), 3, 1.5, 20.0,
                              None,
                              (), ())
    return NodeStatus(state=NodeState.PAUSED, headline='Paused: "hot" card', instance=2,
                      network=NetworkKind.TESTNET, paused_reasons=("hot",),
                      engine=EngineStatus(EngineState.READY, "The engine is ready."),
                      protection=ProtectionView(("hot",)),
                      gpus=(gpu(0, 84), gpu(1, None)), earnings=summary,
                      problems=("chain unreachable",))


def test_every_line_is_valid_exposition_text() -> None:
    text = node_metrics(status())
    assert text.endswith("\n")
    samples = {}
    for line in text.splitlines():
        if line.startswith("# "):
            assert line.startswith(("# HELP cocoon_node_", "# TYPE cocoon_node_"))
            continue
        match = SAMPLE.match(line)
        assert match, line
        samples[line.rsplit(" ", 1)[0]] = float(match.group(3))
    assert samples['cocoon_node_state{node_instance="2",state="paused"}'] == 1
    assert samples['cocoon_node_state{node_instance="2",state="serving"}'] == 0
    assert samples['cocoon_node_paused_reasons{node_instance="2"}'] == 1
    assert samples['cocoon_node_problems{node_instance="2"}'] == 1
    assert samples['cocoon_node_gpu_temperature_celsius{node_instance="2",gpu="0",uuid="GPU-0"}'
                   ] == 84
    assert not any("gpu=\"1\"" in k and "temperature" in k for k in samples)  # unknown: absent
    assert samples['cocoon_node_gpu_utilization_ratio{node_instance="2",gpu="0",uuid="GPU-0"}'
                   ] == 0.5
    earned = 'cocoon_node_earned_nanoton{node_instance="2",period="all",network="testnet"}'
    assert samples[earned] == 1000
    assert samples['cocoon_node_payout_nanoton{node_instance="2",state="pending",'
                   'network="testnet"}'] == 850
    assert samples['cocoon_node_served_energy_joules{node_instance="2",network="testnet"}'
                   ] == 12.5
    assert samples['cocoon_node_info{node_instance="2",version="' + _version() +
                   '",network="testnet"}'] == 1


def _version() -> str:
    from cocoon_desktop import __version__

    return __version__


def test_the_engines_speculation_figures() -> None:
    assert "draft" not in node_metrics(status())  # no engine status yet: nothing made up
    engine = engine_stats(speculation="prompt lookup", draft_tokens_total=400,
                          draft_tokens_accepted_total=300, cached_tokens_total=900,
                          shared_prefix_tokens_total=120, sequences_moved_total=7,
                          step_seconds_total=12.5, decode_seconds_total=11.25)
    ready = replace(status(), engine=EngineStatus(EngineState.READY, "The engine is ready.",
                                                  stats=engine))
    text = node_metrics(ready)
    lines = set(text.splitlines())
    assert 'cocoon_node_engine_draft_tokens_total{node_instance="2"} 400' in lines
    assert 'cocoon_node_engine_draft_tokens_accepted_total{node_instance="2"} 300' in lines
    assert 'cocoon_node_engine_draft_acceptance_ratio{node_instance="2"} 0.75' in lines
    assert 'cocoon_node_engine_shared_prefix_tokens_total{node_instance="2"} 120' in lines
    assert 'cocoon_node_engine_sequences_moved_total{node_instance="2"} 7' in lines
    assert 'cocoon_node_engine_step_seconds_total{node_instance="2"} 12.5' in lines
    assert 'cocoon_node_engine_decode_seconds_total{node_instance="2"} 11.25' in lines
    assert ('cocoon_node_engine_speculation_info{node_instance="2",speculation="prompt lookup"} 1'
            in lines)
    assert "# TYPE cocoon_node_engine_draft_tokens_total counter" in lines
    assert json.loads(json.dumps(status_json(ready)))[
        "engine_stats"]["draft_tokens_accepted_total"] == 300


def test_the_status_as_json() -> None:
    data = json.loads(json.dumps(status_json(status())))
    assert data["state"] == "paused" and data["network"] == "testnet"
    assert data["gpus"][0]["temperature_c"] == 84
    assert data["earnings"]["as_of"].startswith("2026-01-01")
    assert data["protection"]["paused_reasons"] == ["hot"]


def test_nodestatus_json_never_holds_the_engine_token() -> None:
    """The node's status carries the engine's, endpoint and bearer token included; /nodestatus
    shows the engine as four plain fields, never the endpoint."""
    endpoint = EngineEndpoint("http://127.0.0.1:41000", "engine-secret-token")
    ready = replace(status(), engine=EngineStatus(EngineState.READY, "The engine is ready.",
                                                  endpoint=endpoint, pid=99))
    data = status_json(ready)
    assert "engine-secret-token" not in json.dumps(data) and "41000" not in json.dumps(data)
    assert "engine" not in data
    assert (data["engine_state"], data["engine_detail"], data["engine_warnings"],
            data["engine_load_fraction"]) == ("ready", "The engine is ready.", [], None)


def test_the_vm_in_metrics_jsonstats_and_nodestatus() -> None:
    """Serving from the confidential VM: its state and mode (named for what it is worth) in
    /metrics, /jsonstats' `vm` key and /nodestatus; nothing of it while serving here."""
    assert vm_json(status()) == {} and "cocoon_node_vm" not in node_metrics(status())
    vm = VmView(state="booting", detail="The root filesystem matches its hash.", mode="tcg",
                mode_label="Emulated virtual machine (TCG): emulated, slow; for tests and demos",
                progress_fraction=0.25, image_sha256="ab" * 32)
    text = node_metrics(replace(status(), vm=vm))
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
    assert f'cocoon_node_vm_info{{node_instance="2",mode="tcg",image_hash="{"ab" * 32}"}} 1' \
        in text
    assert 'cocoon_node_vm_state{node_instance="2",state="booting"} 1' in text
    assert 'cocoon_node_vm_state{node_instance="2",state="ready"} 0' in text
    assert 'cocoon_node_vm_attested{node_instance="2"} 0' in text
    assert 'cocoon_node_vm_start_ratio{node_instance="2"} 0.25' in text
    assert "cocoon_node_vm_boot_seconds" not in text  # not booted yet: absent, not 0
    assert json.loads(json.dumps(vm_json(replace(status(), vm=vm))))["vm"]["mode"] == "tcg"
    assert status_json(replace(status(), vm=vm))["vm"]["state"] == "booting"
