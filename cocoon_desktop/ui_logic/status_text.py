"""Status lines that say each thing once.

The engine's details are full sentences ("The engine is ready.", "Loading smollm.", "The engine
crashed: …"), so a line never puts "Engine ready:" in front of them; and the serving panel, which
shows the engine's line right under the node's headline, does not repeat the engine's sentence
in the headline.
"""

from __future__ import annotations

from cocoon_desktop.engine.attestation.measurement import AttestationStatus
from cocoon_desktop.engine.stats import EngineStats
from cocoon_desktop.engine.types import EngineState
from cocoon_desktop.node.status import NodeState, NodeStatus, VmView
from cocoon_desktop.ui_logic.format import model_display_name

WAITING_FOR_ENGINE = "Starting: waiting for the engine."


def engine_line(state: EngineState, detail: str) -> str:
    """The engine's state in one sentence: its detail, or "Engine <state>." without one."""
    return detail.strip() or f"Engine {state.value}."


def panel_headline(status: NodeStatus) -> str:
    """The node's headline where the engine's own line is shown beside it."""
    detail = status.engine_detail.strip()
    if (status.state is NodeState.STARTING and status.engine_state is not EngineState.READY
            and detail and status.headline.endswith(detail)):
        return WAITING_FOR_ENGINE
    return status.headline


def attestation_line(status: AttestationStatus) -> tuple[str, str, str]:
    """What attests the running engine: (line, level, tooltip). Only a TDX quote that worked
    is "good"; software attestation says, in the line itself, that it is for test networks."""
    line = f"{status.provider_label}: {status.good_for}"
    if status.problem:
        line += f" The quote failed: {status.problem}"
    details = [f"Engine measurement (SHA-256 of the code, llama.cpp, the model and the "
               f"settings): {status.measurement_sha256_hex}"]
    if status.image_hash_hex:
        details.append(f"Image hash peers see: {status.image_hash_hex}")
    if status.better_unavailable_reason:
        details.append(f"Why not Intel TDX: {status.better_unavailable_reason}")
    level = "good" if status.mainnet_capable else "bad" if status.problem else "warn"
    return line, level, "\n".join(details)
# One word for one action, everywhere (dashboard button, tray menu): "serve", never "pause".
# "Paused" is kept for what GPU protection does by itself.
START_SERVING = "Start serving"
STOP_SERVING = "Stop serving"


def serve_action(wanted: bool) -> str:
    return STOP_SERVING if wanted else START_SERVING


def throughput_text(stats: EngineStats | None) -> str:
    """The engine's speed as it generates (idle time left out), or that it is idle."""
    if stats is None:
        return "—"
    if stats.tokens_per_second_recent <= 0:
        return "Idle: nothing generated in the last 10 s"
    return f"{stats.tokens_per_second_recent:.1f} tokens/s while generating (last 10 s)"


def throughput_tooltip(stats: EngineStats | None) -> str:
    """What the engine saved and where its time went since it started (the Throughput row's
    tooltip): prompt tokens not decoded again, requests moved so that a step stays one pass,
    and the model's share of the engine's working time (the rest is the engine's own work)."""
    if stats is None:
        return ""
    lines = [f"Prompt tokens reused from the cache: {stats.cached_tokens_total:,} of "
             f"{stats.prompt_tokens_total:,}"]
    if stats.shared_prefix_tokens_total:
        lines.append(f"Of those, copied from another request's prompt: "
                     f"{stats.shared_prefix_tokens_total:,}")
    if stats.sequences_moved_total:
        lines.append(f"Requests moved so that each step stays one pass: "
                     f"{stats.sequences_moved_total:,}")
    if stats.step_seconds_total > 0:
        share = min(1.0, stats.decode_seconds_total / stats.step_seconds_total)
        lines.append(f"Working time in the model itself: {share:.1%} (the rest: drafting, "
                     "sampling, sending text)")
    return "\n".join(lines)


ENGINE_IDLE = {EngineState.LOADING: "Loading the model…", EngineState.STOPPING: "Stopping…"}


def live_stats(status: NodeStatus) -> EngineStats | None:
    """The engine's figures while it loads or runs; None once it stops (its last ones are
    stale)."""
    engine = status.engine
    return engine.stats if engine.state in (EngineState.LOADING, EngineState.READY) else None


def panel_rows(status: NodeStatus) -> dict[str, str]:
    """The serving panel's rows as of one status: each row says what is true now, so nothing
    of a worker or an engine that stopped stays on screen ("0 of 4 running · 1 proxy
    connected" after Stop serving was the bug)."""
    engine = status.engine
    stats = live_stats(status)
    idle = ENGINE_IDLE.get(engine.state, "Engine stopped")
    rows = {"Model": "—", "GPU offload": "—", "Throughput": idle, "Speculation": "—",
            "Engine load": idle, "Network jobs": "Not serving",
            "Capacity": status.engine_capacity_note or "—",
            "Isolation": engine.sandbox.detail if engine.sandbox is not None else "—"}
    if stats is not None:
        rows["Model"] = model_display_name(stats.model_name)
        rows["GPU offload"] = (f"{stats.gpu_layers_offloaded} layers on the GPU"
                               if stats.supports_gpu_offload
                               else "CPU only (this llama.cpp build cannot offload)")
        rows["Throughput"] = throughput_text(stats)
        rows["Speculation"] = speculation_line(stats)
        rows["Engine load"] = (f"{stats.active_requests} running · {stats.queued_requests} "
                               f"queued (of {stats.capacity} at once)")
    w = status.worker
    if w is not None:
        proxies = f"{w.connected_proxies} {'proxy' if w.connected_proxies == 1 else 'proxies'}"
        rows["Network jobs"] = (f"{w.active_requests} of {w.max_active_requests} running · "
                                f"{proxies} connected")
    elif status.state is NodeState.STARTING:
        rows["Network jobs"] = "Connecting…"
    return rows


def vm_attestation_line(vm: VmView) -> tuple[str, str, str]:
    """What attests the engine in the confidential VM: (line, level, tooltip). Only TDX is
    "good"; KVM and TCG say, in the line itself, what they are good for."""
    if vm.mode == "tdx":
        line, level = "Intel TDX confidential VM: quotes signed by the CPU.", "good"
    elif vm.mode == "kvm":
        line, level = ("VM isolation without attestation (KVM): test networks only.", "warn")
    elif vm.mode == "tcg":
        line, level = ("Emulated VM (TCG), not attested: slow; for tests and demos only.",
                       "warn")
    else:
        return "Measured once the VM runs.", "", ""
    details = [vm.mode_label, f"Image hash: {vm.image_sha256}"]
    if vm.measurement:
        details.append(f"Measured configuration: {vm.measurement}")
    return line, level, "\n".join(details)


def speculation_line(stats: EngineStats) -> str:
    """The engine panel's Speculation row: how drafts are made and how many the model kept."""
    if stats.speculation == "off":
        return "Off"
    acceptance = stats.draft_acceptance
    if acceptance is None:
        return f"{stats.speculation.capitalize()} · no drafts yet"
    return (f"{stats.speculation.capitalize()} · {acceptance:.0%} of "
            f"{stats.draft_tokens_total:,} drafted tokens accepted")
