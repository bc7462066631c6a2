"""The node's gauges in Prometheus' text format, and its status as JSON."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

from cocoon_desktop.earnings.figures import EarningsSummary, PeriodFigures
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.hardware.snapshots import GpuSample
from cocoon_desktop.node.metrics import node_metrics, status_json
from cocoon_desktop.node.status import NodeState, NodeStatus, ProtectionView
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
                              figures(900), figures(1000), 100, 50, 850, 3, 1.5, 20.0, None,
                              (), ())
    return NodeStatus(NodeState.PAUSED, 'Paused: "hot" card', instance=2,
                      network=NetworkKind.TESTNET, paused_reasons=("hot",),
                      engine_state=EngineState.READY, protection=ProtectionView(("hot",)),
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
                          shared_prefix_tokens_total=120)
    text = node_metrics(replace(status(), engine_stats=engine))
    lines = set(text.splitlines())
    assert 'cocoon_node_engine_draft_tokens_total{node_instance="2"} 400' in lines
    assert 'cocoon_node_engine_draft_tokens_accepted_total{node_instance="2"} 300' in lines
    assert 'cocoon_node_engine_draft_acceptance_ratio{node_instance="2"} 0.75' in lines
    assert 'cocoon_node_engine_shared_prefix_tokens_total{node_instance="2"} 120' in lines
    assert ('cocoon_node_engine_speculation_info{node_instance="2",speculation="prompt lookup"} 1'
            in lines)
    assert "# TYPE cocoon_node_engine_draft_tokens_total counter" in lines
    assert json.loads(json.dumps(status_json(replace(status(), engine_stats=engine))))[
        "engine_stats"]["draft_tokens_accepted_total"] == 300


def test_the_status_as_json() -> None:
    data = json.loads(json.dumps(status_json(status())))
    assert data["state"] == "paused" and data["network"] == "testnet"
    assert data["gpus"][0]["temperature_c"] == 84
    assert data["earnings"]["as_of"].startswith("2026-01-01")
    assert data["protection"]["paused_reasons"] == ["hot"]
