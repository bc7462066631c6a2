"""What a new user reads in the first hour (issue 15), decided without Qt: the serving panel
never keeps a stopped worker's figures, the tray says "Not serving" (not "paused by you") to a
fresh start, one word for one action, the close notice tells the truth, the current rate leads,
and model names read like names."""

from __future__ import annotations

from datetime import UTC, datetime

from cocoon_desktop.earnings.figures import EarningsSummary, PeriodFigures
from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineState, SandboxStatus
from cocoon_desktop.network.worker.types import ProxyStatus, WorkerStatus
from cocoon_desktop.node.status import NodeState, NodeStatus
from cocoon_desktop.ui_logic.format import model_display_name
from cocoon_desktop.ui_logic.glance import GlanceFacts, close_notice, glance_lines, status_line
from cocoon_desktop.ui_logic.rate import EarningRate, rate_detail, tray_rate_line
from cocoon_desktop.ui_logic.status_text import (
    START_SERVING,
    STOP_SERVING,
    panel_rows,
    serve_action,
    throughput_text,
)

NAME = "HuggingFaceTB/SmolLM2-135M-Instruct.Q4_1@local:b179c9" + "0" * 58
SANDBOX = SandboxStatus("bwrap", True, "no network of its own")


def stats(tokens_per_s: float = 53.0) -> EngineStats:
    return EngineStats("ready", "", NAME, 1, 10.0, 3, 0, 0, 64, 1024, False, 0, 0,
                       tokens_per_s, 1, 0, 0, 0, 10, 0, 48, SANDBOX)


def worker(active: int = 0) -> WorkerStatus:
    proxy = ProxyStatus("127.0.0.1:1", "ready", "", None, None, None, 0, 0, None)
    return WorkerStatus(True, False, 1000, active, 4, (proxy,))


def test_after_stop_serving_the_panel_says_so_and_keeps_no_worker_figures() -> None:
    ready = EngineStatus(EngineState.READY, "The engine is ready.", stats=stats(),
                         sandbox=SANDBOX)
    serving = NodeStatus(state=NodeState.SERVING, headline="Serving.", wanted=True,
                         engine=ready, worker=worker(1))
    assert panel_rows(serving)["Network jobs"] == "1 of 4 running · 1 proxy connected"
    stopped = NodeStatus(state=NodeState.STOPPED, headline="Not serving.", engine=ready)
    rows = panel_rows(stopped)
    assert rows["Network jobs"] == "Not serving" and "proxy" not in " ".join(rows.values())
    assert rows["Model"] == "SmolLM2-135M-Instruct · Q4_1"
    engine_stopped = NodeStatus(state=NodeState.STOPPED, headline="Not serving.",
                                engine=EngineStatus(EngineState.STOPPED, "The engine is "
                                                    "stopped.", stats=stats()))
    rows = panel_rows(engine_stopped)
    assert rows["Throughput"] == rows["Engine load"] == "Engine stopped"
    assert rows["Model"] == "—"  # the last probe of a stopped engine is not shown as now
    loading = NodeStatus(state=NodeState.STARTING, headline="Starting.", wanted=True,
                         engine=EngineStatus(EngineState.LOADING, "Loading smollm."))
    rows = panel_rows(loading)
    assert rows["Throughput"] == "Loading the model…" and rows["Network jobs"] == "Connecting…"


def test_throughput_is_the_speed_while_generating_or_idle() -> None:
    assert throughput_text(stats(53.04)) == "53.0 tokens/s while generating (last 10 s)"
    assert throughput_text(stats(0.0)).startswith("Idle")


def test_a_fresh_start_is_not_serving_not_paused_by_anyone() -> None:
    assert status_line(GlanceFacts()) == "Not serving"
    assert status_line(GlanceFacts(wanted=True, pause_reason="GPU at 86 °C")) == (
        "Paused: GPU at 86 °C")


def test_one_word_for_one_action() -> None:
    assert (serve_action(False), serve_action(True)) == (START_SERVING, STOP_SERVING)
    assert "Pause" not in START_SERVING + STOP_SERVING


def test_the_close_notice_tells_the_truth_about_serving() -> None:
    title, message = close_notice(serving=False)
    assert "keeps serving" not in (title + message).lower()
    assert "not serving" in message
    title, message = close_notice(serving=True)
    assert "keeps serving" in title.lower()


def figures(earned: int, requests: int = 3, cost: int = 0, net: int | None = None
            ) -> PeriodFigures:
    return PeriodFigures(requests, 90, 30, earned, 5.0 if cost else 0.0, cost, 900, net)


def summary(hour: PeriodFigures) -> EarningsSummary:
    day = figures(50_000)
    return EarningsSummary(datetime(2026, 1, 1, tzinfo=UTC), day, day, day, day, 0, 0, 50_000,
                           hour, hour.requests, 0.1, 40.0, None, (), ())


def test_the_rate_leads_with_the_last_hour_and_its_day() -> None:
    rate = EarningRate.of(summary(figures(12_300)))
    assert rate.per_hour_nanoton == 12_300 and rate.per_day_nanoton == 295_200
    assert rate.net_per_hour_nanoton is None  # no TON price: no net, never a guess
    assert tray_rate_line(rate) == "Earning now: 0.0000123 TON/hour (0.0002952 TON/day)"
    assert rate_detail(rate) == "0.0002952 TON/day at this pace · 3 jobs in the last hour"
    net = EarningRate.of(summary(figures(12_300, cost=2_000_000, net=10_000)))
    assert "0.00001 TON/hour after electricity" in rate_detail(net)
    assert rate_detail(EarningRate.of(summary(figures(0, requests=0)))) == (
        "nothing served in the last hour")
    lines = glance_lines(GlanceFacts(rate=rate, earned_today_nanoton=50_000))
    assert lines.index(tray_rate_line(rate)) < lines.index("Earned today: 0.00005 TON")


def test_model_names_people_read() -> None:
    assert model_display_name(NAME) == "SmolLM2-135M-Instruct · Q4_1"
    assert model_display_name("Qwen/Qwen3-8B@b968826d:7e9d") == "Qwen3-8B"
    assert model_display_name("my-model.gguf") == "my-model.gguf"
