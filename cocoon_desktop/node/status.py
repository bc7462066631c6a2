"""The node's one snapshot, `NodeStatus`: what the GUI adapter and the headless logger show.

`describe()` is the one rule that turns the node's facts into a state, a headline and what to
do, so every front end presents the same truth. A failure is always a state with a sentence
saying what to do, never an exception escaping to the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from cocoon_desktop.earnings.figures import EarningsSummary
from cocoon_desktop.engine.host.supervisor import EngineStatus
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.hardware.snapshots import GpuSample
from cocoon_desktop.settings import NetworkKind

if TYPE_CHECKING:  # the worker's types (its TL schema) load when serving starts
    from cocoon_desktop.network.worker.types import WorkerStatus


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


@dataclass(frozen=True, kw_only=True)
class VmView:
    """The confidential VM the node serves from (`serve_from = vm`), as front ends show it."""

    state: str  # preparing, starting, booting, loading, ready, stopping, stopped, failed
    detail: str  # one sentence: the boot's step, or why it failed and what to do
    mode: str = ""  # tdx, kvm or tcg once chosen
    mode_label: str = ""  # e.g. "KVM virtual machine: isolated, not attested (test networks only)"
    progress_fraction: float | None = None  # while it starts: boot steps, then the model load
    boot_s: float | None = None  # from QEMU's start to the guest engine ready
    image_sha256: str = ""  # what a network would list (kernel, initrd, command line)
    measurement: str = ""  # the guest's measured config, in one line
    gpu: str = ""  # the PCI address of the card passed to it; empty: the VM's CPUs only
    worker_inside: bool = False  # the worker runs in it (serving), not only the engine


ENGINE_STOPPED = EngineStatus(EngineState.STOPPED, "The engine is stopped.")


@dataclass(frozen=True, kw_only=True)
class NodeStatus:
    """Everything a front end shows of one node at one moment (built with keywords only)."""

    state: NodeState
    headline: str  # one line for a dashboard, a tray tooltip or a log
    what_to_do: str = ""  # empty when nothing is needed
    instance: int = 0
    network: NetworkKind = NetworkKind.DEVNET
    where: str = ""  # e.g. "the local devnet (proxy 127.0.0.1:40123)"
    wanted: bool = False  # the Serve toggle
    accepting: bool = False  # taking network jobs right now
    paused_reasons: tuple[str, ...] = ()
    # The engine's own status as the node saw it when it built this one: a front end shows the
    # engine from here (state, model load, throughput, isolation), so node and engine agree.
    engine: EngineStatus = ENGINE_STOPPED
    worker: WorkerStatus | None = None
    protection: ProtectionView = field(default_factory=ProtectionView)
    gpus: tuple[GpuSample, ...] = ()
    earnings: EarningsSummary | None = None
    problems: tuple[str, ...] = ()  # things that work badly but do not stop serving
    stats_url: str = ""  # where /jsonstats and /metrics answer (token required)
    retry_in_s: float | None = None
    updated_at_unix: float = field(default_factory=time.time)
    # The network whose ledger `earnings` sums (one ledger per network); None with no figures.
    # It can differ from `network` for a moment after the user picks another network.
    earnings_network: NetworkKind | None = None
    # Why the engine serves this many requests at once (memory, context, settings).
    engine_capacity_note: str = ""
    # The confidential VM the engine (and while serving the worker) runs in; None: the sandbox.
    vm: VmView | None = None

    @property
    def needs_user(self) -> bool:
        return self.state in NEEDS_USER

    @property
    def engine_state(self) -> EngineState:
        return self.engine.state

    @property
    def engine_detail(self) -> str:
        return self.engine.detail

    @property
    def engine_warnings(self) -> tuple[str, ...]:
        return self.engine.warnings

    @property
    def engine_load_fraction(self) -> float | None:
        """While the engine loads its model: the share of the weights in memory (0.0 to 1.0);
        None when not loading or before the weights start (see EngineStatus.load_fraction)."""
        return self.engine.load_fraction


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
