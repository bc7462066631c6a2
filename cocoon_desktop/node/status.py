"""The node's one snapshot, `NodeStatus`: what the GUI adapter and the headless logger show.

`describe()` is the one rule that turns the node's facts into a state, a headline and what to
do, so every front end presents the same truth. A failure is always a state with a sentence
saying what to do, never an exception escaping to the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

from cocoon_desktop.earnings.figures import EarningsSummary
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.hardware.snapshots import GpuSample
from cocoon_desktop.network.worker.types import WorkerStatus
from cocoon_desktop.settings import NetworkKind


class NodeState(StrEnum):
    STOPPED = "stopped"  # not serving: the Serve toggle is off
    STARTING = "starting"  # the engine is loading, or the worker is connecting
    SERVING = "serving"  # taking network jobs
    PAUSED = "paused"  # protection or game mode: jobs in flight finish, no new ones
    RETRYING = "retrying"  # a passing failure (the chain is unreachable): tried again soon
    STOPPING = "stopping"  # finishing running jobs before stopping
    FAILED = "failed"  # needs the user: `what_to_do` says what
    GPU_FAULT = "gpu-fault"  # a critical GPU error stopped the engine: needs the user


NEEDS_USER = frozenset({NodeState.FAILED, NodeState.GPU_FAULT})


@dataclass(frozen=True)
class NodeProblem:
    """Something the node cannot do by itself: what happened, and what to do about it."""

    what: str
    what_to_do: str = ""

    def __str__(self) -> str:
        return f"{self.what} {self.what_to_do}".strip()


@dataclass(frozen=True)
class ProtectionView:
    """GPU protection as the node applies it."""

    paused_reasons: tuple[str, ...] = ()
    game_mode: bool = False
    model_unloaded: bool = False
    stopped_because: str | None = None


@dataclass(frozen=True)
class NodeStatus:
    state: NodeState
    headline: str  # one line for a dashboard, a tray tooltip or a log
    what_to_do: str = ""  # empty when nothing is needed
    instance: int = 0
    network: NetworkKind = NetworkKind.DEVNET
    where: str = ""  # e.g. "the local devnet (proxy 127.0.0.1:40123)"
    wanted: bool = False  # the Serve toggle
    accepting: bool = False  # taking network jobs right now
    paused_reasons: tuple[str, ...] = ()
    engine_state: EngineState = EngineState.STOPPED
    engine_detail: str = ""
    engine_warnings: tuple[str, ...] = ()
    worker: WorkerStatus | None = None
    protection: ProtectionView = field(default_factory=ProtectionView)
    gpus: tuple[GpuSample, ...] = ()
    earnings: EarningsSummary | None = None
    problems: tuple[str, ...] = ()  # things that work badly but do not stop serving
    stats_url: str = ""  # where /jsonstats and /metrics answer (token required)
    retry_in_s: float | None = None
    updated_at_unix: float = field(default_factory=time.time)
    # While the engine loads its model: the share of the weights in memory (0.0 to 1.0);
    # None when not loading or before the weights start (see EngineStatus.load_fraction).
    engine_load_fraction: float | None = None
    # The network whose ledger `earnings` sums (one ledger per network); None with no figures.
    # It can differ from `network` for a moment after the user picks another network.
    earnings_network: NetworkKind | None = None
    # Why the engine serves this many requests at once (memory, context, settings).
    engine_capacity_note: str = ""
    # The engine's own figures as its latest status answer gave them; None before the first.
    engine_stats: EngineStats | None = None

    @property
    def needs_user(self) -> bool:
        return self.state in NEEDS_USER


@dataclass(frozen=True)
class NodeFacts:
    """What `describe` decides from (collected by the node)."""

    wanted: bool
    stopping: bool
    engine_state: EngineState
    engine_ready: bool
    engine_detail: str
    worker: WorkerStatus | None
    where: str
    paused_reasons: tuple[str, ...]
    failure: NodeProblem | None = None
    gpu_fault: str | None = None
    retrying: NodeProblem | None = None
    retry_in_s: float | None = None


GPU_FAULT_TO_DO = (
    "Reboot the machine: the GPU's results can no longer be trusted. If it happens again, check "
    "the card's cooling, power cables and seating. Then start serving again (on a rig: restart "
    "the service)."
)


def describe(f: NodeFacts) -> tuple[NodeState, str, str]:
    """State, headline and what to do, first rule that applies wins."""
    if f.gpu_fault is not None:
        return NodeState.GPU_FAULT, f"Stopped: {f.gpu_fault}", GPU_FAULT_TO_DO
    if f.failure is not None:
        return NodeState.FAILED, f.failure.what, f.failure.what_to_do
    if f.stopping:
        running = f.worker.active_requests if f.worker is not None else 0
        return NodeState.STOPPING, f"Finishing {running} running job(s), then stopping.", ""
    if not f.wanted:
        return NodeState.STOPPED, "Not serving.", ""
    if f.retrying is not None:
        when = f" Trying again in {f.retry_in_s:.0f} s." if f.retry_in_s is not None else ""
        return NodeState.RETRYING, f.retrying.what + when, f.retrying.what_to_do
    if f.paused_reasons:
        return NodeState.PAUSED, "Paused: " + " ".join(f.paused_reasons), ""
    return _starting_or_serving(f)


def _starting_or_serving(f: NodeFacts) -> tuple[NodeState, str, str]:
    if not f.engine_ready:
        detail = f.engine_detail or f"The engine is {f.engine_state.value}."
        if "engine" in detail.lower():  # "Starting the engine.": say it once
            return NodeState.STARTING, detail, ""
        return NodeState.STARTING, f"Waiting for the engine: {detail}", ""
    if f.worker is None:
        return NodeState.STARTING, "Connecting to the network…", ""
    if f.worker.connected_proxies == 0:
        waiting = next((p.detail for p in f.worker.proxies if p.detail), "")
        why = f" ({waiting})" if waiting else ""
        return NodeState.STARTING, f"Connecting to a proxy on {f.where}{why}…", ""
    return NodeState.SERVING, (
        f"Serving on {f.where}: {f.worker.connected_proxies} proxy connected, "
        f"{f.worker.active_requests}/{f.worker.max_active_requests} jobs running."), ""
